-- What the server reports about itself, made visible: problems (no model, model not found, no
-- fill-in-the-middle tokens, a load that failed, the server exiting) are shown once each with
-- vim.notify and what to do; the model's loading ($/progress begin/end from the server) is kept
-- for the ghost text's indicator and :checkhealth. Every failure reaches the user once, never
-- per keystroke: the server repeats a load error in each completion reply.
local M = {}

local DEFAULT_MODEL = 'qwen2.5-coder-1.5b' -- the catalogue's default completion model
local LOADING_TITLE = 'loading the completion model'

-- state.loading: the model name being loaded (nil when not loading); state.model: the path the
-- server loaded; state.error: the last problem; shown: problem key -> true.
M.state = { loading = nil, model = nil, error = nil }
local shown = {}
local load_tokens = {} -- $/progress tokens of model loads
M.count = 0 -- notifications sent (tests)

-- The problem without the prefixes the server puts on the same text in different places
-- (showMessage "hearth: X", a reply's "completion: X"), so one cause is one key.
local function key_of(msg)
  local k = msg
  for _ = 1, 3 do
    k = k:gsub('^hearth: ', ''):gsub('^completion: ', '')
  end
  return k
end

-- What to do about a problem, from its text; nil when the text already says it.
function M.advice(msg)
  if msg:find('no completion model', 1, true) then
    return ('run `hearth pull %s` (the default completion model) or set '
      .. "init_options = { completionModel = 'NAME or /path/model.gguf' } in require('hearth').setup"):format(DEFAULT_MODEL)
  elseif msg:find('fill-in-the-middle', 1, true) then
    return ('set completionModel to a code model with FIM tokens, e.g. `hearth pull %s`'):format(DEFAULT_MODEL)
  elseif msg:find('is not installed', 1, true) then
    return nil -- it names the `hearth pull` to run
  elseif msg:find('no such file', 1, true) or msg:find('cannot read', 1, true) then
    return 'check completionModel: a catalogue name (`hearth pull --list`), an installed model (`hearth list`) or a .gguf path'
  elseif msg:find('exited', 1, true) then
    return 'details in :LspLog; reopen the file (:edit) to start it again, :checkhealth hearth checks the setup'
  end
  return 'details in :LspLog; :checkhealth hearth checks the setup'
end

-- Shows `msg` once (per distinct problem) with what to do.
function M.problem(msg, level)
  if type(msg) ~= 'string' or msg == '' then return end
  local key = key_of(msg)
  M.state.error = key
  if shown[key] then return end
  shown[key] = true
  local advice = M.advice(key)
  M.count = M.count + 1
  local text = 'hearth: ' .. key .. (advice and ('\n' .. advice) or '')
  vim.schedule(function()
    vim.notify(text, level or vim.log.levels.WARN)
  end)
end

-- An error reply to a completion request: cancellations are ours, anything else is a problem.
function M.request_error(err)
  if type(err) ~= 'table' then return end
  if err.code == -32800 or err.code == -32801 then return end -- RequestCancelled, ContentModified
  M.problem(tostring(err.message or err.code))
end

-- The server process ended: quietly when we stopped it, else once with the exit status.
function M.exited(code, signal)
  M.state.loading = nil
  if (code or 0) == 0 and (signal or 0) == 0 then return end
  M.problem(('the server exited (code %s, signal %s)'):format(tostring(code), tostring(signal)),
    vim.log.levels.ERROR)
end

-- A new server (a restart): its problems are news again.
function M.reset()
  shown = {}
  load_tokens = {}
  M.state = { loading = nil, model = nil, error = nil }
end

local function on_progress(params)
  local v = type(params) == 'table' and params.value
  if type(v) ~= 'table' then return end
  local token = tostring(params.token)
  if v.kind == 'begin' and type(v.title) == 'string' and v.title:find(LOADING_TITLE, 1, true) then
    load_tokens[token] = true
    M.state.loading = type(v.message) == 'string' and v.message or '?'
  elseif v.kind == 'end' and load_tokens[token] then
    load_tokens[token] = nil
    M.state.loading = nil
    -- a failed load's message is its error, which also comes as window/showMessage
    if v.message ~= 'loaded' and v.message ~= 'cancelled' and v.message ~= 'superseded' then
      M.problem(v.message, vim.log.levels.ERROR)
    end
  end
end

-- Handlers for the client's config; `inner` holds the ones these wrap (hearth.ask's $/progress).
function M.handlers(inner)
  local show = vim.lsp.handlers['window/showMessage']
  local log = vim.lsp.handlers['window/logMessage']
  local progress = inner['$/progress'] or vim.lsp.handlers['$/progress']
  return {
    ['window/showMessage'] = function(err, params, ctx, cfg)
      if type(params) == 'table' and (params.type == 1 or params.type == 2) then
        M.problem(params.message, params.type == 1 and vim.log.levels.ERROR or vim.log.levels.WARN)
        return vim.NIL
      end
      if show then return show(err, params, ctx, cfg) end
    end,
    ['window/logMessage'] = function(err, params, ctx, cfg)
      local m = type(params) == 'table' and type(params.message) == 'string' and params.message
      local path = m and m:match('^completion model loaded: (.+)$')
      if path then
        M.state.model = path
        M.state.error = nil
      end
      if log then return log(err, params, ctx, cfg) end
    end,
    -- hearth/model {state, model, message}: the same as the progress, without its token handshake
    ['hearth/model'] = function(_, params)
      if type(params) ~= 'table' then return end
      local model = type(params.model) == 'string' and params.model or '?'
      if params.state == 'loading' then
        M.state.loading = model
      else
        M.state.loading = nil
        if params.state == 'loaded' then
          M.state.model, M.state.error = model, nil
        elseif params.state == 'failed' then
          M.problem(tostring(params.message or ('cannot load ' .. model)), vim.log.levels.ERROR)
        end
      end
    end,
    ['$/progress'] = function(err, params, ctx, cfg)
      on_progress(params)
      if progress then return progress(err, params, ctx, cfg) end
    end,
  }
end

return M
