# K-quant types (Q2_K..Q6_K, Q8_K): known answers, quantizer accuracy, SIMD == scalar.
hearth_test(test_quant_k test_quant_k.c)
