# Draft-model speculative decoding: greedy output identical to plain generation (self draft,
# quantized drafts, limits), vocabulary check, refusals; at 1 and 3 threads.
hearth_test_exe(test_speculative test_speculative.c)
foreach(t 1 3)
  add_test(NAME speculative_t${t} COMMAND test_speculative
    ${HEARTH_REF_DIR}/models/tiny-qwen2-peaked-F16.gguf
    ${HEARTH_REF_DIR}/models/tiny-qwen2-peaked-Q8_0.gguf
    ${HEARTH_REF_DIR}/models/tiny-llama-spm-F16.gguf
    ${HEARTH_REF_DIR}/models/tiny-qwen2-k-Q4_K_M.gguf ${t})
endforeach()
