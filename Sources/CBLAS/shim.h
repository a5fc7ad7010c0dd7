// OpenBLAS's CBLAS interface; it also declares openblas_get_corename and
// openblas_set_num_threads.
#include <cblas.h>
