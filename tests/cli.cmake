find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME test_cli COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/test_cli.py
  $<TARGET_FILE:hearth> ${HEARTH_REF_DIR} ${HEARTH_TEST_DATA})
# README's shell examples run as written (or are on the test's checked list of those that are not).
add_test(NAME test_readme COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/test_readme.py
  ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR} ${HEARTH_REF_DIR})
set_tests_properties(test_readme PROPERTIES TIMEOUT 300)
