hearth_test(test_gpt_oss test_gpt_oss.c)
