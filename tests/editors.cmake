# editors/: the Neovim plugin in headless Neovim (Debian's nvim) against the real `hearth lsp` on a
# tiny FIM model (ghost text; :HearthIndex + :HearthAsk), the ghost-text mechanics without a
# server, :HearthAsk against a stand-in server whose pace the test sets (streaming seen mid-answer),
# and the VS Code extension's unit tests (node --test; the bridge and answer logic also against the
# real server) and packaging (tsc --strict, esbuild, vsce) into a .vsix.
find_program(HEARTH_NVIM nvim REQUIRED)
find_program(HEARTH_NODE node REQUIRED)
set(HEARTH_EDITORS_DIR ${CMAKE_SOURCE_DIR}/editors)
set(HEARTH_EDITORS_TESTS ${CMAKE_CURRENT_SOURCE_DIR}/editors)
set(HEARTH_NVIM_ENV "HEARTH_PLUGIN=${HEARTH_EDITORS_DIR}/nvim;HEARTH_HARNESS=${HEARTH_EDITORS_TESTS}")
set(HEARTH_NVIM_ARGS --headless -u NONE -i NONE -n -c)

add_test(NAME editors_nvim_ghost COMMAND ${HEARTH_NVIM} ${HEARTH_NVIM_ARGS}
  "luafile ${HEARTH_EDITORS_TESTS}/nvim_ghost_test.lua")
set_tests_properties(editors_nvim_ghost PROPERTIES TIMEOUT 240 SKIP_RETURN_CODE 77
  ENVIRONMENT "${HEARTH_NVIM_ENV};HEARTH_BIN=$<TARGET_FILE:hearth>;HEARTH_MODEL=${HEARTH_REF_DIR}/models/tiny-qwen2-peaked-Q8_0.gguf")

add_test(NAME editors_nvim_stream COMMAND ${HEARTH_NVIM} ${HEARTH_NVIM_ARGS}
  "luafile ${HEARTH_EDITORS_TESTS}/nvim_stream_test.lua")
set_tests_properties(editors_nvim_stream PROPERTIES TIMEOUT 240 SKIP_RETURN_CODE 77
  ENVIRONMENT "${HEARTH_NVIM_ENV};HEARTH_BIN=$<TARGET_FILE:hearth>;HEARTH_MODEL=${HEARTH_REF_DIR}/models/tiny-qwen2-peaked-Q8_0.gguf")

add_test(NAME editors_nvim_ghost_units COMMAND ${HEARTH_NVIM} ${HEARTH_NVIM_ARGS}
  "luafile ${HEARTH_EDITORS_TESTS}/nvim_ghost_units_test.lua")
set_tests_properties(editors_nvim_ghost_units PROPERTIES TIMEOUT 60 ENVIRONMENT "${HEARTH_NVIM_ENV}")

add_test(NAME editors_nvim_ask COMMAND ${HEARTH_NVIM} ${HEARTH_NVIM_ARGS}
  "luafile ${HEARTH_EDITORS_TESTS}/nvim_ask_test.lua")
set_tests_properties(editors_nvim_ask PROPERTIES TIMEOUT 120
  ENVIRONMENT "${HEARTH_NVIM_ENV};HEARTH_ASK_CMD=[\"${HEARTH_NODE}\",\"${HEARTH_EDITORS_TESTS}/fake_ask_server.mjs\"]")

add_test(NAME editors_nvim_ask_real COMMAND ${HEARTH_NVIM} ${HEARTH_NVIM_ARGS}
  "luafile ${HEARTH_EDITORS_TESTS}/nvim_ask_real_test.lua")
set_tests_properties(editors_nvim_ask_real PROPERTIES TIMEOUT 240 SKIP_RETURN_CODE 77
  ENVIRONMENT "${HEARTH_NVIM_ENV};HEARTH_BIN=$<TARGET_FILE:hearth>;HEARTH_MODEL=${HEARTH_REF_DIR}/models/tiny-qwen2-peaked-Q8_0.gguf")

add_test(NAME editors_vscode_unit
  COMMAND bash ${HEARTH_EDITORS_DIR}/vscode/test/run.sh ${CMAKE_CURRENT_BINARY_DIR}/editors-vscode-out)
set_tests_properties(editors_vscode_unit PROPERTIES TIMEOUT 300
  ENVIRONMENT "HEARTH_VSCODE_DIR=${HEARTH_EDITORS_DIR}/vscode;HEARTH_BIN=$<TARGET_FILE:hearth>;HEARTH_MODEL=${HEARTH_REF_DIR}/models/tiny-qwen2-peaked-Q8_0.gguf")

add_test(NAME editors_vscode_package
  COMMAND bash ${HEARTH_EDITORS_DIR}/vscode/package.sh ${CMAKE_BINARY_DIR}/hearth-vscode.vsix)
