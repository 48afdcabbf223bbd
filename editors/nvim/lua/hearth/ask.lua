-- :HearthAsk and :HearthIndex over workspace/executeCommand (`hearth.ask`, `hearth.index`).
-- The answer streams in as `hearth/answer` notifications ({token, text, done, sources}) or as
-- $/progress reports carrying `text`; the command's response ({answer, sources}) is final. Sources
-- are LSP Locations (or LocationLinks) and go to the quickfix list. Unknown shapes are ignored.
local M = {}

local api = vim.api
local compat = require('hearth.compat')
local asks = {} -- token -> ask { buf, question, text, streamed, done }
local last = nil -- the latest ask, for notifications whose token we do not know
local seq = 0

local function ask_for(token)
  return (token ~= nil and asks[tostring(token)]) or last
end

local function set_text(a)
  if not api.nvim_buf_is_valid(a.buf) then return end
  local lines = { '# ' .. a.question, '' }
  vim.list_extend(lines, vim.split(a.text, '\n', { plain = true }))
  if a.sources_lines then vim.list_extend(lines, a.sources_lines) end
  vim.bo[a.buf].modifiable = true
  api.nvim_buf_set_lines(a.buf, 0, -1, false, lines)
  vim.bo[a.buf].modifiable = false
  for _, w in ipairs(vim.fn.win_findbuf(a.buf)) do -- follow the stream
    api.nvim_win_set_cursor(w, { #lines, 0 })
  end
end

-- A quickfix item from a Location ({uri, range}) or LocationLink ({targetUri, targetRange}).
function M.qf_item(loc)
  if type(loc) ~= 'table' then return nil end
  local uri = loc.uri or loc.targetUri
  local range = loc.range or loc.targetSelectionRange or loc.targetRange
  if type(uri) ~= 'string' then return nil end
  local ok, fname = pcall(vim.uri_to_fname, uri)
  if not ok then return nil end
  local s = type(range) == 'table' and range.start or {}
  local e = type(range) == 'table' and range['end'] or {}
  local lnum = (tonumber(s.line) or 0) + 1
  local end_lnum = (tonumber(e.line) or (lnum - 1)) + 1
  local text = loc.symbol or loc.name or ('lines %d-%d'):format(lnum, end_lnum)
  return { filename = fname, lnum = lnum, end_lnum = end_lnum,
           col = (tonumber(s.character) or 0) + 1, text = text }
end

local function finish(a, sources)
  if a.done then return end
  a.done = true
  local items = {}
  for _, loc in ipairs(type(sources) == 'table' and sources or {}) do
    local it = M.qf_item(loc)
    if it then items[#items + 1] = it end
  end
  vim.fn.setqflist({}, ' ', { title = 'hearth: ' .. a.question, items = items })
  if #items > 0 then
    a.sources_lines = { '', 'Sources:' }
    for _, it in ipairs(items) do
      local rel = vim.fn.fnamemodify(it.filename, ':~:.')
      table.insert(a.sources_lines, ('- %s:%d-%d'):format(rel, it.lnum, it.end_lnum))
    end
  end
  a.items = items
  set_text(a)
  if a.responded then M.complete(a) end
end

-- Both the last notification and the response are in: tell tests and users (User HearthAnswerDone).
function M.complete(a)
  if a.completed then return end
  a.completed = true
  M.last_answer = { question = a.question, text = a.text, sources = a.items or {}, streamed = a.streamed }
  api.nvim_exec_autocmds('User', { pattern = 'HearthAnswerDone', modeline = false })
end

local function on_chunk(token, text, done, sources)
  local a = ask_for(token)
  if not a or a.done then return end
  if type(text) == 'string' and text ~= '' then
    a.text = a.text .. text
    a.streamed = true
    set_text(a)
  end
  if done then finish(a, sources) end
end

-- Handlers for the client's config.
function M.handlers()
  local progress = vim.lsp.handlers['$/progress']
  return {
    ['hearth/answer'] = function(_, params)
      if type(params) == 'table' then
        on_chunk(params.token, params.text, params.done, params.sources)
      end
    end,
    ['$/progress'] = function(err, params, ctx, cfg)
      local v = type(params) == 'table' and params.value
      if type(v) == 'table' and asks[tostring(params.token)] then
        on_chunk(params.token, v.text, false, nil) -- the response ends the answer
      elseif type(v) == 'table' and tostring(params.token):match('^hearth%-index%-') then
        if type(v.message) == 'string' then api.nvim_echo({ { 'hearth: ' .. v.message } }, false, {}) end
      end
      if progress then return progress(err, params, ctx, cfg) end
    end,
  }
end

local function open_window(question)
  local cfg = require('hearth').config
  vim.cmd(cfg.ask_split or 'botright new')
  local buf = api.nvim_get_current_buf()
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].swapfile = false
  vim.bo[buf].filetype = 'markdown'
  pcall(api.nvim_buf_set_name, buf, 'hearth://answer/' .. seq)
  vim.wo.wrap = true
  return buf
end

function M.ask(question)
  question = vim.trim(question or '')
  if question == '' then
    vim.notify('hearth: :HearthAsk needs a question', vim.log.levels.ERROR)
    return
  end
  local client = require('hearth').get_client(0)
  if not client then
    vim.notify('hearth: no server running (open a supported file first)', vim.log.levels.ERROR)
    return
  end
  seq = seq + 1
  local token = 'hearth-ask-' .. seq
  local a = { question = question, text = '', streamed = false, done = false }
  a.buf = open_window(question)
  asks[token] = a
  last = a
  set_text(a)
  local arg = vim.tbl_extend('force', require('hearth').config.ask_options or {}, { question = question })
  local params = { command = 'hearth.ask', arguments = { arg }, workDoneToken = token }
  compat.call(client, 'request', 'workspace/executeCommand', params, function(err, result)
    a.responded = true
    if err then -- may follow a done notification (the server ends the stream, then fails)
      a.text = a.text .. (a.text == '' and '' or '\n\n') .. 'error: ' .. (err.message or vim.inspect(err))
      if a.done then set_text(a) else finish(a, nil) end
      M.complete(a)
      return
    end
    if type(result) == 'table' then
      -- The response is authoritative: it holds the whole answer when there is one.
      if type(result.answer) == 'string' and result.answer ~= '' then a.text = result.answer end
      local late_sources = type(result.sources) == 'table' and #result.sources > 0
        and #(a.items or {}) == 0
      if a.done and not late_sources then
        set_text(a)
      else
        a.done = false -- (again, when only the response carries the sources)
        finish(a, result.sources)
      end
      M.complete(a)
    elseif a.done then
      M.complete(a)
    end -- else the answer comes only through notifications; the done one completes it
  end, 0)
  return a.buf
end

function M.index()
  local client = require('hearth').get_client(0)
  if not client then
    vim.notify('hearth: no server running (open a supported file first)', vim.log.levels.ERROR)
    return
  end
  seq = seq + 1
  local params = { command = 'hearth.index', arguments = { { root = client.config.root_dir } },
                   workDoneToken = 'hearth-index-' .. seq }
  vim.notify('hearth: indexing ' .. (client.config.root_dir or '') .. ' ...')
  compat.call(client, 'request', 'workspace/executeCommand', params, function(err, result)
    if err then
      M.last_index = { error = err.message or vim.inspect(err) }
      vim.notify('hearth: index failed: ' .. M.last_index.error, vim.log.levels.ERROR)
      return
    end
    M.last_index = type(result) == 'table' and result or {}
    vim.api.nvim_exec_autocmds('User', { pattern = 'HearthIndexDone', modeline = false })
    local msg = 'hearth: index done'
    if type(result) == 'table' then
      local parts = {}
      for _, k in ipairs({ 'files', 'chunks', 'changed', 'deleted', 'skipped' }) do
        if type(result[k]) == 'number' then parts[#parts + 1] = ('%s %d'):format(k, result[k]) end
      end
      if #parts > 0 then msg = msg .. ' (' .. table.concat(parts, ', ') .. ')' end
    end
    vim.notify(msg)
  end, 0)
end

return M
