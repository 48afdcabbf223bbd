# lsp/: unit tests of the framer and positions, and the real `hearth lsp` driven over pipes by a
# Node client (node's built-in test runner; no npm packages).
hearth_test(test_lsp_units WHITEBOX lsp test_lsp_units.c)

find_program(HEARTH_NODE node REQUIRED)
foreach(t protocol completion stream ask remote runtime ahead)
  add_test(NAME lsp_${t} COMMAND ${HEARTH_NODE} --test ${CMAKE_CURRENT_SOURCE_DIR}/lsp/${t}.test.mjs)
  set_tests_properties(lsp_${t} PROPERTIES TIMEOUT 600
    ENVIRONMENT "HEARTH_BIN=$<TARGET_FILE:hearth>;HEARTH_REF_DIR=${HEARTH_REF_DIR}")
endforeach()

# ---- real LSP clients (tests/lsp/connection.mjs on vscode-jsonrpc, Neovim's vim.lsp) ----
# The npm packages come from tests/lsp/package-lock.json (`npm ci` in tools/install-deps.sh).
foreach(t jsonrpc hostile)
  add_test(NAME lsp_${t} COMMAND ${HEARTH_NODE} --test ${CMAKE_CURRENT_SOURCE_DIR}/lsp/${t}.test.mjs)
  set_tests_properties(lsp_${t} PROPERTIES TIMEOUT 600
    ENVIRONMENT "HEARTH_BIN=$<TARGET_FILE:hearth>;HEARTH_REF_DIR=${HEARTH_REF_DIR}")
endforeach()
find_program(HEARTH_NVIM nvim)
if(HEARTH_NVIM)
  add_test(NAME lsp_nvim COMMAND ${HEARTH_NVIM} --headless -u NONE -i NONE
    -c "luafile ${CMAKE_CURRENT_SOURCE_DIR}/lsp/nvim_completion.lua")
  set_tests_properties(lsp_nvim PROPERTIES TIMEOUT 180 ENVIRONMENT
    "HEARTH_BIN=$<TARGET_FILE:hearth>;HEARTH_MODEL=${HEARTH_REF_DIR}/models/tiny-qwen2-peaked-Q8_0.gguf")
else()
  message(WARNING "nvim not found: the Neovim LSP client test is not registered (tools/install-deps.sh installs it)")
endif()
# bench/fim stays runnable: a two-line session with the tiny model (figures not checked).
add_test(NAME bench_fim_smoke COMMAND ${HEARTH_NODE} ${CMAKE_SOURCE_DIR}/bench/fim/run.mjs
  --bin $<TARGET_FILE:hearth> --model ${HEARTH_REF_DIR}/models/tiny-qwen2-peaked-Q8_0.gguf
  --file ${CMAKE_SOURCE_DIR}/lsp/server.c --lines 2 --threads 1 --cap 3 --modes reuse,classic,noreuse)
set_tests_properties(bench_fim_smoke PROPERTIES TIMEOUT 300)
