# base/: the small shared pieces (buffer, UTF-8, stop strings).
hearth_test(test_base WHITEBOX base test_base.c)
