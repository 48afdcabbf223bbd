# grammar/ (issue 14): one tree-sitter table for lsp/ (through completion_language), completion/
# and index/: the same grammar for a file in every module, index/'s language names from it.
hearth_test(test_grammar WHITEBOX index test_grammar.c)
target_link_libraries(test_grammar PRIVATE hearth_completion_private)
