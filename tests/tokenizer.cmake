# Tokenizers: every vocabulary of the kit against its reference vectors (exact ids), round trips,
# streaming UTF-8, malformed metadata. Also prints load time and throughput.
hearth_test_exe(test_tokenizer test_tokenizer.c)
add_test(NAME test_tokenizer COMMAND test_tokenizer ${HEARTH_REF_DIR})
target_link_libraries(test_tokenizer PRIVATE PkgConfig::JANSSON)
