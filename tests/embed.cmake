# Embedding models of the reference kit (bert with CLS pooling, qwen3 with last-token pooling).
hearth_test_exe(test_embed test_embed.c)
target_link_libraries(test_embed PRIVATE PkgConfig::JANSSON)
foreach(m tiny-bert-F16 tiny-bert-Q8_0 tiny-qwen3-embed-F32 tiny-qwen3-embed-Q8_0)
  add_test(NAME embed_${m} COMMAND test_embed ${HEARTH_REF_DIR} ${m} 2)
endforeach()
