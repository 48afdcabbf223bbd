-- bench/nvim's driver: headless Neovim runs the real plugin (editors/nvim) against the real
-- `hearth lsp` and plays the session that run.mjs wrote (session.mjs) as typed keys, timing each
-- key to the grey text a person would see. Every key goes through nvim_input in insert mode, so
-- InsertCharPre/TextChangedI fire and the plugin's debounce applies; the ghost text is observed,
-- not reported: a timer reads the `hearth_ghost` namespace's extmarks every few ms, and a key's
-- "first" time is the first poll that sees grey text after it, "final" the last time that text
-- changed before the next key (the same time until suggestions arrive in pieces).
-- Env: NVB_CONFIG (the JSON run.mjs wrote). Writes JSON lines to config.out; exit 0, or 1 on error.
local cfg_path = os.getenv('NVB_CONFIG')
local api = vim.api
local uv = vim.uv or vim.loop
local json = vim.json or { encode = vim.fn.json_encode, decode = vim.fn.json_decode }

local function read(path)
  local f = assert(io.open(path, 'r'))
  local s = f:read('*a')
  f:close()
  return s
end

local cfg = json.decode(read(cfg_path))
vim.opt.runtimepath:prepend(cfg.plugin)
vim.o.showmode = false
vim.o.swapfile = false
vim.o.more = false
vim.o.shortmess = vim.o.shortmess .. 'F'
vim.cmd('filetype plugin indent on') -- what most configs have: the editor indents after Enter
pcall(vim.lsp.set_log_level, 'OFF')

local t_start = uv.hrtime()
local function ms(t) return (t - t_start) / 1e6 end
local function log(msg) io.stderr:write(('[%7.1f s] %s\n'):format(ms(uv.hrtime()) / 1000, msg)) end

local samples = {} -- one per measured key
local cur = nil -- the key being timed: until the next key is sent
local ns = api.nvim_create_namespace('hearth_ghost')

