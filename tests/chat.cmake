hearth_test_exe(test_chat test_chat.c)
add_test(NAME test_chat COMMAND test_chat ${HEARTH_TEST_DATA}/stories260K.gguf
  ${HEARTH_REF_DIR}/models/tiny-qwen2-peaked-Q8_0.gguf)
