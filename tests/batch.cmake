# Paged KV cache and continuous batching (engine/batch.c, issue 9): several sequences decoded
# together give each the same greedy tokens as decoding it alone; block reuse; out-of-blocks and
# hostile parameters. Dense llama and qwen2 models and a MoE model, at 1 and 2 threads.
hearth_test_exe(test_batch test_batch.c)
foreach(m stories260K tiny-qwen2-peaked-Q8_0 tiny-qwen3-F32 tiny-qwen3moe-Q8_0 tiny-llama-spm-Q4_K_M)
  foreach(t 1 2)
    add_test(NAME batch_${m}_t${t} COMMAND test_batch ${HEARTH_REF_DIR}/models/${m}.gguf ${t})
  endforeach()
endforeach()
