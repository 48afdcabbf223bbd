-- README's "Any LSP client" Neovim snippets run as written: the one for this Neovim (0.10+ uses
-- vim.fs.root and vim.lsp.start; 0.7-0.9 the older functions) is taken from README.md, run, and
-- must start `hearth lsp` (from PATH) with the catalogue model it names for a Python buffer, whose
-- completion request then returns the model's suggestion. The other snippet must at least compile.
-- Env: HEARTH_README, HEARTH_HARNESS; PATH holds hearth; XDG_DATA_HOME has the model installed.
package.path = os.getenv('HEARTH_HARNESS') .. '/?.lua;' .. package.path
local H = require('harness')
local api = vim.api
vim.cmd('filetype on')

-- The ```lua block after the first line containing `marker`.
local function snippet(lines, marker)
  local i = 1
  while i <= #lines and not lines[i]:find(marker, 1, true) do i = i + 1 end
  while i <= #lines and lines[i] ~= '```lua' do i = i + 1 end
  local out = {}
  for j = i + 1, #lines do
    if lines[j] == '```' then return table.concat(out, '\n') end
    out[#out + 1] = lines[j]
  end
  error('no lua block after ' .. marker)
end

H.run(function()
  local lines = vim.fn.readfile(H.env('HEARTH_README'))
  local new = snippet(lines, 'Neovim 0.10 or later, built-in client only')
  local old = snippet(lines, 'Neovim 0.7 to 0.9')
  H.ok(new:find('vim.fs.root', 1, true), 'the 0.10 snippet is the vim.fs.root one')
  H.ok(loadstring(new) and loadstring(old), 'both snippets compile')
  local is010 = vim.fn.has('nvim-0.10') == 1
  H.log('running the ' .. (is010 and '0.10+' or '0.7-0.9') .. ' snippet on ' .. tostring(vim.version().major) .. '.' .. tostring(vim.version().minor))
  assert(loadstring(is010 and new or old))()

  local dir = vim.fn.resolve(vim.fn.tempname())
  vim.fn.mkdir(dir .. '/.git', 'p')
  vim.fn.mkdir(dir .. '/sub', 'p')
  vim.fn.writefile({ 'def add(a, b):', '    return a + b', '', 'def mul(a, b):', '    ' }, dir .. '/sub/m.py')
  vim.cmd('edit ' .. dir .. '/sub/m.py')
  local buf = api.nvim_get_current_buf()
  local client = H.wait_for(function()
    for _, c in pairs(vim.lsp.buf_get_clients(buf)) do
      if c.name == 'hearth' and c.initialized then return c end
    end
  end, 'the hearth client from the snippet', 20000)
  H.eq(dir, client.config.root_dir, 'the root is the .git directory above')
  local params = { textDocument = { uri = vim.uri_from_bufnr(buf) }, position = { line = 4, character = 4 } }
  local res = vim.lsp.buf_request_sync(buf, 'textDocument/completion', params, 60000)
  local reply = res and res[client.id]
  H.ok(reply and not reply.err, 'completion reply: ' .. vim.inspect(reply))
  local items = reply.result.items or reply.result
  H.ok(#items == 1 and #items[1].insertText > 0, 'a suggestion: ' .. vim.inspect(reply.result))
end, 90000)
