-- :HearthIndex and :HearthAsk in headless Neovim against the real `hearth lsp` (issue 7's
-- hearth.index / hearth.ask): a lexical index of a small fixture, then a question whose answer
-- streams into the split (tiny random-weight chat model: gibberish, but real mechanics) and whose
-- sources land in the quickfix list. Env: HEARTH_BIN, HEARTH_MODEL, HEARTH_PLUGIN, HEARTH_HARNESS.
vim.opt.runtimepath:prepend(os.getenv('HEARTH_PLUGIN'))
package.path = os.getenv('HEARTH_HARNESS') .. '/?.lua;' .. package.path
local H = require('harness')
local api = vim.api
vim.cmd('filetype on')

H.run(function()
  local bin, model = H.env('HEARTH_BIN'), H.env('HEARTH_MODEL')
  if vim.fn.filereadable(model) == 0 then H.skip('no ' .. model) end
  local root = vim.fn.resolve(vim.fn.tempname())
  vim.fn.mkdir(root .. '/.git', 'p')
  vim.fn.mkdir(root .. '/src', 'p')
  vim.fn.writefile({ '/* Parses the configuration file. */', 'int parse_config(const char *path) {',
    '  return path != 0;', '}' }, root .. '/src/config.c')
  vim.fn.writefile({ 'def frobnicate_widgets(ws):', '    return ws' }, root .. '/src/widgets.py')
  local hearth = require('hearth')
  local ask = require('hearth.ask')
  hearth.setup({
    cmd = { bin, 'lsp', '--threads', '2' },
    init_options = { chatModel = model, chatContextSize = 4096 },
    ask_options = { maxTokens = 24 },
  })
  vim.cmd('edit ' .. root .. '/src/config.c')
  local src = api.nvim_get_current_buf()
  H.wait_for(function()
    local c = hearth.get_client(src)
    return c and c.initialized
  end, 'the client to start', 20000)

  -- Asking before indexing: the server's error shows in the answer window, no sources.
  vim.fn.setqflist({}, 'r', { title = 'before', items = {} })
  vim.cmd('HearthAsk too early?')
  local early = api.nvim_get_current_buf()
  H.wait_for(function() return ask.last_answer end, 'the error', 30000)
  local early_text = table.concat(api.nvim_buf_get_lines(early, 0, -1, false), '\n')
  H.ok(early_text:match('error: .*index'), 'the error names the index: ' .. early_text)
  H.eq({}, vim.fn.getqflist(), 'no sources')
  vim.cmd('close')
  ask.last_answer = nil

  vim.cmd('HearthIndex')
  H.wait_for(function() return ask.last_index end, 'the index', 60000)
  H.eq(nil, ask.last_index.error, 'index error')
  H.eq(2, ask.last_index.files, 'files indexed')
  H.ok(vim.loop.fs_stat(root .. '/.hearth'), 'the index is under the root')

  vim.cmd('HearthAsk what does parse_config do?')
  local answer_buf = api.nvim_get_current_buf()
  H.ok(answer_buf ~= src, 'the answer opens in a split')
  H.wait_for(function() return ask.last_answer end, 'the answer', 90000)
  local a = ask.last_answer
  H.ok(a.streamed, 'the answer streamed (hearth/answer notifications)')
  H.ok(#a.text > 0, 'a non-empty answer')
  local lines = api.nvim_buf_get_lines(answer_buf, 0, -1, false)
  H.eq('# what does parse_config do?', lines[1], 'the question heads the buffer')
  local body = table.concat(lines, '\n', 3)
  H.eq(1, body:find(a.text, 1, true), 'the buffer holds the answer')
  H.ok(body:find('\nSources:\n', 1, true), 'the buffer lists the sources')
  local qf = vim.fn.getqflist({ title = 1, items = 1 })
  H.eq('hearth: what does parse_config do?', qf.title, 'quickfix title')
  H.ok(#qf.items >= 1, 'sources in the quickfix list')
  local found = false
  for _, it in ipairs(qf.items) do
    if vim.fn.bufname(it.bufnr) == root .. '/src/config.c' then
      found = true
      H.eq(1, it.lnum, 'config.c source starts at line 1')
    end
  end
  H.ok(found, 'config.c is a source: ' .. vim.inspect(qf.items))
end, 180000)
