# Allocation failure swept over N (issue 17): the GGUF loader on three real models and the LSP
# message layer on a whole session, with the N-th allocation failing for every N: no crash, no
# byte left allocated. The failures come from link-time wrapping of this binary only.
hearth_test_exe(test_alloc_failure WHITEBOX lsp test_alloc_failure.c)
target_link_options(test_alloc_failure PRIVATE
  "-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup,--wrap=json_loadb")
add_test(NAME test_alloc_failure COMMAND test_alloc_failure ${HEARTH_REF_DIR})
# glibc's per-thread cache holds freed blocks that its byte count still calls in use.
set_tests_properties(test_alloc_failure PROPERTIES TIMEOUT 600
  ENVIRONMENT "GLIBC_TUNABLES=glibc.malloc.tcache_count=0")
