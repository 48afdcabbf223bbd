hearth_test_exe(test_quantize test_quantize.c)
target_link_libraries(test_quantize PRIVATE PkgConfig::JANSSON)
add_test(NAME test_quantize COMMAND test_quantize ${HEARTH_REF_DIR})