-- The ghost text on screen in `buf` (virt_text and virt_lines of the namespace's marks).
local function ghost_text(buf)
  local parts = {}
  for _, m in ipairs(api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })) do
    for _, chunk in ipairs(m[4].virt_text or {}) do parts[#parts + 1] = chunk[1] end
    for _, vl in ipairs(m[4].virt_lines or {}) do
      parts[#parts + 1] = '\n'
      for _, chunk in ipairs(vl) do parts[#parts + 1] = chunk[1] end
    end
  end
  return table.concat(parts)
end

-- One observation for the key being timed; before Neovim has processed the key (the buffer's
-- changedtick is unchanged) what is shown still belongs to the key before.
local function poll()
  local s = cur
  if not s or not api.nvim_buf_is_valid(s.buf) then return end
  if api.nvim_buf_get_changedtick(s.buf) == s.tick0 then return end
  local text = ghost_text(s.buf)
  if text == '' then return end
  local now = uv.hrtime()
  if not s.first then
    s.first = now
    s.through = s.req == nil -- kept while typing through it, without a request
  end
  if text ~= s.text then
    s.text, s.final = text, now
  end
end

local poller = uv.new_timer()
poller:start(cfg.pollMs, cfg.pollMs, function() vim.schedule(poll) end)

-- The plugin's requests, seen on their way: when the request for a key left and when its reply
-- came, with the server's statistics (the plugin calls compat.call for every client method).
local compat = require('hearth.compat')
local call = compat.call
compat.call = function(client, name, method, params, handler, ...)
  if name ~= 'request' or method ~= 'textDocument/inlineCompletion' or type(handler) ~= 'function' then
    return call(client, name, method, params, handler, ...)
  end
  local s = cur
  if s then s.req, s.reply, s.stats = uv.hrtime(), nil, nil end
  return call(client, name, method, params, function(err, result, ...)
    if s and not s.reply then
      s.reply = uv.hrtime()
      s.err = err and (err.message or tostring(err.code)) or nil
      s.stats = type(result) == 'table' and result.hearth or nil
      local items = type(result) == 'table' and (result.items or result) or {}
      s.empty = type(items) ~= 'table' or items[1] == nil
    end
    local r = { handler(err, result, ...) }
    if s == cur then poll() end -- shown by the handler just now
    return unpack(r)
  end, ...)
end

local model_loaded, server_errors = false, {}
-- --server-log: every message the server logs, with the session's clock (what each request and
-- prefill did), for reading a run's misses.
local server_log = cfg.serverLog and io.open(cfg.serverLog, 'w') or nil
vim.lsp.handlers['window/logMessage'] = function(_, p)
  if server_log and p then server_log:write(('%9.1f %s\n'):format(ms(uv.hrtime()), p.message)) end
  if p and p.message:match('completion model loaded') then model_loaded = true end
  if p and p.type == 1 then server_errors[#server_errors + 1] = p.message end
end
vim.lsp.handlers['window/showMessage'] = function(_, p)
  if p then log('server: ' .. p.message) end
end

local hearth = require('hearth')
local setup = { cmd = cfg.cmd, init_options = cfg.initOptions }
if cfg.debounceMs then setup.debounce_ms = cfg.debounceMs end
hearth.setup(setup)

-- The body runs in a coroutine that sleeps on timers, so Neovim's loop processes keys, LSP
-- messages and the poller between steps, as for a person at the keyboard.
local co
local function resume()
  local ok, err = coroutine.resume(co)
  if not ok then
    log('error: ' .. debug.traceback(co, tostring(err)))
    vim.schedule(function() vim.cmd('cquit 1') end)
  end
end
local function sleep(t)
  vim.defer_fn(resume, math.max(0, math.floor(t)))
  coroutine.yield()
end
local function wait_for(pred, what, limit)
  local deadline = uv.now() + limit
  while not pred() do
    if uv.now() > deadline then error('timed out waiting for ' .. what) end
    sleep(5)
  end
end

local function finish_key()
  if not cur then return end
  poll()
  local s = cur
  cur = nil
  local function rel(t) return t and (t - s.t0) / 1e6 or nil end
  local st = s.stats or {}
  local rec = {
    visit = s.visit, how = s.how, kind = s.kind, key = s.key, t = ms(s.t0), gap = s.gap,
    pause = s.pause, first = rel(s.first), final = rel(s.final), through = s.through or nil,
    req = rel(s.req), reply = rel(s.reply), empty = s.empty, err = s.err,
    nPrompt = st.nPrompt, nReused = st.nReused, nEvaluated = st.nEvaluated,
    nGenerated = st.nGenerated, queueMs = st.queueMs, promptMs = st.promptMs, genMs = st.genMs,
    firstTokenMs = st.firstTokenMs, totalMs = st.totalMs, cached = st.cached,
    shownChars = s.text and #s.text or 0,
  }
  if not s.first then
    rec.missed = s.reply and (s.err and 'error' or s.empty and 'empty' or 'not shown') or
      (s.req and 'superseded' or 'no request')
  end
  samples[#samples + 1] = rec
end

-- Sends one key as typed and keeps it as the key being timed.
local function key(k, v)
  finish_key()
  local buf = api.nvim_get_current_buf()
  cur = { visit = v.i, how = v.how, kind = k.kind, key = k.key, gap = k.gap, pause = k.pause,
    buf = buf, tick0 = api.nvim_buf_get_changedtick(buf), t0 = uv.hrtime() }
  api.nvim_input(k.key)
end

-- At a pause the typist looks for at least pauseMs, and waits for the suggestion (its reply, or
-- the grey text when it came without one) up to settleMs: so every pause gives a sample.
local function pause()
  local s, t0 = cur, uv.now()
  local debounce = hearth.config.debounce_ms
  while true do
    sleep(cfg.pollMs)
    local waited = uv.now() - t0
    local settled = s.reply or (s.through and waited > debounce + 50)
    if waited >= cfg.pauseMs and (settled or waited >= cfg.settleMs) then break end
  end
end

local function client_for(buf)
  local c = hearth.get_client(buf)
  return c and c.initialized and vim.lsp.buf_is_attached(buf, c.id) and c
end

local paths = {}
for _, f in ipairs(cfg.files) do paths[f.name] = f.path end

-- One visit: open or switch to the file, place the cursor, remove the text to retype (normal
-- mode, one edit), look, then type it.
local function visit(v)
  if v.how == 'open' then
    vim.cmd('edit ' .. vim.fn.fnameescape(paths[v.file]))
    local buf = api.nvim_get_current_buf()
    wait_for(function() return client_for(buf) end, 'the client to attach', 30000)
    wait_for(function() return model_loaded end, 'the model to load', 300000)
  elseif v.file ~= vim.fn.fnamemodify(api.nvim_buf_get_name(0), ':t') then
    vim.cmd('buffer ' .. vim.fn.fnameescape(paths[v.file]))
  end
  local buf = api.nvim_get_current_buf()
  local line = api.nvim_buf_get_lines(buf, v.row, v.row + 1, false)[1]
  local first = vim.split(v.text, '\n', { plain = true })[1]
  -- Earlier visits retype other lines, so this one is as the file has it; if not, keep as much.
  local col = line:sub(-#first) == first and #line - #first or math.min(v.col, #line)
  local last = api.nvim_buf_get_lines(buf, v.row + v.deleteLines, v.row + v.deleteLines + 1, false)[1]
  api.nvim_buf_set_text(buf, v.row, col, v.row + v.deleteLines, #last, { '' })
  api.nvim_win_set_cursor(0, { v.row + 1, math.max(0, col - 1) })
  sleep(v.look)
  api.nvim_input('A')
  wait_for(function() return api.nvim_get_mode().mode == 'i' end, 'insert mode', 5000)
  for _, k in ipairs(v.keys) do
    key(k, v)
    if k.pause then pause() else sleep(k.gap) end
  end
  finish_key()
  api.nvim_input('<Esc>')
  wait_for(function() return api.nvim_get_mode().mode == 'n' end, 'normal mode', 5000)
end

local function write_out(status)
  local f = assert(io.open(cfg.out, 'w'))
  f:write(json.encode({ type = 'meta', status = status, nvim = api.nvim_exec('version', true):match('NVIM v[%w%.%-]+'),
    debounceMs = hearth.config.debounce_ms, serverErrors = server_errors }) .. '\n')
  for _, s in ipairs(samples) do f:write(json.encode(s) .. '\n') end
  f:close()
end

local guard = uv.new_timer()
guard:start(cfg.timeoutMs, 0, vim.schedule_wrap(function()
  log('the session ran over ' .. cfg.timeoutMs .. ' ms')
  finish_key()
  write_out('timeout')
  vim.cmd('cquit 1')
end))

co = coroutine.create(function()
  local n = 0
  for i, v in ipairs(cfg.visits) do
    if v.wipe then
      vim.cmd('silent! %bwipeout!') -- the next round opens the files afresh (never saved)
    else
      v.i = i
      n = n + 1
      visit(v)
      log(('visit %d/%d (%s %s:%d): %d keys'):format(n, cfg.nVisits, v.how, v.file, v.row + 1, #v.keys))
    end
  end
  poller:stop()
  write_out('ok')
  vim.cmd('qall!')
end)
vim.schedule(resume)
