# models/ (issue 9): unit tests without a network (SHA-256 vectors, config, paths, fit check), and
# the CLI + HTTP client against local HTTP servers (tests/models/http_server.py: downloads with
# dropped connections, wrong bytes, HTTP errors; an OpenAI-compatible stub), and end to end
# against a second `hearth serve` process when that command exists.
hearth_test(test_models_units WHITEBOX models models/test_models_units.c)

hearth_test_exe(test_models_remote WHITEBOX models models/test_models_remote.c)

find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME test_models_cli COMMAND ${Python3_EXECUTABLE}
  ${CMAKE_CURRENT_SOURCE_DIR}/models/test_models.py $<TARGET_FILE:hearth>
  $<TARGET_FILE:test_models_remote> ${HEARTH_TEST_DATA} ${HEARTH_REF_DIR})
set_tests_properties(test_models_cli PROPERTIES TIMEOUT 300)
