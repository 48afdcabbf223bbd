-- The walk-through's editor step (tools/walkthrough.sh): the installed plugin, set up as the README
-- says with the model given by its catalogue name and `hearth` found on PATH, shows ghost text in
-- a fresh file, and :checkhealth hearth finds no problem with the models (nor without one set:
-- the installed default). Env: HEARTH_PLUGIN (the
-- installed share/hearth/nvim), HEARTH_HARNESS, WALK_FILE (a file in a git repository).
vim.opt.runtimepath:prepend(os.getenv('HEARTH_PLUGIN'))
package.path = os.getenv('HEARTH_HARNESS') .. '/?.lua;' .. package.path
local H = require('harness')
local api = vim.api
vim.cmd('filetype on')
local notes = {}
vim.notify = function(msg) notes[#notes + 1] = msg end

H.run(function()
  local hearth = require('hearth')
  hearth.setup({ init_options = { completionModel = 'qwen2.5-coder-1.5b', threads = 2 } })
  vim.cmd('edit ' .. H.env('WALK_FILE'))
  local buf = api.nvim_get_current_buf()
  H.wait_for(function()
    local c = hearth.get_client(buf)
    return c and c.initialized and vim.lsp.buf_is_attached(buf, c.id)
  end, 'the client to attach', 20000)
  local ghost = require('hearth.ghost')
  api.nvim_win_set_cursor(0, { api.nvim_buf_line_count(buf), 0 })
  H.type('o')
  local chars = 'ret'
  for i = 1, #chars do
    H.type(chars:sub(i, i))
    if pcall(H.wait_for, function() return ghost.visible() and not ghost.busy() end, 'ghost text', 30000) then break end
  end
  H.ok(ghost.visible(), 'ghost text is shown; notifications: ' .. vim.inspect(notes))
  H.log('ghost text: ' .. vim.inspect(ghost.current().text))
  H.type('<Esc>')
  vim.cmd('checkhealth hearth')
  local report = table.concat(api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  local models = report:match('hearth models(.-)hearth server') or ''
  H.ok(models:find('qwen2.5-coder-1.5b', 1, true) and not models:find('ERROR') and not models:find('WARN'),
    'checkhealth: the catalogue name resolves, no warnings\n' .. report)
  H.ok(report:find('OK:? found'), 'checkhealth: hearth found on PATH\n' .. report)
  H.eq({}, notes, 'no problem notified')

  -- Without completionModel the server takes the installed default: :checkhealth says so, no warning.
  vim.lsp.stop_client(vim.lsp.get_active_clients())
  H.wait_for(function() return hearth.get_client(0) == nil end, 'the server to stop', 10000)
  hearth.config.init_options = {}
  vim.cmd('checkhealth hearth')
  report = table.concat(api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  models = report:match('hearth models(.-)hearth server') or ''
  H.ok(models:find('installed default', 1, true) and not models:find('WARN') and not models:find('ERROR'),
    'checkhealth: the installed default, no warning\n' .. report)
end, 90000)
