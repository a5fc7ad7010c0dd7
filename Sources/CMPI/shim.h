// Open MPI (Debian: libopenmpi-dev), found through pkg-config (ompi-c).
#include <mpi.h>
