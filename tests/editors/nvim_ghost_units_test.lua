-- The ghost-text mechanics without a server: multi-line rendering (virt_text + virt_lines),
-- accept word / line / all, typing through (also across a line break), clearing on a mismatch or
-- a cursor move, and the reply parsing (range trimming, StringValue, hostile shapes).
vim.opt.runtimepath:prepend(os.getenv('HEARTH_PLUGIN'))
package.path = os.getenv('HEARTH_HARNESS') .. '/?.lua;' .. package.path
local H = require('harness')
local api = vim.api
vim.o.autoindent = false
vim.o.showmode = false

H.run(function()
  require('hearth').setup({ filetypes = {}, auto_trigger = false })
  local ghost = require('hearth.ghost')
  local buf = api.nvim_get_current_buf()
  ghost.attach(buf)
  api.nvim_buf_set_lines(buf, 0, -1, false, { 'x = ', 'tail' })

  local function shown_marks()
    local m = api.nvim_buf_get_extmarks(buf, ghost.ns, 0, -1, { details = true })
    if #m ~= 1 then return #m end
    local d = m[1][4]
    local vl = {}
    for _, l in ipairs(d.virt_lines or {}) do vl[#vl + 1] = l[1][1] end
    return { row = m[1][2], col = m[1][3], text = d.virt_text and d.virt_text[1][1], hl = d.virt_text and d.virt_text[1][2], lines = vl }
  end
  local function show(text)
    vim.cmd('redraw') -- let pending autocommands run first
    ghost.show(text)
  end

  api.nvim_win_set_cursor(0, { 1, 0 })
  H.type('A')
  H.eq('i', api.nvim_get_mode().mode, 'insert mode')
  show('foo(1)\n  bar\nbaz')
  H.eq({ row = 0, col = 4, text = 'foo(1)', hl = 'HearthSuggestion', lines = { '  bar', 'baz' } }, shown_marks(),
    'first line as virt_text, the others as virt_lines')

  -- Typing through keeps the rest; a mismatch hides it.
  H.type('fo')
  H.eq('o(1)\n  bar\nbaz', ghost.current().text, 'typed "fo"')
  H.eq({ row = 0, col = 6, text = 'o(1)', hl = 'HearthSuggestion', lines = { '  bar', 'baz' } }, shown_marks(), 'moved')
  H.type('X')
  H.eq(nil, ghost.current(), 'a mismatch hides')
  H.eq(0, shown_marks(), 'no extmark')

  -- Accept line, line, word, all.
  H.type('<BS><BS><BS>')
  H.eq('x = ', api.nvim_get_current_line(), 'back to start')
  show('foo(1)\n  bar\nbaz')
  H.type('<M-Down>')
  H.eq('x = foo(1)', api.nvim_get_current_line(), 'accept-line takes the first line')
  H.eq({ row = 0, col = 10, lines = { '  bar', 'baz' } }, shown_marks(), 'only virt_lines left')
  H.type('<M-Down>')
  H.eq({ 'x = foo(1)', '  bar', 'tail' }, api.nvim_buf_get_lines(buf, 0, -1, false), 'accept-line takes the next line')
  H.eq({ row = 1, col = 5, lines = { 'baz' } }, shown_marks(), 'one virtual line left')
  H.type('<M-Right>')
  H.eq({ 'x = foo(1)', '  bar', '', 'tail' }, api.nvim_buf_get_lines(buf, 0, -1, false), 'accept-word takes the line break')
  H.eq({ row = 2, col = 0, text = 'baz', hl = 'HearthSuggestion', lines = {} }, shown_marks(), 'baz left')
  H.type('<Tab>')
  H.eq({ 'x = foo(1)', '  bar', 'baz', 'tail' }, api.nvim_buf_get_lines(buf, 0, -1, false), 'Tab takes the rest')
  H.eq({ 3, 3 }, api.nvim_win_get_cursor(0), 'cursor at the end of the accepted text')
  H.eq(nil, ghost.current(), 'nothing left')

  -- Typing through a line break.
  show('\nnext')
  H.type('<CR>')
  H.eq('next', ghost.current() and ghost.current().text, 'kept across <CR>')
  H.eq({ row = 3, col = 0, text = 'next', hl = 'HearthSuggestion', lines = {} }, shown_marks(), 'on the new line')

  -- Moving the cursor clears; so does <C-]>, and <Esc>.
  H.type('ab<Left>')
  show('zzz')
  H.type('<Right>')
  H.eq(nil, ghost.current(), 'a cursor move clears')
  show('zzz')
  H.type('<C-]>')
  H.eq(nil, ghost.current(), '<C-]> clears')
  show('zzz')
  H.type('<Esc>')
  H.eq(nil, ghost.current(), '<Esc> clears')
  H.eq(0, shown_marks(), 'no extmark after <Esc>')

  -- Reply parsing: the part already typed since the range start is trimmed.
  local function pick(result, line, col, enc)
    return ghost.pick(result, line, 0, col, enc or 'utf-16')
  end
  local at = function(c) return { start = { line = 0, character = c }, ['end'] = { line = 0, character = c } } end
  H.eq('bar', pick({ items = { { insertText = 'bar', range = at(3) } } }, 'foo', 3), 'range at the cursor')
  H.eq('ar', pick({ items = { { insertText = 'bar', range = at(3) } } }, 'foob', 4), 'one char typed since')
  H.eq(nil, pick({ items = { { insertText = 'bar', range = at(3) } } }, 'fooz', 4), 'typed text that differs')
  H.eq('x', pick({ { insertText = { kind = 'snippet', value = 'x' } } }, '', 0), 'an item array and a StringValue')
  H.eq('é!', pick({ items = { { insertText = 'éé!', range = at(1) } } }, 'aé', #'aé'), 'UTF-16 columns')
  H.eq('é!', pick({ items = { { insertText = 'éé!', range = at(1) } } }, 'aé', #'aé', 'utf-8'), 'UTF-8 columns')
  for _, bad in ipairs({ vim.NIL, 5, 'x', {}, { items = 3 }, { items = { 7 } }, { items = { { insertText = '' } } },
    { items = { { insertText = 5 } } } }) do
    H.eq(nil, pick(bad, 'foo', 3), 'hostile reply ' .. vim.inspect(bad))
  end
  H.eq(' foo', ghost.next_word(' foo.bar'), 'next word')
  H.eq('.', ghost.next_word('.bar'), 'punctuation run')
  H.eq('\n  ', ghost.next_word('\n  x'), 'line break with indent')
  H.eq('ab', ghost.next_line('ab\ncd'), 'next line')
  H.eq('\ncd', ghost.next_line('\ncd\nef'), 'next line after a break')
end, 30000)
