/* The int8 multiply-add ceilings hearth-kernels reports its kernels against (kernels_peak.c). */
#ifndef HEARTH_BENCH_KERNELS_PEAK_H
#define HEARTH_BENCH_KERNELS_PEAK_H

#include <stddef.h>

#include "quant.h"

typedef struct {
    kernel_isa isa;      /* the instruction set the chain needs */
    const char *name;    /* the instructions per 32 (or 64) products */
    double (*run)(void); /* one timed pass: GMAC/s */
} peak_chain;

/* Every chain, the ISA's ceiling first among its own. */
const peak_chain *peak_chains(size_t *count);

/* Best of a few passes, GMAC/s, single thread; call only when the CPU has c->isa. */
double peak_measure(const peak_chain *c);

#endif
