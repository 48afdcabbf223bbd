-- Streamed ghost text (issue 19) in headless Neovim against the real `hearth lsp` on a tiny FIM
-- model whose suggestion at this cursor is one long line (random weights: gibberish, but
-- deterministic), generated for seconds with maxTokens 4096: the ghost text grows with the
-- server's hearth/inlineCompletionPartial notifications; typing its next character keeps the
-- request generating; typing something else cancels it (the server stops generating) and hides.
-- Env: HEARTH_BIN, HEARTH_MODEL, HEARTH_PLUGIN (editors/nvim), HEARTH_HARNESS (tests/editors).
vim.opt.runtimepath:prepend(os.getenv('HEARTH_PLUGIN'))
package.path = os.getenv('HEARTH_HARNESS') .. '/?.lua;' .. package.path
local H = require('harness')
local api = vim.api
vim.cmd('filetype on')
vim.o.autoindent = false
vim.o.showmode = false

H.run(function()
  local bin, model = H.env('HEARTH_BIN'), H.env('HEARTH_MODEL')
  if vim.fn.filereadable(model) == 0 then H.skip('no ' .. model) end
  local dir = vim.fn.tempname()
  vim.fn.mkdir(dir .. '/.git', 'p')
  vim.fn.writefile({ 'import sys', '', '', 'def fib(n):', '    if n < 2:', '        return n', '    ', '', '',
    'if __name__ == "__main__":', '    print(fib(int(sys.argv[1])))' }, dir .. '/fib.py')

  local loaded, cancelled_log = false, nil
  local log_handler = vim.lsp.handlers['window/logMessage']
  vim.lsp.handlers['window/logMessage'] = function(err, params, ctx, cfg)
    if params and params.message:match('completion model loaded') then loaded = true end
    if params and params.message:match('cancelled after') then cancelled_log = params.message end
    return log_handler(err, params, ctx, cfg)
  end
  local hearth = require('hearth')
  hearth.setup({
    cmd = { bin, 'lsp' },
    init_options = { completionModel = model, threads = 1, maxTokens = 4096, contextSize = 8192,
      maxPromptMs = 0, maxGenMs = 0 },
    debounce_ms = 300, -- a new request waits: what the cancelled one left is seen first
  })
  vim.cmd('edit ' .. dir .. '/fib.py')
  local buf = api.nvim_get_current_buf()
  H.wait_for(function()
    local c = hearth.get_client(buf)
    return c and c.initialized and vim.lsp.buf_is_attached(buf, c.id)
  end, 'the client to attach', 20000)
  H.wait_for(function() return loaded end, 'the model to load', 60000)
  local ghost = require('hearth.ghost')
  local function virt_text()
    local m = api.nvim_buf_get_extmarks(buf, ghost.ns, 0, -1, { details = true })
    return #m == 1 and m[1][4].virt_text and m[1][4].virt_text[1][1]
  end

  -- 1. The ghost text grows while the request is in flight.
  api.nvim_win_set_cursor(0, { 7, 4 })
  H.type('A')
  H.eq('i', api.nvim_get_mode().mode, 'insert mode')
  ghost.request_now()
  H.wait_for(function() return ghost.visible() end, 'a first partial', 30000)
  local first = ghost.current().text
  H.wait_for(function() return #ghost.current().text > #first + 8 end, 'the ghost text to grow', 20000)
  local grown = ghost.current().text
  H.ok(vim.startswith(grown, first), 'it grew at its end')
  H.ok(ghost.busy(), 'still generating')
  H.ok(ghost.stats.partials >= 2, 'partials: ' .. ghost.stats.partials)
  H.eq(grown:match('^[^\n]*'), virt_text(), 'the extmark shows it')
  local requests, cancels = ghost.stats.requests, ghost.stats.cancelled

  -- 2. Typing its next character keeps it (trimmed), and the request goes on generating.
  local c = vim.fn.strcharpart(grown, 0, 1)
  H.type(({ ['<'] = '<lt>', ['\\'] = '<Bslash>', ['|'] = '<Bar>' })[c] or c)
  H.wait_for(function() return api.nvim_get_current_line() == '    ' .. c end, 'the typed character')
  H.ok(ghost.visible(), 'still shown after typing its next character')
  H.ok(vim.startswith(ghost.current().text, grown:sub(#c + 1)), 'the rest shown: ' .. ghost.current().text:sub(1, 40))
  local after = ghost.stats.partials
  H.wait_for(function() return ghost.stats.partials > after end, 'more partials after typing', 20000)
  H.ok(ghost.busy(), 'the same request still generating')
  H.eq({ requests, cancels }, { ghost.stats.requests, ghost.stats.cancelled }, 'no new request, none cancelled')

  -- 3. Typing something else cancels it: the ghost text goes, and the server stops generating.
  local next_char = vim.fn.strcharpart(ghost.current().text, 0, 1)
  local other = next_char == 'Q' and 'Z' or 'Q'
  H.type(other)
  H.eq(false, ghost.visible(), 'hidden at once')
  H.eq(cancels + 1, ghost.stats.cancelled, 'the request was cancelled')
  H.wait_for(function() return cancelled_log end, 'the server to report the cancel', 20000)
  local n = tonumber(cancelled_log:match('after (%d+) generated'))
  H.ok(n and n < 4096, 'generation stopped early: ' .. cancelled_log)
  H.type('<Esc>')
  H.wait_for(function() return not ghost.busy() end, 'nothing in flight after <Esc>')
  vim.cmd('bwipe!')
end, 120000)
