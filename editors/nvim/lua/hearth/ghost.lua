-- Ghost text: asks the server for textDocument/inlineCompletion after typing (debounced, the
-- previous request cancelled) and shows the suggestion at the cursor with one extmark: the rest of
-- the line as virt_text, further lines as virt_lines, all in the HearthSuggestion highlight.
-- Typing characters that match the suggestion keeps it (the typed part is trimmed off, no new
-- request); anything else hides it and asks again.
-- Streaming: each request carries hearth = { stream = token }; a hearth server then sends the
-- suggestion so far as hearth/inlineCompletionPartial {token, text} notifications (the whole text
-- each time, every one extending the last) before its reply. The ghost text grows with them;
-- typing what they show keeps the request generating, typing anything else cancels it. Servers
-- that do not stream simply reply, as before.
local M = {}

local api = vim.api
local compat = require('hearth.compat')
local ns = api.nvim_create_namespace('hearth_ghost')
local wait_ns = api.nvim_create_namespace('hearth_wait') -- the indicator while a suggestion is computed
local has_inline = vim.fn.has('nvim-0.10') == 1 -- virt_text_pos = 'inline' pushes the line's rest

local config = { debounce_ms = 25, auto_trigger = true, keymaps = {}, indicator_ms = 300 }
local shown = nil -- { buf, row, col (0-based bytes, = cursor), text, tick (our own edits) }
-- The in-flight request: { client, id, token, buf, row, col (where it asked), text (its suggestion
-- so far, streamed), at = { tick, row, col } (where typing that agrees with it left the cursor) }
local pending = nil
local seq = 0
local timer = nil
local wait_timer = nil
local waiting = nil -- { buf, text } of the indicator on screen

M.ns = ns
M.stats = { requests = 0, cancelled = 0, shown = 0, partials = 0 } -- for tests and :checkhealth

local function cursor()
  local c = api.nvim_win_get_cursor(0)
  return c[1] - 1, c[2]
end

local function in_insert()
  return api.nvim_get_mode().mode:sub(1, 1) == 'i'
end

local function tick(buf)
  return api.nvim_buf_get_changedtick(buf)
end

local function split_lines(s)
  return vim.split(s, '\n', { plain = true })
end

local function render()
  local s = shown
  api.nvim_buf_clear_namespace(s.buf, ns, 0, -1)
  local lines = split_lines(s.text)
  local opts = { hl_mode = 'combine' }
  if lines[1] ~= '' then
    opts.virt_text = { { lines[1], 'HearthSuggestion' } }
    if has_inline then
      opts.virt_text_pos = 'inline'
    else -- 0.7-0.9: overlay at the line's end, else after it
      local line = api.nvim_buf_get_lines(s.buf, s.row, s.row + 1, false)[1] or ''
      opts.virt_text_pos = s.col >= #line and 'overlay' or 'eol'
    end
  end
  if #lines > 1 then
    opts.virt_lines = {}
    for i = 2, #lines do
      opts.virt_lines[#opts.virt_lines + 1] = { { lines[i], 'HearthSuggestion' } }
    end
  end
  s.mark = api.nvim_buf_set_extmark(s.buf, ns, s.row, s.col, opts)
end

-- Hides the suggestion (the in-flight request stays).
local function hide()
  if shown and api.nvim_buf_is_valid(shown.buf) then
    api.nvim_buf_clear_namespace(shown.buf, ns, 0, -1)
  end
  shown = nil
end

-- Removes the indicator that a suggestion is being computed.
local function unindicate()
  if wait_timer then wait_timer:stop() end
  if waiting and api.nvim_buf_is_valid(waiting.buf) then api.nvim_buf_clear_namespace(waiting.buf, wait_ns, 0, -1) end
  waiting = nil
end

-- After indicator_ms with the request `p` still computing and nothing shown, an indicator at the
-- end of the cursor line ("loading the model" while the server loads it: the first suggestion
-- can take seconds, and silence looks like a broken setup).
local function indicate_later(p)
  unindicate()
  local ms = config.indicator_ms
  if type(ms) ~= 'number' or ms < 0 then return end
  if not wait_timer then wait_timer = compat.uv.new_timer() end
  wait_timer:start(ms, 0, vim.schedule_wrap(function()
    if pending ~= p or shown or not in_insert() or api.nvim_get_current_buf() ~= p.buf then return end
    local loading = require('hearth.notice').state.loading
    local text = loading and ('hearth: loading ' .. vim.fn.fnamemodify(loading, ':t') .. '…') or 'hearth: …'
    local row = cursor()
    waiting = { buf = p.buf, text = text }
    api.nvim_buf_set_extmark(p.buf, wait_ns, row, 0, { virt_text = { { text, 'HearthWaiting' } }, virt_text_pos = 'eol' })
  end))
end

-- The indicator's text while it is shown, else nil.
function M.waiting()
  return waiting and waiting.text
end

local function cancel_pending()
  if timer then timer:stop() end
  unindicate()
  if pending then
    pcall(compat.call, pending.client, 'cancel_request', pending.id)
    M.stats.cancelled = M.stats.cancelled + 1
    pending = nil
  end
end

-- Hides the suggestion and cancels what is in flight (<C-]>, <Esc>, leaving the buffer).
function M.clear()
  cancel_pending()
  hide()
  return ''
