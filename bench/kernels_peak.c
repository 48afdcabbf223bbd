/* hearth-kernels' yardstick: the int8 multiply-add throughput one core reaches with each
 * instruction set when nothing but the arithmetic runs (operands in registers, 8 independent
 * accumulators, no loads), in GMAC/s (1e9 int8 products summed per second).
 *
 * AVX2 has no u8 x s8 dot product into int32; a kernel chains vpmaddubsw (32 u8 x s8 products
 * into 16 int16 pair sums) with additions, and the chains differ in cost:
 *   maddubs+add16        small codes: pair sums added up in int16, widened rarely (K-quant tiles)
 *   maddubs+madd+add32   every pair sum widened to int32 at once (exact for any codes)
 *   sign+maddubs+madd    the same with the weight's sign moved onto the activation (Q8_0)
 * AVX-512 VNNI's vpdpbusd does the 64 (zmm) or 32 (ymm) products and the int32 sum in one
 * instruction. The first row of each ISA is its ceiling; kernels are reported against it. */
#include "kernels_peak.h"

#include <stdint.h>
#include <time.h>

enum { PEAK_ITERS = 1 << 21, PEAK_REPS = 5 };

/* This thread's CPU time: on a shared machine, time the scheduler gives to other processes does
 * not count (their use of caches and memory still does). */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The loops are written in assembly: with intrinsics the compiler merges equal products and
 * spills accumulators, which measures its register allocation instead of the instructions.
 * Register roles: ymm0..7 (zmm0..7) eight independent accumulators, so no dependency chain
 * limits the rate; ymm8 the weights, ymm9 the activations, ymm10 int16 ones, ymm11..15 temps
 * (renamed: reusing them creates no dependency). Operand values do not matter to the timing. */
#define STEP_ADD16(c, t)                                                                           \
    "vpmaddubsw %%ymm9, %%ymm8, %%ymm" t "\n\tvpaddw %%ymm" t ", %%ymm" c ", %%ymm" c "\n\t"
#define STEP_MADD(c, t)                                                                            \
    "vpmaddubsw %%ymm9, %%ymm8, %%ymm" t "\n\tvpmaddwd %%ymm10, %%ymm" t ", %%ymm" t               \
    "\n\tvpaddd %%ymm" t ", %%ymm" c ", %%ymm" c "\n\t"
#define STEP_SIGN(c, t)                                                                            \
    "vpsignb %%ymm8, %%ymm9, %%ymm" t "\n\tvpmaddubsw %%ymm" t ", %%ymm8, %%ymm" t                 \
    "\n\tvpmaddwd %%ymm10, %%ymm" t ", %%ymm" t "\n\tvpaddd %%ymm" t ", %%ymm" c ", %%ymm" c       \
    "\n\t"
#define STEP_BCAST(c, t)                                                                           \
    "vpbroadcastd 4*" c "(%1), %%ymm" t "\n\tvpmaddubsw %%ymm" t ", %%ymm8, %%ymm" t               \
    "\n\tvpaddw %%ymm" t ", %%ymm" c ", %%ymm" c "\n\t"
#define STEP_DPZ(c, t) "vpdpbusd %%zmm9, %%zmm8, %%zmm" c "\n\t"
#define STEP_DPY(c, t) "vpdpbusd %%ymm9, %%ymm8, %%ymm" c "\n\t"
#define EIGHT(S)                                                                                   \
    S("0", "11")                                                                                   \
    S("1", "12") S("2", "13") S("3", "14") S("4", "15") S("5", "11") S("6", "12") S("7", "13")

/* PEAK_ITERS iterations of eight steps of `products` int8 products each: GMAC/s. */
#define DEFINE_PEAK(NAME, STEP, PRODUCTS)                                                          \
    static double NAME(void) {                                                                     \
        long n = PEAK_ITERS;                                                                       \
        static const int32_t mem[8] = {1, 2, 3, 4, 5, 6, 7, 8};                                    \
        const double t0 = now_s();                                                                 \
        __asm__ volatile("vpxor %%xmm8, %%xmm8, %%xmm8\n\t"                                        \
                         "vpcmpeqb %%ymm9, %%ymm9, %%ymm9\n\t"                                     \
                         "vpcmpeqw %%ymm10, %%ymm10, %%ymm10\n\t"                                  \
                         "vpsrlw $15, %%ymm10, %%ymm10\n\t"                                        \
                         "1:\n\t" EIGHT(STEP) "dec %0\n\tjnz 1b\n\tvzeroupper"                     \
                         : "+r"(n)                                                                 \
                         : "r"(mem), "m"(mem)                                                      \
                         : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", \
                           "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc");    \
        return 8.0 * (PRODUCTS)*PEAK_ITERS / (now_s() - t0) * 1e-9;                                \
    }

DEFINE_PEAK(peak_maddubs_add16, STEP_ADD16, 32)
DEFINE_PEAK(peak_maddubs_madd, STEP_MADD, 32)
DEFINE_PEAK(peak_sign_maddubs_madd, STEP_SIGN, 32)
DEFINE_PEAK(peak_bcast_maddubs_add16, STEP_BCAST, 32)
DEFINE_PEAK(peak_dpbusd_zmm, STEP_DPZ, 64)
DEFINE_PEAK(peak_dpbusd_ymm, STEP_DPY, 32)

static const peak_chain CHAINS[] = {
    {ISA_AVX2, "maddubs+add16", peak_maddubs_add16},
    {ISA_AVX2, "maddubs+madd+add32", peak_maddubs_madd},
    {ISA_AVX2, "sign+maddubs+madd+add32", peak_sign_maddubs_madd},
    {ISA_AVX2, "bcast load+maddubs+add16", peak_bcast_maddubs_add16},
    {ISA_AVX512, "vpdpbusd zmm", peak_dpbusd_zmm},
    {ISA_AVX512, "vpdpbusd ymm", peak_dpbusd_ymm},
};

const peak_chain *peak_chains(size_t *count) {
    *count = sizeof CHAINS / sizeof CHAINS[0];
    return CHAINS;
}

double peak_measure(const peak_chain *c) {
    double best = 0.0;
    for (int r = 0; r < PEAK_REPS; r++) {
        const double g = c->run();
        best = g > best ? g : best;
    }
    return best;
}
