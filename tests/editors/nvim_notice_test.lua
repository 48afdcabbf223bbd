-- The plugin never fails silently: against a stand-in server (fake_lsp_server.mjs) the test makes
-- send each kind of problem a hearth server reports, and checks that each is shown once with
-- vim.notify saying what to do (however many completion replies repeat it), that the model's
-- loading shows at the cursor while a suggestion is computed, that :checkhealth reports the model
-- the server loaded, and that a server that exits is reported. Env: HEARTH_FAKE_CMD (a JSON list).
vim.opt.runtimepath:prepend(os.getenv('HEARTH_PLUGIN'))
package.path = os.getenv('HEARTH_HARNESS') .. '/?.lua;' .. package.path
local H = require('harness')
local api = vim.api
vim.cmd('filetype on')
vim.o.showmode = false

local notes = {}
vim.notify = function(msg, level)
  notes[#notes + 1] = { msg = msg, level = level }
end

local function count(pat)
  local n = 0
  for _, m in ipairs(notes) do
    if m.msg:find(pat, 1, true) then n = n + 1 end
  end
  return n
end

H.run(function()
  local cmd = vim.fn.json_decode(H.env('HEARTH_FAKE_CMD'))
  local dir = vim.fn.resolve(vim.fn.tempname())
  vim.fn.mkdir(dir .. '/.git', 'p')
  vim.fn.writefile({ 'def f(x):', '    ' }, dir .. '/a.py')
  local hearth = require('hearth')
  hearth.setup({ cmd = cmd, debounce_ms = 10, indicator_ms = 50 })
  vim.cmd('edit ' .. dir .. '/a.py')
  local buf = api.nvim_get_current_buf()
  local client = H.wait_for(function()
    local c = hearth.get_client(buf)
    return c and c.initialized and vim.lsp.buf_is_attached(buf, c.id) and c
  end, 'the client to start', 20000)
  local compat, ghost, notice = require('hearth.compat'), require('hearth.ghost'), require('hearth.notice')
  local function fake(method, params) compat.call(client, 'notify', method, params or {}) end
  local function asked()
    local r = compat.call(client, 'request_sync', 'fake/count', {}, 5000, buf)
    return r and r.result or 0
  end
  local function type_n(n)
    local before = asked()
    for i = 1, n do
      H.type('y')
      H.wait_for(function() return asked() >= before + i end, 'completion request ' .. i, 5000)
    end
  end

  -- 1. No model: every reply is the same error; one notification, naming the pull to run.
  fake('fake/mode', { kind = 'error', error = { code = -32803,
    message = 'no completion model: set initializationOptions.completionModel or --completion-model' } })
  api.nvim_win_set_cursor(0, { 2, 4 })
  H.type('A')
  type_n(4)
  H.wait_for(function() return #notes > 0 end, 'the notification', 5000)
  H.sleep(50)
  H.eq(1, #notes, 'one notification for four failed requests: ' .. vim.inspect(notes))
  H.ok(notes[1].msg:find('no completion model', 1, true), 'names the problem: ' .. notes[1].msg)
  H.ok(notes[1].msg:find('hearth pull qwen2.5-coder-1.5b', 1, true), 'says what to do: ' .. notes[1].msg)

  -- 2. A model that is not there: showMessage, then the replies repeat it: one notification.
  local missing = 'completion model foo: foo: no such file, catalogue name or model in /m (see \'hearth list\')'
  fake('fake/send', { msg = { method = 'window/showMessage', params = { type = 1, message = 'hearth: ' .. missing } } })
  fake('fake/mode', { kind = 'error', error = { code = -32803, message = 'completion: ' .. missing } })
  type_n(3)
  H.wait_for(function() return #notes >= 2 end, 'the second notification', 5000)
  H.sleep(50)
  H.eq(2, #notes, 'one notification per problem: ' .. vim.inspect(notes))
  H.eq(1, count('no such file'), 'the missing model once')
  H.eq(vim.log.levels.ERROR, notes[2].level, 'an error')
  H.ok(notes[2].msg:find('hearth pull --list', 1, true), 'says what to do: ' .. notes[2].msg)
  -- cancellations are not problems
  notice.request_error({ code = -32800, message = 'cancelled' })
  H.sleep(20)
  H.eq(2, #notes, 'a cancelled request is quiet')

  -- 3. The model loading: the indicator at the cursor says so while a suggestion is computed.
  fake('fake/send', { msg = { id = 'c1', method = 'window/workDoneProgress/create', params = { token = 'hearth/progress/1' } } })
  fake('fake/send', { msg = { method = '$/progress', params = { token = 'hearth/progress/1',
    value = { kind = 'begin', title = 'hearth: loading the completion model', message = '/m/coder.gguf' } } } })
  H.wait_for(function() return notice.state.loading end, 'the loading state', 5000)
  fake('fake/mode', { kind = 'hold' })
  type_n(1)
  H.wait_for(function() return ghost.waiting() end, 'the indicator', 5000)
  H.eq('hearth: loading coder.gguf…', ghost.waiting(), 'the indicator names the model')
  local wait_ns = api.nvim_create_namespace('hearth_wait')
  local marks = api.nvim_buf_get_extmarks(buf, wait_ns, 0, -1, { details = true })
  H.eq(1, #marks, 'one indicator mark')
  H.eq(1, marks[1][2], 'on the cursor line')
  H.eq('hearth: loading coder.gguf…', marks[1][4].virt_text[1][1], 'its text')
  fake('fake/send', { msg = { method = '$/progress', params = { token = 'hearth/progress/1', value = { kind = 'end', message = 'loaded' } } } })
  fake('fake/send', { msg = { method = 'window/logMessage', params = { type = 3, message = 'completion model loaded: /m/coder.gguf' } } })
  H.wait_for(function() return notice.state.model end, 'the loaded model', 5000)
  H.eq(nil, notice.state.loading, 'loaded')
  fake('fake/release', { text = 'return x' })
  H.wait_for(function() return ghost.visible() end, 'the suggestion', 5000)
  H.eq(nil, ghost.waiting(), 'the indicator goes with the suggestion')
  H.eq(0, #api.nvim_buf_get_extmarks(buf, wait_ns, 0, -1, {}), 'no indicator mark')
  H.eq('return x', ghost.current().text, 'the suggestion')
  -- later slow suggestions show the plain indicator
  fake('fake/mode', { kind = 'hold' })
  H.type('<C-]>')
  type_n(1)
  H.wait_for(function() return ghost.waiting() end, 'the indicator again', 5000)
  H.eq('hearth: …', ghost.waiting(), 'the plain indicator')
  H.type('<Esc>')
  H.wait_for(function() return not ghost.waiting() end, 'the indicator gone on <Esc>', 5000)
  H.eq(2, #notes, 'loading is not a problem')

  -- 4. :checkhealth agrees with the server: the model it loaded, no warning or error about models.
  vim.cmd('checkhealth hearth')
  local report = table.concat(api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  local models = report:match('hearth models(.-)hearth server') or ''
  H.ok(models:find('completion model in use: /m/coder.gguf', 1, true), 'health: the model in use\n' .. report)
  H.ok(not models:find('WARN') and not models:find('ERROR'), 'health: no model warnings\n' .. report)
  vim.cmd('bwipe!')
  H.eq(2, #notes, 'checkhealth notifies nothing')

  -- 5. A model without FIM tokens (a load that fails): its end message, advice about FIM models.
  fake('fake/send', { msg = { method = '$/progress', params = { token = 'hearth/progress/1',
    value = { kind = 'begin', title = 'hearth: loading the completion model', message = 'chat.gguf' } } } })
  fake('fake/send', { msg = { method = '$/progress', params = { token = 'hearth/progress/1', value = { kind = 'end',
    message = 'model "chat" (llama) has no fill-in-the-middle tokens: completion needs a base code model' } } } })
  H.wait_for(function() return #notes >= 3 end, 'the FIM notification', 5000)
  H.ok(notes[3].msg:find('FIM tokens', 1, true), 'says what to do: ' .. notes[3].msg)
  H.eq(nil, notice.state.loading, 'not loading after a failed load')

  -- hearth/model says the same without a progress token: loading, then a failure shown once
  fake('fake/send', { msg = { method = 'hearth/model', params = { state = 'loading', model = 'qwen2.5-coder-7b' } } })
  H.wait_for(function() return notice.state.loading == 'qwen2.5-coder-7b' end, 'hearth/model loading', 5000)
  local not_installed = "completion model qwen2.5-coder-7b: qwen2.5-coder-7b is not installed in /m: run 'hearth pull qwen2.5-coder-7b'"
  fake('fake/send', { msg = { method = 'hearth/model', params = { state = 'failed', model = 'qwen2.5-coder-7b', message = not_installed } } })
  fake('fake/send', { msg = { method = 'window/showMessage', params = { type = 1, message = 'hearth: ' .. not_installed } } })
  H.wait_for(function() return #notes >= 4 end, 'the not-installed notification', 5000)
  H.sleep(50)
  H.eq(1, count('is not installed'), 'once: ' .. vim.inspect(notes))
  H.eq(nil, notice.state.loading, 'not loading after hearth/model failed')

  -- 6. The server exits: shown once, as an error.
  fake('fake/exit', { code = 3 })
  H.wait_for(function() return #notes >= 5 end, 'the exit notification', 10000)
  H.ok(notes[5].msg:find('the server exited (code 3', 1, true), 'the exit: ' .. notes[4].msg)
  H.eq(vim.log.levels.ERROR, notes[5].level, 'an error')
  H.sleep(100)
  -- Neovim adds its own "Client N quit with exit code 3" (without what to do)
  H.eq(1, count('the server exited'), 'once: ' .. vim.inspect(notes))
  H.eq(5, count('hearth: '), 'nothing else from hearth: ' .. vim.inspect(notes))

  -- 7. No hearth binary: saying where it was looked for and how to fix it.
  hearth.setup({ cmd = { dir .. '/no-such-hearth', 'lsp' } })
  vim.fn.mkdir(dir .. '/other/.git', 'p')
  vim.fn.writefile({ 'x = 1' }, dir .. '/other/b.py')
  pcall(vim.cmd, 'edit ' .. dir .. '/other/b.py')
  H.wait_for(function() return count('put hearth on PATH') >= 1 end, 'the no-binary notification: ' .. vim.inspect(notes), 5000)
end, 60000)
