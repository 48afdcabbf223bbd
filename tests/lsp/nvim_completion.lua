-- Neovim's built-in LSP client (vim.lsp, Neovim 0.7+) attaches to `hearth lsp` and receives a
-- completion: no plugin of ours, only the client every Neovim user has. Run by ctest as
--   nvim --headless -u NONE -c "luafile tests/lsp/nvim_completion.lua"
-- with HEARTH_BIN (the hearth binary) and HEARTH_MODEL (a tiny FIM model) in the environment.
-- Exits 0 on success; on failure prints why and exits nonzero. Every wait has a timeout.
local function fail(msg)
  io.stderr:write('nvim_completion: FAIL: ' .. msg .. '\n')
  vim.cmd('cquit 1')
end

local function check(ok, msg)
  if not ok then fail(msg) end
end

local bin, model = os.getenv('HEARTH_BIN'), os.getenv('HEARTH_MODEL')
check(bin and model, 'set HEARTH_BIN and HEARTH_MODEL')

local ok, err = pcall(function()
  local logs = {}
  local client_id = vim.lsp.start_client({
    name = 'hearth',
    cmd = { bin, 'lsp', '--completion-model', model, '--threads', '1', '--max-prompt-ms', '0' },
    root_dir = '/tmp',
    handlers = {
      ['window/logMessage'] = function(_, result) table.insert(logs, result.message) end,
    },
  })
  check(client_id, 'vim.lsp.start_client failed')

  -- A Python buffer with the cursor inside a function body.
  local buf = vim.api.nvim_create_buf(true, false)
  vim.api.nvim_buf_set_name(buf, '/tmp/hearth-nvim-test/fib.py')
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, {
    'def fib(n):', '    if n < 2:', '        return n', '    ', '', 'print(fib(10))',
  })
  vim.api.nvim_buf_set_option(buf, 'filetype', 'python')
  vim.api.nvim_set_current_buf(buf)
  check(vim.lsp.buf_attach_client(buf, client_id), 'buf_attach_client failed')

  local client
  check(vim.wait(30000, function()
    client = vim.lsp.get_client_by_id(client_id)
    return client ~= nil and client.initialized
  end, 20), 'the server did not initialize')
  check(client.server_capabilities == nil or client.server_capabilities.completionProvider ~= nil,
    'no completionProvider in the capabilities')

  -- textDocument/completion (0.7's client has no inline completion). Line 3 is '    '.
  local response, request_err
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(buf) },
    position = { line = 3, character = 4 },
    context = { triggerKind = 1 },
  }
  local sent = client.request('textDocument/completion', params, function(e, result)
    request_err, response = e, result or false
  end, buf)
  check(sent, 'the request was not sent')
  check(vim.wait(60000, function() return response ~= nil end, 20),
    'no completion within 60 s; server log: ' .. table.concat(logs, ' | '))
  check(request_err == nil, 'completion error: ' .. vim.inspect(request_err))
  local items = response and (response.items or response) or {}
  check(#items > 0, 'no completion items: ' .. vim.inspect(response))
  local text = items[1].insertText or (items[1].textEdit and items[1].textEdit.newText) or items[1].label
  check(type(text) == 'string' and text:match('%S') ~= nil, 'an empty suggestion: ' .. vim.inspect(items[1]))
  local edit = items[1].textEdit
  check(edit == nil or (edit.range.start.line == 3 and edit.range.start.character == 4),
    'the edit is not at the cursor: ' .. vim.inspect(edit))

  -- shutdown + exit: the server ends (vim.lsp's stop sends both).
  client.stop()
  check(vim.wait(20000, function() return client.is_stopped() end, 20), 'the server did not stop')
  io.stdout:write('nvim_completion: ok, ' .. #items .. ' item(s): ' .. vim.inspect(text:sub(1, 60)) .. '\n')
end)
if not ok then fail(tostring(err)) end
vim.cmd('qall!')
