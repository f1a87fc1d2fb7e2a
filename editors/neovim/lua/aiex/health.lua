-- :checkhealth aiex — says what would keep Aiex from working, and how to fix it.

local M = {}

-- vim.health (0.10+) or the older require("health") reporters (0.7-0.9).
local health = vim.health or require("health")
local start = health.start or health.report_start
local ok = health.ok or health.report_ok
local warn = health.warn or health.report_warn
local fail = health.error or health.report_error
local info = health.info or health.report_info

function M.check()
  local aiex = require("aiex")
  local config = aiex.config
  start("aiex: server")
  local cmd = config.cmd or {}
  if cmd[1] and vim.fn.executable(cmd[1]) == 1 then
    local version = vim.fn.system({ cmd[1], "--version" })
    if vim.v.shell_error == 0 then
      ok(string.format("%s: %s", vim.fn.exepath(cmd[1]), vim.trim(version)))
    else
      warn(cmd[1] .. " --version failed: " .. vim.trim(version))
    end
  else
    fail(
      string.format("aiex binary not found (%s)", tostring(cmd[1])),
      { "put aiex on PATH", "or pass cmd = { '/path/to/aiex' } to require('aiex').setup()" }
    )
  end

  start("aiex: completion")
  local inline = vim.lsp.inline_completion
  if inline and type(inline.enable) == "function" then
    ok("ghost text: vim.lsp.inline_completion is available" .. (config.inline_completion and "" or " (turned off: inline_completion = false)"))
  else
    info("this Neovim has no vim.lsp.inline_completion (0.12+): AI suggestions come as completion items")
  end
  if config.completion == "auto" and not vim.lsp.completion then
    warn("completion = \"auto\" needs Neovim 0.11 (vim.lsp.completion): omnifunc is used instead")
  end

  start("aiex: clients")
  local clients = require("aiex.compat").get_clients({ name = config.name })
  if #clients == 0 then
    info("no aiex client running: open an " .. table.concat(config.filetypes, "/") .. " buffer")
  end
  for _, client in ipairs(clients) do
    ok(string.format("client %d at %s", client.id, tostring(client.config.root_dir)))
  end
  if next(config.settings or {}) == nil then
    info("no settings passed: the server uses .aiex.toml, ~/.config/aiex/config.toml or its defaults")
  end
end

return M