set_tests_properties(editors_vscode_package PROPERTIES TIMEOUT 300)

add_test(NAME editors_nvim_cursor COMMAND ${HEARTH_NVIM} ${HEARTH_NVIM_ARGS}
  "luafile ${HEARTH_EDITORS_TESTS}/nvim_cursor_test.lua")
set_tests_properties(editors_nvim_cursor PROPERTIES TIMEOUT 180 SKIP_RETURN_CODE 77
  ENVIRONMENT "${HEARTH_NVIM_ENV};HEARTH_BIN=$<TARGET_FILE:hearth>;HEARTH_MODEL=${HEARTH_REF_DIR}/models/tiny-qwen2-peaked-Q8_0.gguf")

# bench/nvim stays runnable: a one-round session on the tiny model (short gaps and suggestions)
# must give grey text for every kind of key with non-negative times; no timing is checked.
add_test(NAME bench_nvim_smoke COMMAND ${HEARTH_NODE} ${CMAKE_SOURCE_DIR}/bench/nvim/run.mjs
  --bin $<TARGET_FILE:hearth> --nvim ${HEARTH_NVIM}
  --model ${HEARTH_REF_DIR}/models/tiny-qwen2-peaked-Q8_0.gguf --rounds 1 --lines 1 --gap-ms 60
  --look-ms 100 --pause-ms 50 --max-tokens 8 --debounce-ms 20 --timeout-ms 60000 --check)
set_tests_properties(bench_nvim_smoke PROPERTIES TIMEOUT 90)

# The plugin never fails silently: each problem a server reports (no model, a missing model, no
# FIM tokens, a failed load, an exit) is one vim.notify with what to do; the indicator while a
# suggestion is computed (naming the model while it loads); :checkhealth reports the model in use.
add_test(NAME editors_nvim_notice COMMAND ${HEARTH_NVIM} ${HEARTH_NVIM_ARGS}
  "luafile ${HEARTH_EDITORS_TESTS}/nvim_notice_test.lua")
set_tests_properties(editors_nvim_notice PROPERTIES TIMEOUT 90
  ENVIRONMENT "${HEARTH_NVIM_ENV};HEARTH_FAKE_CMD=[\"${HEARTH_NODE}\",\"${HEARTH_EDITORS_TESTS}/fake_lsp_server.mjs\"]")

# Issue 16's first day, scripted: fresh clone, cmake --install to a temporary prefix, hearth on
# PATH, pull of synthetic models from a local mirror, Neovim ghost text with the model set by its
# catalogue name and a clean :checkhealth, index + ask (also a step of .ci/run).
add_test(NAME walkthrough COMMAND bash ${CMAKE_SOURCE_DIR}/tools/walkthrough.sh ${CMAKE_BINARY_DIR})
set_tests_properties(walkthrough PROPERTIES TIMEOUT 180 SKIP_RETURN_CODE 77
  ENVIRONMENT "HEARTH_REF_DIR=${HEARTH_REF_DIR}")

# README's Neovim snippets for any LSP client: the one for this Neovim runs as written (hearth from
# PATH, the catalogue model from a models dir holding the tiny FIM model under its name).
add_test(NAME editors_nvim_readme COMMAND ${CMAKE_COMMAND} -E env
  "PATH=$<TARGET_FILE_DIR:hearth>:$ENV{PATH}" "XDG_DATA_HOME=${CMAKE_CURRENT_BINARY_DIR}/readme-home"
  "XDG_CONFIG_HOME=${CMAKE_CURRENT_BINARY_DIR}/readme-home"
  ${HEARTH_NVIM} ${HEARTH_NVIM_ARGS} "luafile ${HEARTH_EDITORS_TESTS}/nvim_readme_test.lua")
set_tests_properties(editors_nvim_readme PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77
  FIXTURES_REQUIRED readme_home
  ENVIRONMENT "HEARTH_README=${CMAKE_SOURCE_DIR}/README.md;HEARTH_HARNESS=${HEARTH_EDITORS_TESTS}")
add_test(NAME editors_nvim_readme_home COMMAND ${CMAKE_COMMAND} -E make_directory
  ${CMAKE_CURRENT_BINARY_DIR}/readme-home/hearth/models)
add_test(NAME editors_nvim_readme_model COMMAND ${CMAKE_COMMAND} -E create_symlink
  ${HEARTH_REF_DIR}/models/tiny-qwen2-peaked-Q8_0.gguf
  ${CMAKE_CURRENT_BINARY_DIR}/readme-home/hearth/models/qwen2.5-coder-1.5b-q5_k_m.gguf)
set_tests_properties(editors_nvim_readme_home PROPERTIES FIXTURES_SETUP readme_home)
set_tests_properties(editors_nvim_readme_model PROPERTIES FIXTURES_SETUP readme_home DEPENDS editors_nvim_readme_home)
