# gpt-oss end to end on synthesized tiny models, and against llama.cpp's logits of the same files
# (tests/data/gpt-oss/README.md says how they were made).
hearth_test_exe(test_gpt_oss test_gpt_oss.c)
add_test(NAME test_gpt_oss COMMAND test_gpt_oss ${HEARTH_TEST_DATA})
# The sliding-window layers' bounded KV cache (one-sequence ring, paged second pool) against an
# unbounded cache: equal logits through chunked prefill, decoding and prefix reuse; sizes.
hearth_test(test_gpt_oss_swa test_gpt_oss_swa.c)
