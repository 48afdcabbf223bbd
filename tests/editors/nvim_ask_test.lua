-- :HearthAsk and :HearthIndex in headless Neovim. The server is HEARTH_ASK_CMD (a JSON list):
-- tests/editors/fake_ask_server.mjs, which speaks issue 7's protocol (streamed hearth/answer
-- notifications, then done + sources and the response {answer, sources}) at a pace the test sets.
vim.opt.runtimepath:prepend(os.getenv('HEARTH_PLUGIN'))
package.path = os.getenv('HEARTH_HARNESS') .. '/?.lua;' .. package.path
local H = require('harness')
local api = vim.api
vim.cmd('filetype on')

H.run(function()
  local cmd = vim.fn.json_decode(H.env('HEARTH_ASK_CMD'))
  local dir = vim.fn.resolve(vim.fn.tempname())
  vim.fn.mkdir(dir .. '/.git', 'p')
  vim.fn.writefile({ 'int main(void) { return 0; }' }, dir .. '/main.c')
  vim.env.FAKE_ROOT = dir -- the fake server's sources live under the workspace
  local hearth = require('hearth')
  hearth.setup({ cmd = cmd })
  vim.cmd('edit ' .. dir .. '/main.c')
  local src = api.nvim_get_current_buf()
  local client = H.wait_for(function()
    local c = hearth.get_client(src)
    return c and c.initialized and c
  end, 'the client to start', 20000)

  -- The question goes out as hearth.ask [{question}]; the answer window fills as chunks stream.
  vim.cmd('HearthAsk where is the allocator?')
  local answer = api.nvim_get_current_buf()
  H.ok(answer ~= src, 'the answer opens in its own window')
  H.eq(2, #api.nvim_tabpage_list_wins(0), 'a split')
  H.eq('nofile', vim.bo[answer].buftype, 'a scratch buffer')
  local function text()
    return table.concat(api.nvim_buf_get_lines(answer, 0, -1, false), '\n')
  end
  H.wait_for(function() return text():find('streams in', 1, true) end, 'the streamed chunks', 10000)
  H.eq('# where is the allocator?\n\nThe answer streams in\n', text(), 'streamed so far')
  H.eq(0, #vim.fn.getqflist(), 'no sources before the end')

  require('hearth.compat').call(client, 'notify', 'fake/finish', {})
  H.wait_for(function() return #vim.fn.getqflist() > 0 end, 'the quickfix list', 10000)
  H.wait_for(function() return text():find('Sources:', 1, true) end, 'the sources in the buffer')
  H.eq(table.concat({ '# where is the allocator?', '', 'The answer streams in', 'over two lines.', '',
    'Sources:', '- src/alpha.c:10-20', '- src/beta.py:1-5' }, '\n'), text():gsub(vim.pesc(dir) .. '/', ''),
    'the whole answer')
  local qf = vim.fn.getqflist({ title = 1, items = 1 })
  H.eq('hearth: where is the allocator?', qf.title, 'quickfix title')
  H.eq(2, #qf.items, 'two sources')
  H.eq(dir .. '/src/alpha.c', vim.fn.bufname(qf.items[1].bufnr), 'first source file')
  H.eq({ 10, 20, 1 }, { qf.items[1].lnum, qf.items[1].end_lnum, qf.items[1].col }, 'first source lines')
  H.eq(dir .. '/src/beta.py', vim.fn.bufname(qf.items[2].bufnr), 'second source file')
  H.eq(1, qf.items[2].lnum, 'second source line')

  -- An answer that comes only in the response (no notifications).
  local ask = require('hearth.ask')
  ask.last_answer = nil
  vim.cmd('HearthAsk whole: the parser')
  local whole = api.nvim_get_current_buf()
  H.wait_for(function() return ask.last_answer end, 'the response', 10000)
  H.eq({ '# whole: the parser', '', 'Whole answer to the parser.', '', 'Sources:', '- src/beta.py:1-5' },
    vim.tbl_map(function(l) return (l:gsub(vim.pesc(dir) .. '/', '')) end, api.nvim_buf_get_lines(whole, 0, -1, false)),
    'the response alone fills the buffer')
  H.eq(1, #vim.fn.getqflist(), 'its one source')
  H.eq(false, ask.last_answer.streamed, 'not streamed')
  vim.cmd('close')

  -- :HearthIndex sends hearth.index.
  vim.cmd('wincmd p')
  vim.cmd('HearthIndex')
  local res = H.wait_for(function()
    local r = require('hearth.compat').call(client, 'request_sync', 'fake/commands', {}, 1000, src)
    return r and r.result and #r.result == 3 and r.result
  end, 'hearth.index at the server', 10000)
  H.eq({ 'hearth.ask', 'hearth.ask', 'hearth.index' }, res, 'commands the server received')

  -- Without a question the command refuses (nargs=+).
  local ok = pcall(vim.cmd, 'HearthAsk')
  H.eq(false, ok, ':HearthAsk without a question fails')
end, 60000)
