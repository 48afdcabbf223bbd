find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME test_cli COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/test_cli.py
  $<TARGET_FILE:hearth> ${HEARTH_REF_DIR} ${HEARTH_TEST_DATA})
