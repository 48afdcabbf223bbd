# completion/: FIM prompt layouts per model family (token level, real and tiny vocabularies),
# post-processing of suggestions, the completion cache.
hearth_test_exe(test_completion_fim test_completion_fim.c)
target_link_libraries(test_completion_fim PRIVATE hearth_completion)
target_include_directories(test_completion_fim PRIVATE ${CMAKE_SOURCE_DIR}/completion
  ${CMAKE_SOURCE_DIR}/engine)
add_test(NAME test_completion_fim COMMAND test_completion_fim ${HEARTH_REF_DIR}/vocab
  ${CMAKE_CURRENT_BINARY_DIR})

hearth_test(test_completion_trim test_completion_trim.c)
target_link_libraries(test_completion_trim PRIVATE hearth_completion)
target_include_directories(test_completion_trim PRIVATE ${CMAKE_SOURCE_DIR}/completion)

hearth_test(test_completion_context test_completion_context.c)
target_link_libraries(test_completion_context PRIVATE hearth_completion)

hearth_test(test_completion_gather test_completion_gather.c)
target_link_libraries(test_completion_gather PRIVATE hearth_completion)
