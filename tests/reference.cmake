# Every causal-LM reference of the kit (llama, qwen2, qwen3, qwen3moe), at 1 to 4
# threads, default F16 KV cache; plus F32 KV on a few to hold the exact path too.
hearth_test_exe(test_reference test_reference.c)
target_link_libraries(test_reference PRIVATE PkgConfig::JANSSON)
set(REFERENCE_MODELS
  stories260K tiny-llama-spm-F32 tiny-llama-spm-F16 tiny-llama-spm-BF16 tiny-llama-spm-Q8_0
  tiny-llama-spm-Q4_0 tiny-llama-spm-Q4_1 tiny-llama-spm-Q5_0 tiny-llama-spm-Q5_1
  tiny-llama-spm-Q2_K tiny-llama-spm-Q3_K tiny-llama-spm-Q4_K tiny-llama-spm-Q5_K
  tiny-llama-spm-Q6_K tiny-llama-spm-Q4_K_M tiny-llama-spm-Q5_K_M
  tiny-qwen2-k-Q4_K_M tiny-qwen2-k-Q5_K_M tiny-qwen2-peaked-F16 tiny-qwen2-peaked-Q8_0
  tiny-qwen3-F32 tiny-qwen3-Q8_0
  tiny-qwen3moe-F16 tiny-qwen3moe-Q8_0 tiny-qwen3moe-Q4_K_M tiny-qwen3moe-Q5_K_M)
foreach(m ${REFERENCE_MODELS})
  foreach(t 1 2 3 4)
    add_test(NAME reference_${m}_t${t} COMMAND test_reference ${HEARTH_REF_DIR} ${m} ${t})
  endforeach()
endforeach()
foreach(m stories260K tiny-llama-spm-F32 tiny-qwen3-F32)
  add_test(NAME reference_${m}_kvf32 COMMAND test_reference ${HEARTH_REF_DIR} ${m} 2 --kv f32)
endforeach()
# Q8_0 KV cache (classic and paged contexts) within the widened bounds documented in
# test_reference.c; the peaked models' head_dim 16 must be refused with a clear error.
foreach(m tiny-llama-spm-F32 tiny-llama-spm-Q8_0 tiny-qwen3-F32 tiny-qwen3-Q8_0 tiny-qwen3moe-F16
          tiny-qwen2-k-Q4_K_M tiny-qwen2-peaked-F16)
  add_test(NAME reference_${m}_kvq8 COMMAND test_reference ${HEARTH_REF_DIR} ${m} 2 --kv q8_0)
endforeach()
add_test(NAME reference_tiny-llama-spm-F16_kvq8_t3
         COMMAND test_reference ${HEARTH_REF_DIR} tiny-llama-spm-F16 3 --kv q8_0)
