/* K-quant kernels for AVX512 (work in progress). */
#include "kquants_kernels.h"

void kquants_register_avx512(quant_registry *r) {
    (void)r;
}
