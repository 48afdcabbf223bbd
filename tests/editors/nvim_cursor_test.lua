-- Headless Neovim: the plugin's hearth/cursor notifications (hearth.cursor) reach the real
-- `hearth lsp`, which evaluates the prompt at the cursor ahead of the request: on attach, after a
-- cursor jump in normal mode; an edit sends none (its inline request tells the server). The
-- server's prefill counts come from a FIM-lane hearth/debugWork (queued behind the prefills).
-- Env: HEARTH_BIN, HEARTH_MODEL, HEARTH_PLUGIN (editors/nvim), HEARTH_HARNESS (tests/editors).
vim.opt.runtimepath:prepend(os.getenv('HEARTH_PLUGIN'))
package.path = os.getenv('HEARTH_HARNESS') .. '/?.lua;' .. package.path
local H = require('harness')
local api = vim.api
vim.cmd('filetype on')

H.run(function()
  local bin, model = H.env('HEARTH_BIN'), H.env('HEARTH_MODEL')
  if vim.fn.filereadable(model) == 0 then H.skip('no ' .. model) end
  local dir = vim.fn.tempname()
  vim.fn.mkdir(dir .. '/.git', 'p')
  local lines = {}
  for i = 0, 30 do
    lines[#lines + 1] = ('def f%d(x):'):format(i)
    lines[#lines + 1] = ('    return x * %d + 1'):format(i)
  end
  vim.fn.writefile(lines, dir .. '/f.py')
  local hearth = require('hearth')
  hearth.setup({ cmd = { bin, 'lsp' }, init_options = { completionModel = model, threads = 1, maxPromptMs = 0, maxGenMs = 0 },
    auto_trigger = false, cursor_debounce_ms = 20 })
  vim.cmd('edit ' .. dir .. '/f.py')
  local buf = api.nvim_get_current_buf()
  local client = H.wait_for(function()
    local c = hearth.get_client(buf)
    return c and c.initialized and vim.lsp.buf_is_attached(buf, c.id) and c
  end, 'the client to attach', 20000)

  local function prefills()
    local answer
    require('hearth.compat').call(client, 'request', 'hearth/debugWork', { ms = 0, lane = 'fim' },
      function(err, result) answer = { err = err, result = result } end, buf)
    H.wait_for(function() return answer end, 'hearth/debugWork', 60000)
    H.ok(not answer.err, vim.inspect(answer.err))
    return answer.result.prefill
  end
  local function settled(n, what)
    local p
    H.wait_for(function()
      p = prefills()
      return p.submitted >= n and p.finished + p.cancelled >= p.submitted
    end, what, 60000)
    return p
  end

  -- On attach: the cursor (line 1) — and not the didOpen guess, which the notification replaces.
  local p = settled(1, 'the prefill on attach')
  H.eq('cursor', p.last.why, 'why')
  H.eq(1, p.submitted, 'one prefill')

  -- A jump in normal mode: a prefill there.
  api.nvim_win_set_cursor(0, { 40, 4 })
  p = settled(2, 'the prefill after a jump')
  H.eq('cursor', p.last.why, 'why after the jump')
  H.ok(p.last.nReused > 0 and p.last.nEvaluated > 0, 'reused the file head: ' .. vim.inspect(p.last))

  -- Insert mode: InsertEnter tells the cursor; typing then sends nothing (each edit brings its
  -- own inline request; auto_trigger is off here, and the server's idle prefill waits 300 ms).
  H.type('A')
  p = settled(3, 'the prefill on InsertEnter')
  H.type(' # note')
  H.sleep(150)
  H.eq(p.submitted, prefills().submitted, 'no notification while typing')
  -- Back in normal mode the cursor steps left (a move without an edit: sent); staying put sends
  -- nothing more.
  H.type('<Esc>')
  H.sleep(100)
  local q = prefills()
  vim.api.nvim_exec_autocmds('CursorHold', { buffer = buf })
  H.sleep(100)
  local r = prefills()
  H.eq(q.submitted + q.skipped, r.submitted + r.skipped, 'the same place is not sent twice')
end)
