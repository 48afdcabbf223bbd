-- Headless Neovim drives the real plugin against the real `hearth lsp` on a tiny FIM model
-- (random weights: gibberish, but deterministic under greedy decoding). The expected suggestion
-- is asked from the server directly at the same position, so the test knows the exact text.
-- Env: HEARTH_BIN, HEARTH_MODEL, HEARTH_PLUGIN (editors/nvim), HEARTH_HARNESS (tests/editors).
vim.opt.runtimepath:prepend(os.getenv('HEARTH_PLUGIN'))
package.path = os.getenv('HEARTH_HARNESS') .. '/?.lua;' .. package.path
local H = require('harness')
local api = vim.api
vim.cmd('filetype on')
vim.o.autoindent = false -- Neovim's default copies indent into 'o' lines
vim.o.showmode = false

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
  vim.list_extend(lines, { 'def fib(n):', '    ', '', 'print(fib(10))' })
  local fib_row = #lines - 2 -- the "    " line, 1-based
  vim.fn.writefile(lines, dir .. '/fib.py')

  local loaded = false
  local log_handler = vim.lsp.handlers['window/logMessage']
  vim.lsp.handlers['window/logMessage'] = function(err, params, ctx, cfg)
    if params and params.message:match('completion model loaded') then loaded = true end
    if params and params.message:match('completion model:') then H.log(params.message) end
    return log_handler(err, params, ctx, cfg)
  end

  local hearth = require('hearth')
  hearth.setup({
    cmd = { bin, 'lsp' },
    init_options = { completionModel = model, threads = 2, maxPromptMs = 0, maxGenMs = 0 },
    debounce_ms = 20,
  })
  H.eq(1, vim.fn.hlexists('HearthSuggestion'), 'HearthSuggestion exists')
  vim.cmd('edit ' .. dir .. '/fib.py')
  local buf = api.nvim_get_current_buf()
  H.eq('python', vim.bo.filetype, 'filetype')
  local client = H.wait_for(function()
    local c = hearth.get_client(buf)
    return c and c.initialized and vim.lsp.buf_is_attached(buf, c.id) and c
  end, 'the client to attach', 20000)
  H.eq(dir, client.config.root_dir, 'root dir from the .git marker')
  H.wait_for(function() return loaded end, 'the model to load', 60000)
  local ghost = require('hearth.ghost')

  -- What the server suggests at the cursor, asked directly.
  local function server_suggestion()
    local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
    local answer
    require('hearth.compat').call(client, 'request', 'textDocument/inlineCompletion', params, function(err, result)
      answer = { err = err, result = result }
    end, buf)
    H.wait_for(function() return answer end, 'the direct request', 30000)
    H.ok(not answer.err, 'direct request: ' .. vim.inspect(answer.err))
    local row, col = unpack(api.nvim_win_get_cursor(0))
    local line = api.nvim_get_current_line()
    return ghost.pick(answer.result, line, row - 1, col, client.offset_encoding)
  end

  local function marks()
    return api.nvim_buf_get_extmarks(buf, ghost.ns, 0, -1, { details = true })
  end

  -- Checks the extmark shows `text` at the cursor: first line as virt_text, others as virt_lines.
  local function assert_shown(text, what)
    local cur = ghost.current()
    H.ok(cur, what .. ': a suggestion is shown')
    H.eq(text, cur.text, what .. ': suggestion text')
    local row, col = unpack(api.nvim_win_get_cursor(0))
    local m = marks()
    H.eq(1, #m, what .. ': one extmark')
    H.eq({ row - 1, col }, { m[1][2], m[1][3] }, what .. ': extmark at the cursor')
    local want = vim.split(text, '\n', { plain = true })
    local d = m[1][4]
    if want[1] ~= '' then
      H.eq({ { want[1], 'HearthSuggestion' } }, d.virt_text, what .. ': virt_text')
    else
      H.eq(nil, d.virt_text, what .. ': no virt_text')
    end
    local got_lines = {}
    for _, vl in ipairs(d.virt_lines or {}) do
      H.eq('HearthSuggestion', vl[1][2], what .. ': virt_lines highlight')
      got_lines[#got_lines + 1] = vl[1][1]
    end
    H.eq({ unpack(want, 2) }, got_lines, what .. ': virt_lines')
  end

  -- Types characters one at a time until a suggestion shows (a position can have an empty one).
  local function type_until_suggestion(chars, what)
    for i = 1, #chars do
      H.type(chars:sub(i, i))
      local ok = pcall(H.wait_for, function() return ghost.visible() and not ghost.busy() end, what, 15000)
      if ok then return end
    end
    error('no suggestion after typing ' .. chars .. ' (' .. what .. ')')
  end

  -- 1. Type at the end of "    " in fib(): ghost text appears with the server's suggestion.
  api.nvim_win_set_cursor(0, { fib_row, 4 })
  H.type('A')
  H.eq('i', api.nvim_get_mode().mode, 'insert mode')
  H.type('r')
  -- streamed: visible with the first partial text, whole once the request is answered
  H.wait_for(function() return ghost.visible() and not ghost.busy() end, 'ghost text after typing', 30000)
  local before = vim.deepcopy(ghost.stats)
  local expected = server_suggestion()
  H.ok(expected and #expected > 1, 'the server suggests something: ' .. vim.inspect(expected))
  assert_shown(expected, 'after typing')
  H.log('suggestion: ' .. vim.inspect(expected))

  -- 2. Typing the suggestion's first character keeps it (trimmed), with no new request.
  local c = vim.fn.strcharpart(expected, 0, 1)
  local t0 = api.nvim_buf_get_changedtick(buf)
  H.type(({ ['\n'] = '<CR>', ['<'] = '<lt>' })[c] or c)
  H.wait_for(function() return api.nvim_buf_get_changedtick(buf) > t0 end, 'the typed char')
  H.sleep(100) -- longer than the debounce: a re-request would have been sent by now
  assert_shown(expected:sub(#c + 1), 'after typing through')
  H.eq(before.requests, ghost.stats.requests, 'no new request while typing through')

  -- 3. <Tab> inserts the rest of the suggestion and moves the cursor to its end.
  H.type('<Tab>')
  local want = vim.split('    r' .. expected, '\n', { plain = true })
  H.wait_for(function()
    return vim.deep_equal(want, api.nvim_buf_get_lines(buf, fib_row - 1, fib_row - 1 + #want, false))
  end, 'the accepted text in the buffer')
  local row, col = unpack(api.nvim_win_get_cursor(0))
  H.eq({ fib_row - 1 + #want, #want[#want] }, { row, col }, 'cursor after accept')
  H.eq({ '', 'print(fib(10))' }, api.nvim_buf_get_lines(buf, -3, -1, false), 'the lines after')

  -- 4. <Esc> clears the suggestion shown after accepting.
  if not pcall(H.wait_for, function() return ghost.visible() end, 'the next suggestion', 15000) then
    type_until_suggestion(' xyz', 'the next suggestion')
  end
  H.type('<Esc>')
  H.wait_for(function() return api.nvim_get_mode().mode == 'n' end, 'normal mode')
  H.eq(false, ghost.visible(), 'nothing shown after <Esc>')
  H.eq(0, #marks(), 'no extmarks after <Esc>')

  -- 5. <C-]> dismisses without touching the text.
  H.type('o')
  type_until_suggestion('xyz', 'a suggestion on a new line')
  local text_before = api.nvim_buf_get_lines(buf, 0, -1, false)
  H.type('<C-]>')
  H.wait_for(function() return not ghost.visible() end, 'dismissal')
  H.eq(0, #marks(), 'no extmarks after <C-]>')
  H.eq(text_before, api.nvim_buf_get_lines(buf, 0, -1, false), 'text unchanged by <C-]>')

  -- 6. <Tab> with nothing shown is a plain Tab (typed before the debounce can fire).
  H.type('<Esc>')
  H.type('o<Tab>')
  H.eq('\t', api.nvim_get_current_line(), 'a real tab')

  -- 7. Accept word / line take a part and keep the rest shown.
  H.type('<BS>')
  type_until_suggestion('yzw', 'a suggestion for accept-word')
  local full, before_word = ghost.current().text, api.nvim_get_current_line()
  local word = ghost.next_word(full)
  H.type('<M-Right>')
  H.wait_for(function()
    return vim.startswith(api.nvim_get_current_line(), before_word .. word:match('^[^\n]*'))
  end, 'the accepted word')
  if #word < #full then assert_shown(full:sub(#word + 1), 'after accept-word') end
  H.type('<Esc>')

  -- 8. :checkhealth hearth finds the binary and a live server.
  vim.cmd('checkhealth hearth')
  local report = table.concat(api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  H.ok(report:match('OK:? found ' .. vim.pesc(bin)) or report:match('OK:? found'), 'health: binary\n' .. report)
  H.ok(report:match('OK:? completionModel'), 'health: model\n' .. report)
  H.ok(report:match('OK:? server alive'), 'health: server\n' .. report)
  vim.cmd('bwipe!')
end, 180000)
