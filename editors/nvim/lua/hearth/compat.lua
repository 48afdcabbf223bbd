-- What differs between Neovim 0.7 (Debian 12) and current releases, in one place: client methods
-- (dot calls before 0.11, method calls after), starting a client (vim.lsp.start from 0.10 with a
-- bufnr; start_client + buf_attach_client before), vim.str_byteindex's signature, and the loop.
local M = {}

M.uv = vim.uv or vim.loop
local methods = vim.fn.has('nvim-0.11') == 1

-- client:request / client.request etc., without deprecation warnings on either side.
function M.call(client, name, ...)
  if methods then return client[name](client, ...) end
  return client[name](...)
end

function M.is_stopped(client)
  return M.call(client, 'is_stopped')
end

-- Starts a client for `config` (or reuses the live one with the same name and root) and attaches
-- `bufnr`; returns the client id or nil.
function M.start(config, bufnr)
  if vim.fn.has('nvim-0.10') == 1 then
    return vim.lsp.start(config, {
      bufnr = bufnr,
      reuse_client = function(c, conf)
        return c.name == conf.name and c.config.root_dir == conf.root_dir
      end,
    })
  end
  local id = vim.lsp.start_client(config)
  if id then vim.lsp.buf_attach_client(bufnr, id) end
  return id
end

-- Byte index of `character` (in `encoding` units) in `line`; errors past the end.
function M.byteindex(line, character, encoding)
  if vim.fn.has('nvim-0.11') == 1 then return vim.str_byteindex(line, encoding, character, false) end
  return vim.str_byteindex(line, character, encoding ~= 'utf-32')
end

return M
