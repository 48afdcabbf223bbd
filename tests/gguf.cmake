hearth_test_exe(test_gguf test_gguf.c)
add_test(NAME test_gguf COMMAND test_gguf $<TARGET_FILE:hearth>)
