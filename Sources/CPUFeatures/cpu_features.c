#include "CPUFeatures.h"

#include <cpuid.h>

static unsigned long long read_xcr0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

/// CPUID leaf 7's EBX (extended features), or 0.
static unsigned int leaf7_ebx(void) {
    unsigned int a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) ? b : 0;
}

int bsn_cpu_has_avx2_fma(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 12)) || !(c & (1u << 27))) return 0;     // FMA, OSXSAVE
    if ((read_xcr0() & 0x6) != 0x6) return 0;                  // SSE and AVX state
    return (leaf7_ebx() & (1u << 5)) != 0;                     // AVX2
}

static int os_saves_zmm(void) { return (read_xcr0() & 0xE0) == 0xE0; }   // opmask, ZMM_Hi256, Hi16_ZMM

int bsn_cpu_has_avx512f(void) {
    return bsn_cpu_has_avx2_fma() && os_saves_zmm() && (leaf7_ebx() & (1u << 16)) != 0;
}

int bsn_cpu_has_avx512(void) {
    const unsigned int need = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31);   // F DQ BW VL
    return bsn_cpu_has_avx2_fma() && os_saves_zmm() && (leaf7_ebx() & need) == need;
}
