-- The few Neovim APIs that changed between 0.7 (Debian 12) and 0.12, in one
-- place, so that the rest of the plugin reads the same on every version.

local M = {}

M.has = function(version)
  return vim.fn.has("nvim-" .. version) == 1
end

--- client:request() in 0.11+, client.request() before (the dot form is deprecated there).
function M.request(client, method, params, handler, bufnr)
  if M.has("0.11") then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

function M.notify(client, method, params)
  if M.has("0.11") then
    return client:notify(method, params)
  end
  return client.notify(method, params)
end

function M.get_clients(filter)
  if vim.lsp.get_clients then
    return vim.lsp.get_clients(filter)
  end
  -- 0.7-0.9: no filter argument.
  local out = {}
  for _, client in pairs(vim.lsp.get_active_clients()) do
    local ok = (not filter.name or client.name == filter.name)
      and (not filter.bufnr or vim.lsp.buf_is_attached(filter.bufnr, client.id))
    if ok then
      table.insert(out, client)
    end
  end
  return out
end

function M.is_stopped(client)
  if M.has("0.11") then
    return client:is_stopped()
  end
  return client.is_stopped()
end

--- The LSP log file: vim.lsp.log.get_filename() where it exists (0.9+; 0.12 deprecates
--- vim.lsp.get_log_path(), and its warning lands in the middle of whatever is printing).
function M.log_path()
  local log = vim.lsp.log
  if log and log.get_filename then
    return log.get_filename()
  end
  return vim.lsp.get_log_path()
end

--- vim.islist in 0.10+, vim.tbl_islist (deprecated there) before.
M.islist = vim.islist or vim.tbl_islist

return M