end

function M.visible()
  return shown ~= nil and shown.buf == api.nvim_get_current_buf()
end

-- A request is in flight (a streamed suggestion may still grow).
function M.busy()
  return pending ~= nil
end

-- The suggestion on screen: { text, row, col } (0-based), or nil.
function M.current()
  if not M.visible() then return nil end
  return { text = shown.text, row = shown.row, col = shown.col }
end

-- A position's character offset (in the client's encoding) as a byte column of `line`.
local function byte_col(line, character, encoding)
  if encoding == 'utf-8' then return math.min(character, #line) end
  local ok, b = pcall(compat.byteindex, line, character, encoding)
  return ok and b or #line
end

-- The text to show from an inlineCompletion result (InlineCompletionList or item array),
-- without what the buffer already holds between the item's range start and the cursor.
function M.pick(result, line, row, col, encoding)
  if type(result) ~= 'table' then return nil end
  local items = result.items or result
  local item = type(items) == 'table' and items[1]
  if type(item) ~= 'table' then return nil end
  local text = item.insertText
  if type(text) == 'table' then text = text.value end -- a StringValue (snippet)
  if type(text) ~= 'string' or text == '' then return nil end
  local r = item.range
  if type(r) == 'table' and type(r.start) == 'table' and r.start.line == row then
    local from = byte_col(line, r.start.character or 0, encoding)
    if from < col then
      local typed = line:sub(from + 1, col)
      if text:sub(1, #typed) ~= typed then return nil end -- does not continue what is typed
      text = text:sub(#typed + 1)
    end
  end
  return text ~= '' and text or nil
end

-- What was typed since (row, col) of buf: the text from there to the cursor ('' at it), or nil
-- when the cursor is before it.
local function typed_since(buf, row, col)
  local r, c = cursor()
  if r < row or (r == row and c < col) then return nil end
  return table.concat(api.nvim_buf_get_text(buf, row, col, r, c, {}), '\n')
end

-- A request's suggestion so far (text, from where it asked) against what was typed since: shows
-- the part not typed yet and returns true, or false when the typing contradicts it. Typing past
-- the end of text agrees (nothing to show until more arrives).
local function follow(p, text)
  local typed = typed_since(p.buf, p.row, p.col)
  if typed == nil then return false end
  local r, c = cursor()
  p.at = { tick = tick(p.buf), row = r, col = c }
  if text:sub(1, #typed) == typed then
    local rest = text:sub(#typed + 1)
    if not (shown and shown.text == rest and shown.row == r and shown.col == c) then M.show(rest) end
    return true
  end
  hide()
  return typed:sub(1, #text) == text
end

-- hearth/inlineCompletionPartial: the in-flight request's suggestion so far.
function M.on_partial(params)
  local p = pending
  if type(params) ~= 'table' or not p or params.token ~= p.token then return end
  local text, known = params.text, p.text or ''
  if type(text) ~= 'string' or #text <= #known or text:sub(1, #known) ~= known then return end
  p.text = text
  M.stats.partials = M.stats.partials + 1
  if not in_insert() or api.nvim_get_current_buf() ~= p.buf then return end
  if not follow(p, text) then -- typed past what was known, and it turned out otherwise
    M.clear()
    M.trigger()
  end
end

local function request(forced)
  if not in_insert() or not (forced or config.auto_trigger) then return end
  local buf = api.nvim_get_current_buf()
  local client = require('hearth').get_client(buf)
  if not client or not vim.lsp.buf_is_attached(buf, client.id) then return end
  cancel_pending()
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = 2 } -- Automatic
  seq = seq + 1
  local token = 'nvim-ghost-' .. seq
  params.hearth = { stream = token }
  local row, col = cursor()
  local at_tick = tick(buf)
  local id
  local function on_result(err, result)
    local p = pending
    if not p or p.id ~= id then return end
    pending = nil
    unindicate()
    if err then require('hearth.notice').request_error(err) end -- shown once per problem
    if err or not in_insert() or api.nvim_get_current_buf() ~= buf then return end
    local line = api.nvim_buf_get_lines(buf, row, row + 1, false)[1] or ''
    local text = M.pick(result, line, row, col, client.offset_encoding) -- from where it asked
    if tick(buf) == at_tick then
      local r, c = cursor()
      if r == row and c == col then M.show(text) end
      return
    end
    -- Typed since: only a stream that agreed with it kept the request alive.
    if not (text and follow(p, text)) then
      hide()
      M.trigger()
    elseif not M.visible() then
      M.trigger() -- all of it typed: ask what follows
    end
  end
  local ok
  ok, id = compat.call(client, 'request', 'textDocument/inlineCompletion', params, on_result, buf)
  if ok and id then
    pending = { client = client, id = id, token = token, buf = buf, row = row, col = col,
                at = { tick = at_tick, row = row, col = col } }
    M.stats.requests = M.stats.requests + 1
    indicate_later(pending)
  end
end

-- Shows `text` as the suggestion at the cursor (the server's answers come through here; also
-- usable by other sources and tests).
function M.show(text)
  hide()
  unindicate()
  if type(text) ~= 'string' or text == '' then return end
  local row, col = cursor()
  local buf = api.nvim_get_current_buf()
  shown = { buf = buf, row = row, col = col, text = text, tick = tick(buf) }
  M.stats.shown = M.stats.shown + 1
  render()
end

-- Asks again after the debounce time; a newer keystroke restarts the wait.
function M.trigger()
  if not timer then timer = compat.uv.new_timer() end
  timer:stop()
  timer:start(config.debounce_ms, 0, vim.schedule_wrap(function() request(false) end))
end

-- Request now, without the debounce, even with auto_trigger off (for users' mappings).
function M.request_now()
  request(true)
end

local function on_text_changed(buf)
  if shown and shown.buf == buf and tick(buf) == shown.tick then return end -- our own edit
  local p = pending
  if p and p.text and p.buf == buf then
    if follow(p, p.text) then return end -- typing agrees with the stream: it goes on
  elseif shown and shown.buf == buf then
    local typed = typed_since(buf, shown.row, shown.col)
    if typed and #typed > 0 and #typed < #shown.text and shown.text:sub(1, #typed) == typed then
      shown.text = shown.text:sub(#typed + 1)
      shown.row, shown.col = cursor()
      shown.tick = tick(buf)
      render()
      return
    end
  end
  M.clear() -- a request in flight is for text that no longer exists
  M.trigger()
end

local function on_cursor_moved(buf)
  local r, c = cursor()
  if shown and shown.buf == buf then
    if tick(buf) == shown.tick and (r ~= shown.row or c ~= shown.col) then M.clear() end
    return
  end
  -- A stream with nothing shown (all of it typed so far): moving away without typing ends it.
  local p = pending
  if p and p.text and p.buf == buf and tick(buf) == p.at.tick and (r ~= p.at.row or c ~= p.at.col) then
    M.clear()
  end
end

-- Inserts the suggestion's first `n` bytes at the cursor; the rest stays shown.
local function insert(n)
  if not M.visible() then return end
  local s = shown
  local piece, rest = s.text:sub(1, n), s.text:sub(n + 1)
  local lines = split_lines(piece)
  api.nvim_buf_set_text(s.buf, s.row, s.col, s.row, s.col, lines)
  local row = s.row + #lines - 1
  local col = #lines == 1 and s.col + #piece or #lines[#lines]
  api.nvim_win_set_cursor(0, { row + 1, col })
  if rest == '' then
    hide() -- the next TextChangedI asks for what follows
    return
  end
  s.text, s.row, s.col, s.tick = rest, row, col, tick(s.buf)
  render()
end

function M.accept()
  if shown then insert(#shown.text) end
  return ''
end

-- The next word (with the blanks before it), or the next run of punctuation, or a line break
-- with the next line's indentation.
function M.next_word(text)
  if text:sub(1, 1) == '\n' then return text:match('^\n[ \t]*') end
  return text:match('^[ \t]*[%w_]+') or text:match('^[ \t]*[^%w_%s]+') or text:match('^[ \t]+')
    or text:sub(1, 1)
end

-- The rest of the current line, or the next line when the suggestion starts with a line break.
function M.next_line(text)
  if text:sub(1, 1) == '\n' then return '\n' .. (text:sub(2):match('^[^\n]*')) end
  return text:match('^[^\n]*')
end

function M.accept_word()
  if shown then insert(#M.next_word(shown.text)) end
  return ''
end

function M.accept_line()
  if shown then insert(#M.next_line(shown.text)) end
  return ''
end

local function map(buf, lhs, action, desc)
  if not lhs or lhs == '' then return end
  vim.keymap.set('i', lhs, function()
    if M.visible() then return '<Cmd>lua require("hearth.ghost").' .. action .. '()<CR>' end
    return lhs -- nothing shown: the key does what it did
  end, { buffer = buf, expr = true, silent = true, desc = desc })
end

function M.attach(buf)
  local k = config.keymaps or {}
  map(buf, k.accept, 'accept', 'hearth: accept suggestion')
  map(buf, k.accept_word, 'accept_word', 'hearth: accept next word')
  map(buf, k.accept_line, 'accept_line', 'hearth: accept next line')
  map(buf, k.dismiss, 'clear', 'hearth: dismiss suggestion')
  local group = api.nvim_create_augroup('hearth_ghost_' .. buf, { clear = true })
  local function au(events, fn)
    api.nvim_create_autocmd(events, { group = group, buffer = buf, callback = function()
      fn(buf)
    end })
  end
  au({ 'TextChangedI', 'TextChangedP' }, on_text_changed)
  au('CursorMovedI', on_cursor_moved)
  au({ 'InsertLeave', 'BufLeave' }, M.clear)
  au('BufUnload', function()
    if shown and shown.buf == buf then shown = nil end
  end)
end

-- The client's handlers for what the server streams.
function M.handlers()
  return {
    ['hearth/inlineCompletionPartial'] = function(_, params)
      M.on_partial(params)
    end,
  }
end

function M.setup(cfg)
  config = cfg
  local function hl()
    vim.cmd('highlight default link HearthSuggestion Comment')
    vim.cmd('highlight default link HearthWaiting Comment')
  end
  hl()
  api.nvim_create_autocmd('ColorScheme', {
    group = api.nvim_create_augroup('hearth_highlight', { clear = true }),
    callback = hl,
  })
end

return M
