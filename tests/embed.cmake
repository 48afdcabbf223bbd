# Embedding models of the reference kit (bert with CLS pooling, qwen3 with last-token pooling).
hearth_test_exe(test_embed test_embed.c)
target_link_libraries(test_embed PRIVATE PkgConfig::JANSSON)
foreach(m tiny-bert-F16 tiny-bert-Q8_0 tiny-qwen3-embed-F32 tiny-qwen3-embed-Q8_0)
  add_test(NAME embed_${m} COMMAND test_embed ${HEARTH_REF_DIR} ${m} 2)
endforeach()

# embed/ (issue 14): the embedding service's prompts per family at the token level, overrides,
# special-token text, truncation, cache and batching (tiny-qwen3-embed, tiny-bert and synthesised
# nomic-bert / bge-small-en-v1.5 with their real general.name).
hearth_test_exe(test_embed_service WHITEBOX embed test_embed_service.c)
add_test(NAME embed_service COMMAND test_embed_service ${HEARTH_REF_DIR})

# One text -> one vector through hearth embed, /v1/embeddings and the index; queries vs documents;
# over-long input through every entry point.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME embed_entry_points COMMAND ${Python3_EXECUTABLE}
  ${CMAKE_CURRENT_SOURCE_DIR}/test_embed_entry.py $<TARGET_FILE:hearth> ${HEARTH_REF_DIR})
set_tests_properties(embed_entry_points PROPERTIES TIMEOUT 300)
