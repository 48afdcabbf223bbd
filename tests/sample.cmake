hearth_test(test_sample test_sample.c)
