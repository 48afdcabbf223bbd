# Prefill tile kernels (type_traits.gemm): every kernel of every ISA this CPU has equals the
# scalar vec_dot (exact integers, floats within 1e-5). `test_gemm bench` prints GMAC/s.
hearth_test(test_gemm ${CMAKE_CURRENT_SOURCE_DIR}/test_gemm.c)
# Whole forward passes with the kernels capped at each ISA (AVX2 tiles on AVX-512 machines too)
# against the scalar path, on models of every type with a tile kernel.
set(M ${HEARTH_REF_DIR}/models)
add_test(NAME gemm_models_by_isa COMMAND test_gemm model
  ${M}/tiny-qwen2-k-Q4_K_M.gguf ${M}/tiny-qwen2-k-Q5_K_M.gguf ${M}/tiny-llama-spm-Q6_K.gguf
  ${M}/tiny-llama-spm-Q2_K.gguf ${M}/tiny-llama-spm-Q3_K.gguf
  ${M}/tiny-llama-spm-Q4_0.gguf ${M}/tiny-llama-spm-Q4_1.gguf ${M}/tiny-llama-spm-Q5_0.gguf
  ${M}/tiny-llama-spm-Q5_1.gguf ${M}/tiny-llama-spm-Q8_0.gguf)
# The same with MXFP4 weights (no kit file has them): synthesised tiny models, MXFP4 everywhere
# (llama) and the MXFP4_MOE mix (qwen3moe: MXFP4 experts, Q8_0 elsewhere).
set(MX ${CMAKE_BINARY_DIR}/mxfp4-models)
add_test(NAME gemm_mxfp4_models_by_isa COMMAND sh -c
  "mkdir -p ${MX} && $<TARGET_FILE:hearth> synth --like tiny-llama --type MXFP4 -o ${MX}/llama.gguf && $<TARGET_FILE:hearth> synth --like tiny-qwen3moe --type MXFP4_MOE -o ${MX}/moe.gguf && $<TARGET_FILE:test_gemm> model ${MX}/llama.gguf ${MX}/moe.gguf")
