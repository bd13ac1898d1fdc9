// Benchmark input: an init that computes. The init sieves the primes below 3*10^7 (the work a
// generated lookup table would do at start-up) and keeps them as a bit set of odd numbers, so the
// snapshot holds 1.9 MB of table and the 30 MB work array is zero again.
#include <stdint.h>
#include <string.h>

#define LIMIT 30000000u

static uint8_t composite[LIMIT + 1];
static uint8_t odd_prime_bits[LIMIT / 16 + 1]; // bit k: is 2k+1 prime
static uint32_t prime_count;

__attribute__((export_name("wizer-initialize"))) void init(void) {
    for (uint32_t i = 2; (uint64_t)i * i <= LIMIT; i++) {
        if (!composite[i]) {
            for (uint32_t j = i * i; j <= LIMIT; j += i) composite[j] = 1;
        }
    }
    prime_count = LIMIT >= 2 ? 1 : 0;
    for (uint32_t n = 3; n <= LIMIT; n += 2) {
        if (!composite[n]) {
            odd_prime_bits[n / 16] |= (uint8_t)(1u << ((n / 2) % 8));
            prime_count++;
        }
    }
    memset(composite, 0, sizeof composite);
}

__attribute__((export_name("is_prime"))) int32_t is_prime(uint32_t n) {
    if (n == 2) return 1;
    if (n < 2 || n % 2 == 0 || n > LIMIT) return 0;
    return (odd_prime_bits[n / 16] >> ((n / 2) % 8)) & 1;
}

__attribute__((export_name("prime_count"))) uint32_t count(void) { return prime_count; }
