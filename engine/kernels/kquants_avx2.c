/* K-quant kernels for AVX2 (work in progress). */
#include "kquants_kernels.h"

void kquants_register_avx2(quant_registry *r) {
    (void)r;
}
