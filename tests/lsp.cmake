# lsp/: unit tests of the framer and positions, and the real `hearth lsp` driven over pipes by a
# Node client (node's built-in test runner; no npm packages).
hearth_test(test_lsp_units test_lsp_units.c)
target_link_libraries(test_lsp_units PRIVATE hearth_lsp)
target_include_directories(test_lsp_units PRIVATE ${CMAKE_SOURCE_DIR}/lsp)

find_program(HEARTH_NODE node REQUIRED)
add_test(NAME lsp_protocol COMMAND ${HEARTH_NODE} --test --test-concurrency=1
         ${CMAKE_CURRENT_SOURCE_DIR}/lsp/protocol.test.mjs)
set_tests_properties(lsp_protocol PROPERTIES TIMEOUT 600
  ENVIRONMENT "HEARTH_BIN=$<TARGET_FILE:hearth>;HEARTH_REF_DIR=${HEARTH_REF_DIR}")
