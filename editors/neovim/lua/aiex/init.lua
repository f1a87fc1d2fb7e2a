-- Aiex for Neovim: starts the aiex language server for Elixir buffers.
--
--   require("aiex").setup({
--     cmd = { "aiex" },                     -- or { "/path/to/aiex" }
--     settings = { providers = {...}, features = {...} },  -- the server's configuration shape
--   })
--
-- Works from Neovim 0.7 (Debian 12) to 0.12: vim.lsp.start where it exists
-- (0.8+), vim.lsp.start_client + buf_attach_client before; ghost text through
-- vim.lsp.inline_completion on 0.12+, completion items (omnifunc, or
-- vim.lsp.completion on 0.11) before. No keymap is set: see the README.

local compat = require("aiex.compat")
local root = require("aiex.root")

local M = {}

M.defaults = {
  name = "aiex",
  cmd = { "aiex" },
  filetypes = { "elixir", "eelixir", "heex" },
  root_markers = { "mix.exs", ".git" },
  --- The server configuration (providers, features, checks), sent as
  --- initializationOptions and answered to workspace/configuration "aiex".
  settings = {},
  --- Ghost text on Neovim 0.12+ when the server offers textDocument/inlineCompletion.
  inline_completion = true,
  --- Completion items: "omnifunc" (<C-x><C-o>), "auto" (vim.lsp.completion with
  --- autotrigger on 0.11+, omnifunc before), or false to leave completion alone.
  completion = "omnifunc",
  capabilities = nil,
  on_attach = nil,
  --- :AiexInstall's options (url, version, sha256, dir): see lua/aiex/install.lua.
  install = {},
}

M.config = vim.deepcopy(M.defaults)

-- Neovim 0.7 clients, by root directory: vim.lsp.start does this for us on 0.8+.
local clients_by_root = {}
local warned_missing = false

local function executable(cmd)
  return type(cmd) == "table" and cmd[1] and vim.fn.executable(cmd[1]) == 1
end

--- The command to start: the configured one, or, when that is the default `aiex` and it is
--- not on PATH, the binary :AiexInstall put in place.
local function resolved_cmd()
  local cmd = M.config.cmd
  if not executable(cmd) and cmd[1] == "aiex" then
    local installed = require("aiex.install").binary_path(M.config.install)
    if vim.fn.executable(installed) == 1 then
      return vim.list_extend({ installed }, vim.list_slice(cmd, 2))
    end
  end
  return cmd
end

local function enable_completion(client, bufnr)
  local caps = client.server_capabilities or {}
  -- vim.lsp.inline_completion.enable is the 0.12 API (pre-release builds had the module without it).
  local inline = vim.lsp.inline_completion
  if M.config.inline_completion and inline and type(inline.enable) == "function" and caps.inlineCompletionProvider then
    inline.enable(true, { bufnr = bufnr })
    return "inline"
  end
  if not caps.completionProvider or not M.config.completion then
    return nil
  end
  if M.config.completion == "auto" and vim.lsp.completion then
    vim.lsp.completion.enable(true, client.id, bufnr, { autotrigger = true })
    return "auto"
  end
  vim.bo[bufnr].omnifunc = "v:lua.vim.lsp.omnifunc"
  return "omnifunc"
end

local function on_attach(client, bufnr)
  vim.b[bufnr].aiex_completion = enable_completion(client, bufnr)
  require("aiex.status").refresh(client)
  if M.config.on_attach then
    M.config.on_attach(client, bufnr)
  end
end

local function capabilities()
  local caps = M.config.capabilities or vim.lsp.protocol.make_client_capabilities()
  -- Neovim 0.7 has no window/showDocument handler: the plugin brings one
  -- (Explain opens its document with it), so it can say it supports it.
  caps.window = caps.window or {}
  caps.window.showDocument = { support = true }
  -- vim.lsp.util.apply_workspace_edit applies versioned documentChanges (stale ones are
  -- refused) but Neovim does not say so; say it on 0.10+, where :AiexChatApply uses it. With
  -- 0.12's own changeAnnotationSupport, a chat edit then comes with a confirmation
  -- (needsConfirmation), which 0.12 asks for.
  if compat.has("0.10") then
    caps.workspace = caps.workspace or {}
    caps.workspace.workspaceEdit = caps.workspace.workspaceEdit or {}
    caps.workspace.workspaceEdit.documentChanges = true
  end
  -- The oldest server this plugin works with: an older binary says so when it starts.
  caps.experimental = caps.experimental or {}
  caps.experimental.aiex = { minimumServerVersion = require("aiex.install").version }
  return caps
end

