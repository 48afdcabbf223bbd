# runtime/ (issue 14): the model registry and the backend choice per role; engine/'s one thread
# pool per process (shared by contexts of different sizes, rounds from several threads).
hearth_test(test_runtime WHITEBOX runtime runtime/test_runtime.c)
hearth_test(test_engine_pool runtime/test_engine_pool.c)
set_tests_properties(test_runtime test_engine_pool PROPERTIES SKIP_RETURN_CODE 77
  ENVIRONMENT "HEARTH_REF_DIR=${HEARTH_REF_DIR}")
# runtime/'s scheduler (one inference thread, priority lanes, yields) with fake jobs.
hearth_test(test_sched WHITEBOX runtime runtime/test_sched.c)
