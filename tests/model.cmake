hearth_test_exe(test_model test_model.c)
add_test(NAME test_model COMMAND test_model ${HEARTH_TEST_DATA}/stories260K.gguf $<TARGET_FILE:hearth>)