--- The client configuration for the project containing `bufnr`.
function M.client_config(bufnr)
  local path = vim.api.nvim_buf_get_name(bufnr)
  local dir = path ~= "" and root.find(path, M.config.root_markers) or vim.loop.cwd()
  -- An empty Lua table would be sent as a JSON array: send {} instead.
  local settings = next(M.config.settings or {}) and M.config.settings or vim.empty_dict()
  return {
    name = M.config.name,
    cmd = resolved_cmd(),
    root_dir = dir,
    workspace_folders = { { uri = vim.uri_from_fname(dir), name = vim.fn.fnamemodify(dir, ":t") } },
    init_options = settings,
    settings = { aiex = settings },
    capabilities = capabilities(),
    -- window/showDocument for the actions, aiex/chatDelta for :AiexChat: this client's only.
    handlers = vim.tbl_extend("force", require("aiex.actions").handlers(), require("aiex.chat").handlers()),
    on_attach = on_attach,
  }
end

--- Starts (or reuses) the client for the buffer's project and attaches it.
--- Returns the client id, or nil when aiex cannot be started.
function M.attach(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  if vim.bo[bufnr].buftype ~= "" then
    return nil
  end
  if not executable(resolved_cmd()) then
    if not warned_missing then
      warned_missing = true
      vim.notify(
        string.format(
          "aiex binary not found (%s): put aiex on PATH or pass cmd = { '/path/to/aiex' } to require('aiex').setup(), or run :AiexInstall",
          tostring(M.config.cmd and M.config.cmd[1])
        ),
        vim.log.levels.ERROR
      )
    end
    return nil
  end
  local config = M.client_config(bufnr)
  if vim.lsp.start then
    return vim.lsp.start(config, { bufnr = bufnr })
  end
  -- Neovim 0.7: one client per root, started once, attached to each buffer.
  local id = clients_by_root[config.root_dir]
  local client = id and vim.lsp.get_client_by_id(id)
  if not client or compat.is_stopped(client) then
    id = vim.lsp.start_client(config)
    if not id then
      vim.notify("aiex failed to start: see " .. compat.log_path(), vim.log.levels.ERROR)
      return nil
    end
    clients_by_root[config.root_dir] = id
  end
  vim.lsp.buf_attach_client(bufnr, id)
  return id
end

--- The running aiex client attached to `bufnr` (default: current buffer).
function M.client(bufnr)
  return compat.get_clients({ name = M.config.name, bufnr = bufnr or vim.api.nvim_get_current_buf() })[1]
end

--- Changes the server configuration at runtime (workspace/didChangeConfiguration).
function M.update_settings(settings)
  M.config.settings = settings
  for _, client in ipairs(compat.get_clients({ name = M.config.name })) do
    client.config.settings = { aiex = settings }
    compat.notify(client, "workspace/didChangeConfiguration", { settings = { aiex = settings } })
  end
end

local function create_commands()
  local actions = require("aiex.actions")
  local command = vim.api.nvim_create_user_command
  command("AiexExplain", function() actions.run("explain") end, { desc = "Aiex: explain the function under the cursor" })
  command("AiexRefactor", function(o)
    actions.run("refactor", { instruction = o.args ~= "" and o.args or nil, ask = o.args == "" })
  end, { nargs = "*", desc = "Aiex: refactor the function under the cursor [instruction]" })
  command("AiexGenerateTests", function() actions.run("generateTests") end, { desc = "Aiex: generate ExUnit tests for the function" })
  command("AiexAddDocs", function() actions.run("addDocs") end, { desc = "Aiex: add @doc and @spec to the function" })
  command("AiexInstall", function() require("aiex.install").command(M.config.install) end, { desc = "Aiex: download, verify and install the aiex binary" })
  command("AiexStatus", function() require("aiex.status").show(M.client()) end, { desc = "Aiex: provider, state, cost today" })
  -- :AiexChat, :AiexChatNew, :AiexChatStop, :AiexChatApply, :AiexChatReject, :AiexUndo
  -- (Neovim 0.10+; older versions say so).
  require("aiex.chat").create_commands()
end

---@param opts table|nil see M.defaults
function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts or {})
  -- Lists are replaced, not merged element by element.
  for _, key in ipairs({ "cmd", "filetypes", "root_markers" }) do
    if opts and opts[key] then
      M.config[key] = opts[key]
    end
  end
  warned_missing = false
  local group = vim.api.nvim_create_augroup("aiex", { clear = true })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = M.config.filetypes,
    callback = function(args)
      M.attach(args.buf)
    end,
  })
  create_commands()
  -- Buffers opened before setup() ran.
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and vim.tbl_contains(M.config.filetypes, vim.bo[bufnr].filetype) then
      M.attach(bufnr)
    end
  end
end

return M
