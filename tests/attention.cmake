hearth_test(test_attention test_attention.c)
