-- hearth/cursor: tells the server where the cursor is, so it evaluates the next suggestion's
-- prompt while you read or move around, and the first suggestion after opening a file or jumping
-- costs only its last tokens. Sent (debounced) when a buffer is attached or entered, on
-- InsertEnter, on CursorHold and when the cursor moves without an edit: an edit brings its own
-- inline-completion request, which tells the server already.
local M = {}
local compat = require('hearth.compat')
local api = vim.api

local config = { cursor_ahead = true, cursor_debounce_ms = 100 }
local timer
local ticks = {} -- buffer -> changedtick at its last cursor event
local sent = {} -- buffer -> 'tick:line:character' of its last notification

function M.setup(cfg)
  config = cfg
end

-- The notification for the current window's cursor, unless it was sent already.
function M.send(buf)
  if not config.cursor_ahead or api.nvim_get_current_buf() ~= buf then return end
  local client = require('hearth').get_client(buf)
  if not client or not vim.lsp.buf_is_attached(buf, client.id) then return end
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  local key = ('%d:%d:%d'):format(api.nvim_buf_get_changedtick(buf), params.position.line,
    params.position.character)
  if sent[buf] == key then return end
  if pcall(compat.call, client, 'notify', 'hearth/cursor', params) then sent[buf] = key end
end

local function schedule(buf)
  if not timer then timer = compat.uv.new_timer() end
  timer:stop()
  timer:start(config.cursor_debounce_ms or 100, 0, vim.schedule_wrap(function()
    if api.nvim_buf_is_valid(buf) then M.send(buf) end
  end))
end

local function moved(buf)
  local tick = api.nvim_buf_get_changedtick(buf)
  local edited = ticks[buf] ~= nil and ticks[buf] ~= tick
  ticks[buf] = tick
  if not edited then schedule(buf) end
end

function M.attach(buf)
  local group = api.nvim_create_augroup('hearth_cursor_' .. buf, { clear = true })
  local function au(events, fn)
    api.nvim_create_autocmd(events, { group = group, buffer = buf, callback = function() fn(buf) end })
  end
  au({ 'CursorMoved', 'CursorMovedI' }, moved)
  au({ 'BufEnter', 'InsertEnter', 'CursorHold', 'CursorHoldI' }, function()
    ticks[buf] = api.nvim_buf_get_changedtick(buf)
    schedule(buf)
  end)
  au('BufUnload', function()
    ticks[buf], sent[buf] = nil, nil
  end)
  schedule(buf)
end

return M
