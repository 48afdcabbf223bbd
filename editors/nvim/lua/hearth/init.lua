-- hearth for Neovim: starts `hearth lsp` through vim.lsp, shows its inline completions as ghost
-- text (hearth.ghost), asks questions about the codebase (hearth.ask). Works on Neovim 0.7 (Debian
-- 12) and current releases; what differs between them is in hearth.compat.
local M = {}
local compat = require('hearth.compat')

local defaults = {
  -- The server command line, as in Neovim's LSP client configs.
  cmd = { 'hearth', 'lsp' },
  filetypes = {
    'c', 'cpp', 'python', 'javascript', 'typescript', 'javascriptreact', 'typescriptreact',
    'go', 'rust', 'java', 'lua', 'sh', 'bash', 'json', 'markdown',
  },
  -- The first directory upwards holding one of these is the workspace root.
  root_markers = { '.hearth', '.git' },
  -- Sent in initialize (e.g. { completionModel = '/models/coder.gguf', threads = 4 }).
  init_options = {},
  -- Sent with workspace/didChangeConfiguration and served to workspace/configuration;
  -- the server reads settings.hearth (same keys as init_options).
  settings = { hearth = {} },
  flags = { debounce_text_changes = 50 },
  capabilities = nil, -- nil: vim.lsp.protocol.make_client_capabilities()
  on_attach = nil, -- function(client, bufnr), called after hearth's own setup of the buffer
  -- Ghost text.
  auto_trigger = true,
  debounce_ms = 25, -- bench/RESULTS.md: 75 -> 25 took 40 ms off every in-line key, none lost
  -- A suggestion still computing after this many ms shows "hearth: …" (or "hearth: loading
  -- MODEL…" while the server loads the model) at the end of the line; false: never.
  indicator_ms = 300,
  -- Tell the server where the cursor is (hearth/cursor, debounced), so it prepares the next
  -- suggestion's prompt before you type (hearth.cursor).
  cursor_ahead = true,
  cursor_debounce_ms = 100,
  -- Insert-mode keys; set one to false to leave that key alone.
  keymaps = {
    accept = '<Tab>',
    accept_word = '<M-Right>',
    accept_line = '<M-Down>',
    dismiss = '<C-]>',
  },
  -- :HearthAsk's answer window: any split command.
  ask_split = 'botright new',
  -- Extra fields of hearth.ask's argument besides the question (e.g. { k = 8, maxTokens = 512 }).
  ask_options = {},
}

M.config = vim.deepcopy(defaults)
M.client_ids = {} -- root dir -> client id

local function merge(base, user)
  return vim.tbl_deep_extend('force', vim.deepcopy(base), user or {})
end

-- The workspace root for a buffer: the nearest ancestor with a root marker, else the file's
-- directory (vim.fs.find is 0.8+, so walk by hand).
function M.root_dir(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr)
  local dir = name ~= '' and vim.fn.fnamemodify(name, ':p:h') or vim.fn.getcwd()
  local d = dir
  while d and d ~= '' do
    for _, marker in ipairs(M.config.root_markers) do
      if compat.uv.fs_stat(d .. '/' .. marker) then return d end
    end
    local parent = vim.fn.fnamemodify(d, ':h')
    if parent == d then break end
    d = parent
  end
  return dir
end

-- The live hearth client for a buffer (or the first live one), or nil.
function M.get_client(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local first
  for _, id in pairs(M.client_ids) do
    local c = vim.lsp.get_client_by_id(id)
    if c and not compat.is_stopped(c) then
      if vim.lsp.buf_is_attached(bufnr, id) then return c end
      first = first or c
    end
  end
  return first
end

local function is_empty(t)
  return type(t) ~= 'table' or next(t) == nil
end

-- The client's handlers: hearth.notice wraps hearth.ask's $/progress (model loading is seen there).
local function handlers()
  local own = vim.tbl_extend('force', require('hearth.ask').handlers(), require('hearth.ghost').handlers())
  return vim.tbl_extend('force', own, require('hearth.notice').handlers(own))
end

local function client_config(root)
  local cfg = M.config
  local caps = cfg.capabilities or vim.lsp.protocol.make_client_capabilities()
  caps.window = caps.window or {}
  caps.window.workDoneProgress = true
  return {
    name = 'hearth',
    cmd = cfg.cmd,
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
    -- modelStatus: the server sends hearth/model (the model's loading, hearth.notice)
    init_options = vim.tbl_extend('force', { modelStatus = true }, cfg.init_options or {}),
    settings = cfg.settings,
    flags = cfg.flags,
    capabilities = caps,
    handlers = handlers(),
    on_attach = function(client, bufnr)
      require('hearth.cursor').send(bufnr) -- the document is open on the server now
      if cfg.on_attach then cfg.on_attach(client, bufnr) end
    end,
    on_init = function(client)
      local s = cfg.settings
      if type(s) == 'table' and not is_empty(s.hearth) then
        compat.call(client, 'notify', 'workspace/didChangeConfiguration', { settings = s })
      end
    end,
    on_exit = function(code, signal)
      M.client_ids[root] = nil
      require('hearth.notice').exited(code, signal) -- a crash is shown, a stop is quiet
    end,
  }
end

-- Starts (or reuses) the client for the buffer's root and attaches it.
function M.attach(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  if vim.bo[bufnr].buftype ~= '' then return end
  local root = M.root_dir(bufnr)
  local id = M.client_ids[root]
  local c = id and vim.lsp.get_client_by_id(id)
  if c and not compat.is_stopped(c) then
    if not vim.lsp.buf_is_attached(bufnr, id) then vim.lsp.buf_attach_client(bufnr, id) end
  else
    require('hearth.notice').reset() -- a new server: its problems are news
    id = compat.start(client_config(root), bufnr)
    if not id then
      vim.notify('hearth: could not start ' .. table.concat(M.config.cmd, ' ')
        .. '\nput hearth on PATH (README: Install) or set cmd = { "/path/to/hearth", "lsp" } in setup',
        vim.log.levels.ERROR)
      return
    end
    M.client_ids[root] = id
  end
  if not vim.b[bufnr].hearth_attached then
    vim.b[bufnr].hearth_attached = true
    require('hearth.ghost').attach(bufnr)
    require('hearth.cursor').attach(bufnr)
  end
end

local function define_commands()
  local cmd = vim.api.nvim_create_user_command
  cmd('HearthAsk', function(a)
    require('hearth.ask').ask(a.args)
  end, { nargs = '+', desc = 'Ask hearth about the codebase' })
  cmd('HearthIndex', function()
    require('hearth.ask').index()
  end, { nargs = 0, desc = 'Index the workspace with hearth' })
  cmd('HearthToggle', function()
    M.config.auto_trigger = not M.config.auto_trigger
    if not M.config.auto_trigger then require('hearth.ghost').clear() end
    vim.notify('hearth: completions ' .. (M.config.auto_trigger and 'on' or 'off'))
  end, { nargs = 0, desc = 'Toggle hearth ghost-text completions' })
end

function M.setup(opts)
  M.config = merge(defaults, opts)
  for key, kind in pairs({ cmd = 'table', filetypes = 'table', debounce_ms = 'number' }) do
    if type(M.config[key]) ~= kind then
      error(('hearth.setup: %s must be a %s, got %s'):format(key, kind, type(M.config[key])), 2)
    end
  end
  require('hearth.ghost').setup(M.config)
  require('hearth.cursor').setup(M.config)
  define_commands()
  local group = vim.api.nvim_create_augroup('hearth_attach', { clear = true })
  vim.api.nvim_create_autocmd('FileType', {
    group = group,
    pattern = M.config.filetypes,
    callback = function(a)
      M.attach(a.buf)
    end,
  })
  -- Buffers already open when setup runs (lazy loading).
  local wanted = {}
  for _, ft in ipairs(M.config.filetypes) do wanted[ft] = true end
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(b) and wanted[vim.bo[b].filetype] then M.attach(b) end
  end
end

-- Public actions, for users' own mappings.
function M.accept() return require('hearth.ghost').accept() end
function M.accept_word() return require('hearth.ghost').accept_word() end
function M.accept_line() return require('hearth.ghost').accept_line() end
function M.dismiss() return require('hearth.ghost').clear() end
function M.suggest() return require('hearth.ghost').request_now() end
function M.is_visible() return require('hearth.ghost').visible() end

return M
