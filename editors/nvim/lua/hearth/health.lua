-- :checkhealth hearth — the binary, the models it is configured with, and the running server.
local M = {}

-- vim.health (0.8+) or the 0.7 health#report_* functions.
local h = vim.health and vim.health.ok and vim.health or {
  start = function(s) vim.fn['health#report_start'](s) end,
  ok = function(s) vim.fn['health#report_ok'](s) end,
  warn = function(s, a) vim.fn['health#report_warn'](s, a or {}) end,
  error = function(s, a) vim.fn['health#report_error'](s, a or {}) end,
  info = function(s) vim.fn['health#report_info'](s) end,
}
local start = h.start or h.report_start

local function model_paths(cfg)
  local out = {}
  local s = type(cfg.settings) == 'table' and cfg.settings.hearth or {}
  for _, src in ipairs({ cfg.init_options or {}, s or {} }) do
    for _, k in ipairs({ 'completionModel', 'chatModel', 'embeddingModel' }) do
      if type(src[k]) == 'string' and src[k] ~= '' then out[k] = src[k] end
    end
  end
  local cmd = cfg.cmd or {}
  for i = 1, #cmd - 1 do
    if cmd[i] == '--completion-model' or cmd[i] == '--model' or cmd[i] == '-m' then out.completionModel = cmd[i + 1] end
  end
  return out
end

local DEFAULT = 'qwen2.5-coder-1.5b:q5_k_m' -- the catalogue's default completion model

-- `hearth info NAME`: resolves a catalogue name, an installed model or a path the way the server
-- does; returns ok and its first line (the resolved file, or the error).
local function hearth_info(bin, name)
  if vim.fn.executable(bin) ~= 1 then return nil end
  local out = vim.fn.systemlist({ bin, 'info', name })
  return vim.v.shell_error == 0, (out[1] or ''):gsub('^model:%s*', '')
end

-- What the running server reported (hearth.notice); false when it has said nothing yet.
local function server_model()
  local st = require('hearth.notice').state
  if st.model then
    h.ok('completion model in use: ' .. st.model)
  elseif st.loading then
    h.info('the server is loading the completion model ' .. st.loading)
  elseif st.error then
    h.error(st.error, { require('hearth.notice').advice(st.error) })
  else
    return false
  end
  return true
end

-- The configured models (names or paths) as hearth resolves them; with none configured, the
-- server uses the configuration file's or the installed default, which is fine.
local function check_models(cfg, bin, running)
  local reported = running and server_model()
  local models = model_paths(cfg)
  for k, p in pairs(models) do
    local path = vim.fn.expand(p)
    if vim.fn.filereadable(path) == 1 then
      h.ok(('%s: %s (%.1f MiB)'):format(k, path, vim.fn.getfsize(path) / 1048576))
    else
      local ok, line = hearth_info(bin, p)
      if ok then
        h.ok(('%s: %s -> %s'):format(k, p, line))
      elseif ok == false then
        h.error(('%s: %s'):format(k, line), { 'a catalogue name (`hearth pull --list`), an installed model (`hearth list`) or a .gguf path' })
      else
        h.error(('%s: %s is not a readable file'):format(k, path))
      end
    end
  end
  if models.completionModel or reported then return end
  local ok, line = hearth_info(bin, DEFAULT)
  if ok then
    h.ok(('no completionModel set: the server uses the configured or installed default (%s -> %s)'):format(DEFAULT, line))
  elseif ok == false then
    h.warn(('no completionModel set and the default is not installed (fine if the configuration file names one): %s'):format(line),
      { ('run `hearth pull %s`, or set init_options = { completionModel = "NAME or /path/model.gguf" }'):format(DEFAULT) })
  end
end

function M.check()
  local hearth = require('hearth')
  local cfg = hearth.config
  start('hearth binary')
  local bin = cfg.cmd and cfg.cmd[1]
  if type(bin) ~= 'string' or vim.fn.executable(bin) ~= 1 then
    h.error(('%s not found or not executable'):format(tostring(bin)),
      { 'build hearth and put it on $PATH, or set cmd = { "/path/to/hearth", "lsp" }' })
  else
    h.ok('found ' .. vim.fn.exepath(bin))
  end

  start('hearth models')
  check_models(cfg, bin, hearth.get_client(0) ~= nil)
  start('hearth server')
  local client = hearth.get_client(0)
  if not client then
    h.warn('no hearth server running', { 'it starts when a buffer of a configured filetype opens' })
    return
  end
  if require('hearth.compat').is_stopped(client) then
    h.error('the hearth server (client ' .. client.id .. ') has stopped')
    return
  end
  -- Any reply (a result or an error) proves the server is alive; this one is answered on the
  -- server's loop, never queued behind inference.
  local params = { textDocument = { uri = vim.uri_from_bufnr(0) } }
  local res = require('hearth.compat').call(client, 'request_sync', 'hearth/debugDocument', params, 5000, 0)
  if res == nil then
    h.error('the server did not answer within 5 s')
  else
    local g = require('hearth.ghost').stats
    h.ok(('server alive (client %d, root %s); %d completion requests, %d shown'):format(
      client.id, client.config.root_dir or '?', g.requests, g.shown))
  end
end

return M
