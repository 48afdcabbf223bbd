# completion/: FIM prompt layouts per model family (token level, real and tiny vocabularies),
# post-processing of suggestions, the completion cache.
hearth_test_exe(test_completion_fim WHITEBOX completion test_completion_fim.c)
add_test(NAME test_completion_fim COMMAND test_completion_fim ${HEARTH_REF_DIR}/vocab
  ${CMAKE_CURRENT_BINARY_DIR})

hearth_test(test_completion_trim WHITEBOX completion test_completion_trim.c)

hearth_test(test_completion_context WHITEBOX completion test_completion_context.c)

hearth_test(test_completion_gather WHITEBOX completion test_completion_gather.c)

# Cached entries moved to other positions (engine_kv_move) and the completion engine's run plan.
hearth_test_exe(test_completion_shift WHITEBOX completion test_completion_shift.c)
add_test(NAME test_completion_shift COMMAND test_completion_shift ${HEARTH_REF_DIR}/vocab
  ${CMAKE_CURRENT_BINARY_DIR})

# Stopping an evaluation between layers; the quick KV cache of the prompt budget.
hearth_test_exe(test_completion_slots WHITEBOX completion test_completion_slots.c)
add_test(NAME test_completion_slots COMMAND test_completion_slots ${HEARTH_REF_DIR}/vocab
  ${CMAKE_CURRENT_BINARY_DIR})
