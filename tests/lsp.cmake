# lsp/: unit tests of the framer and positions, and the real `hearth lsp` driven over pipes by a
# Node client (node's built-in test runner; no npm packages).
hearth_test(test_lsp_units test_lsp_units.c)
target_link_libraries(test_lsp_units PRIVATE hearth_lsp)
target_include_directories(test_lsp_units PRIVATE ${CMAKE_SOURCE_DIR}/lsp)

find_program(HEARTH_NODE node REQUIRED)
foreach(t protocol completion)
  add_test(NAME lsp_${t} COMMAND ${HEARTH_NODE} --test ${CMAKE_CURRENT_SOURCE_DIR}/lsp/${t}.test.mjs)
  set_tests_properties(lsp_${t} PROPERTIES TIMEOUT 600
    ENVIRONMENT "HEARTH_BIN=$<TARGET_FILE:hearth>;HEARTH_REF_DIR=${HEARTH_REF_DIR}")
endforeach()
