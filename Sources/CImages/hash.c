#include "CImages.h"

#include <string.h>

// Four 64-bit lanes over 32-byte stripes (multiply, rotate, multiply), then
// the tail and the length folded in and the result avalanched. Not
// cryptographic: it finds damaged bytes in a cache file at memory speed.

static const uint64_t P1 = 0x9E3779B185EBCA87ull, P2 = 0xC2B2AE3D27D4EB4Full, P3 = 0x165667B19E3779F9ull;

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t lane(uint64_t acc, uint64_t v) { return rotl(acc + v * P2, 31) * P1; }
static inline uint64_t load64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

uint64_t bsn_hash64(const void *data, size_t size, uint64_t seed) {
    const uint8_t *p = data;
    uint64_t a = seed + P1 + P2, b = seed + P2, c = seed, d = seed - P1;
    size_t n = size;
    while (n >= 32) {
        a = lane(a, load64(p));
        b = lane(b, load64(p + 8));
        c = lane(c, load64(p + 16));
        d = lane(d, load64(p + 24));
        p += 32;
        n -= 32;
    }
    uint64_t h = rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18);
    h = (h ^ lane(0, a)) * P1 + P3;
    h = (h ^ lane(0, b)) * P1 + P3;
    h = (h ^ lane(0, c)) * P1 + P3;
    h = (h ^ lane(0, d)) * P1 + P3;
    h += (uint64_t)size;
    while (n >= 8) { h = rotl(h ^ lane(0, load64(p)), 27) * P1 + P3; p += 8; n -= 8; }
    while (n > 0) { h = rotl(h ^ (*p * P3), 11) * P1; p++; n--; }
    h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32;
    return h;
}
