# Float (F32 F16 BF16) and legacy block types (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q8_1): scalar reference
# and the SIMD kernels of every ISA this CPU has.
hearth_test(test_quant_legacy ${CMAKE_CURRENT_SOURCE_DIR}/test_quant_legacy.c)
# MXFP4: dequantization against the OCP definition (every code, every E8M0 scale, NaN), the
# quantizer, and the AVX2 / AVX-512 dots and prefill tiles against the scalar reference.
hearth_test(test_quant_mxfp4 ${CMAKE_CURRENT_SOURCE_DIR}/test_quant_mxfp4.c)
