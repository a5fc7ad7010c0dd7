#define _GNU_SOURCE
#include "CBLASCore.h"

#include <cblas.h>
#include "CPUFeatures.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

// OpenBLAS cores whose kernels predate AVX2: a fallback on a modern CPU.
static const char *const weak_cores[] = {
    "Unknown", "Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom",
    "Core2", "Penryn", "Dunnington", "Nehalem", "Sandybridge", "Nano", "Athlon",
    "Opteron", "Opteron_SSE3", "Barcelona", "Bobcat", "Bulldozer", "Piledriver",
    "Steamroller",
};

const char *bsn_blas_preferred_core(const char *detected, int has_avx2_fma, int has_avx512) {
    if (!has_avx2_fma) return NULL;
    int weak = detected == NULL;
    for (size_t i = 0; !weak && i < sizeof weak_cores / sizeof weak_cores[0]; i++)
        weak = strcasecmp(detected, weak_cores[i]) == 0;
    if (!weak) return NULL;
    return has_avx512 ? "SkylakeX" : "Haswell";
}

// Runs before main (glibc passes argc/argv/envp to constructors), after
// OpenBLAS has loaded and picked its core. It also makes OpenBLAS
// single-threaded: bsn parallelises over chunks itself and calls sgemm from
// its workers, where OpenBLAS's own threads would only spin against them
// (code that wants a multithreaded sgemm, the ceiling benchmark, asks for it). BSN_BLAS_PRETEND_DETECTED lets a
// test exercise the re-exec path on a CPU that OpenBLAS does recognise.
__attribute__((constructor))
static void bsn_select_blas_core(int argc, char **argv, char **envp) {
    (void)argc; (void)envp;
    openblas_set_num_threads(1);
    if (getenv("OPENBLAS_CORETYPE") != NULL) return;
    const char *pretend = getenv("BSN_BLAS_PRETEND_DETECTED");
    const char *detected = pretend ? pretend : openblas_get_corename();
    const char *core = bsn_blas_preferred_core(detected, bsn_cpu_has_avx2_fma(), bsn_cpu_has_avx512());
    if (core == NULL || argv == NULL) return;
    setenv("OPENBLAS_CORETYPE", core, 0);
    setenv("BSN_BLAS_CORE_SWITCHED_FROM", detected ? detected : "Unknown", 1);
    setenv("BSN_BLAS_CORE_SWITCHED_TO", core, 1);   // the marker holds only while the core is this one
    unsetenv("BSN_BLAS_PRETEND_DETECTED");
    execv("/proc/self/exe", argv);
    // exec failed: carry on with the slow kernels, and say so truthfully.
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv("BSN_BLAS_CORE_SWITCHED_FROM");
    unsetenv("BSN_BLAS_CORE_SWITCHED_TO");
}
