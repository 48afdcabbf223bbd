# Prefill tile kernels (type_traits.gemm): every kernel of every ISA this CPU has equals the
# scalar vec_dot (exact integers, floats within 1e-5). `test_gemm bench` prints GMAC/s.
hearth_test(test_gemm ${CMAKE_CURRENT_SOURCE_DIR}/test_gemm.c)
