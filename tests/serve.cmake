# serve/ (issue 9): `hearth serve` driven by curl and the official `openai` npm client
# (tests/serve/package.json, installed by tools/install-deps.sh): endpoints, streaming,
# concurrency (continuous batching), cancellation, limits, time-outs, API keys.
find_program(HEARTH_NODE node REQUIRED)
add_test(NAME serve_api COMMAND ${HEARTH_NODE} --test ${CMAKE_CURRENT_SOURCE_DIR}/serve/serve.test.mjs)
set_tests_properties(serve_api PROPERTIES TIMEOUT 600 ENVIRONMENT
  "HEARTH_BIN=$<TARGET_FILE:hearth>;HEARTH_REF_DIR=${HEARTH_REF_DIR};HEARTH_TEST_DATA=${HEARTH_TEST_DATA}")
# /v1/fim and `hearth lsp` give the same suggestion for every FIM family (one completion/ policy).
add_test(NAME serve_fim_lsp COMMAND ${HEARTH_NODE} --test ${CMAKE_CURRENT_SOURCE_DIR}/serve/fim_lsp.test.mjs)
set_tests_properties(serve_fim_lsp PROPERTIES TIMEOUT 600 ENVIRONMENT
  "HEARTH_BIN=$<TARGET_FILE:hearth>;HEARTH_REF_DIR=${HEARTH_REF_DIR}")
# runtime/ under hearth serve: each GGUF opened once (the registry's load counts on /health).
add_test(NAME serve_runtime COMMAND ${HEARTH_NODE} --test ${CMAKE_CURRENT_SOURCE_DIR}/serve/runtime.test.mjs)
set_tests_properties(serve_runtime PROPERTIES TIMEOUT 300 ENVIRONMENT
  "HEARTH_BIN=$<TARGET_FILE:hearth>;HEARTH_REF_DIR=${HEARTH_REF_DIR}")
# serve/ on runtime/'s scheduler (issue 17): embeddings in slices between batched steps, stopped
# within a slice when the client leaves, SIGTERM in seconds during a big embedding request.
add_test(NAME serve_lanes COMMAND ${HEARTH_NODE} --test ${CMAKE_CURRENT_SOURCE_DIR}/serve/lanes.test.mjs)
# Under the sanitizers embedding runs ~50x slower: the stream test embeds fewer texts there.
set_tests_properties(serve_lanes PROPERTIES TIMEOUT 600 ENVIRONMENT
  "HEARTH_BIN=$<TARGET_FILE:hearth>;HEARTH_REF_DIR=${HEARTH_REF_DIR};HEARTH_SANITIZE=$<BOOL:${HEARTH_SANITIZE}>")
# hearth serve under load and hostile input (issue 17): KV admission, tokenizing off the loop,
# forged special tokens in chat messages, HTTP corners.
add_test(NAME serve_load COMMAND ${HEARTH_NODE} --test ${CMAKE_CURRENT_SOURCE_DIR}/serve/load.test.mjs)
set_tests_properties(serve_load PROPERTIES TIMEOUT 300 ENVIRONMENT
  "HEARTH_BIN=$<TARGET_FILE:hearth>;HEARTH_REF_DIR=${HEARTH_REF_DIR}")
# /v1/search (issue 15): hits equal `hearth search --json` in every mode; the index, its vectors
# and the query embedder stay loaded between queries (/health's counters); a re-index is seen.
add_test(NAME serve_search COMMAND ${HEARTH_NODE} --test ${CMAKE_CURRENT_SOURCE_DIR}/serve/search.test.mjs)
set_tests_properties(serve_search PROPERTIES TIMEOUT 300 ENVIRONMENT
  "HEARTH_BIN=$<TARGET_FILE:hearth>;HEARTH_REF_DIR=${HEARTH_REF_DIR}")
