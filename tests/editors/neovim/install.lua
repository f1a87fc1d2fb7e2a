-- :AiexInstall end to end against the local site tests/editors/neovim/install.sh serves.
local passed, failed = 0, 0
local NAME = "neovim " .. tostring(vim.version().major) .. "." .. tostring(vim.version().minor) .. " install"
local function out(line) io.stdout:write(line .. "\n") end
local function check(name, fn)
  local ok, err = pcall(fn)
  if ok then
    passed = passed + 1
    out("ok - " .. NAME .. ": " .. name)
  else
    failed = failed + 1
    out("not ok - " .. NAME .. ": " .. name .. ": " .. tostring(err))
  end
end

local install = require("aiex.install")
local url, dir = os.getenv("AIEX_INSTALL_URL"), os.getenv("AIEX_INSTALL_DIR")
local version, sha256 = os.getenv("AIEX_INSTALL_VERSION"), os.getenv("AIEX_INSTALL_SHA256")

check("the archive for this machine is the Linux x86_64 musl one", function()
  assert(install.triple() == "x86_64-unknown-linux-musl", tostring(install.triple()))
  assert(install.triple({ sysname = "Darwin", machine = "arm64" }) == "aarch64-apple-darwin")
  assert(install.triple({ sysname = "Windows_NT", machine = "x86_64" }) == "x86_64-pc-windows-gnu")
  assert(install.triple({ sysname = "SunOS", machine = "sparc" }) == nil)
end)

check("no URL is a clear error, not a download", function()
  local binary, err = install.install({ dir = dir, version = version })
  assert(binary == nil and err:find("no release URL", 1, true), tostring(err))
end)

check("a wrong pinned checksum installs nothing", function()
  local binary, err = install.install({ url = url, dir = dir, version = version, sha256 = string.rep("0", 64) })
  assert(binary == nil, "installed despite the mismatch")
  assert(err:find("checksum mismatch", 1, true) and err:find(sha256, 1, true), err)
  assert(vim.fn.executable(install.binary_path({ dir = dir, version = version })) == 0, "a binary was unpacked")
end)

check("installs with the published checksum and the binary runs", function()
  local binary, detail = install.install({ url = url, dir = dir, version = version })
  assert(binary, detail)
  assert(binary == install.binary_path({ dir = dir, version = version }), binary)
  assert(detail:find("aiex " .. version, 1, true), detail)
end)

check("installs with a pinned checksum, per platform", function()
  local binary, detail = install.install({ url = url, dir = dir, version = version, sha256 = { ["x86_64-unknown-linux-musl"] = sha256 } })
  assert(binary, detail)
end)

check("the lazy.nvim build hook installs from the spec's opts.install", function()
  vim.fn.delete(dir .. "/" .. version, "rf")
  assert(vim.fn.executable(install.binary_path({ dir = dir, version = version })) == 0, "still installed")
  -- What lazy.nvim passes the hook: the plugin, its spec's fields included.
  local plugin = { name = "aiex", opts = { install = { url = url, dir = dir, version = version } } }
  local binary, detail = install.build(plugin)
  assert(binary == install.binary_path({ dir = dir, version = version }), tostring(binary))
  assert(vim.fn.executable(binary) == 1, binary .. " not installed")
  assert(detail:find("aiex " .. version, 1, true), detail)
end)

check("the build hook takes opts given as a function, as lazy.nvim allows", function()
  local plugin = { name = "aiex" }
  plugin.opts = function(p, defaults)
    assert(p == plugin and type(defaults) == "table", "called as lazy.nvim calls it")
    return { install = { url = url, dir = dir, version = version } }
  end
  local binary = install.build(plugin)
  assert(binary == install.binary_path({ dir = dir, version = version }), tostring(binary))
end)

check("a failed build raises, so lazy.nvim marks the build failed", function()
  local ok, err = pcall(install.build, { opts = { install = { dir = dir, version = version } } })
  assert(not ok, "no error raised")
  assert(tostring(err):find("aiex install failed: no release URL", 1, true), tostring(err))
  ok, err = pcall(install.build, { opts = { install = { url = url, dir = dir, version = version, sha256 = string.rep("0", 64) } } })
  assert(not ok and tostring(err):find("checksum mismatch", 1, true), tostring(err))
end)

check("the plugin starts the installed binary when aiex is not on PATH", function()
  vim.env.PATH = "/nonexistent"
  local aiex = require("aiex")
  aiex.setup({ install = { url = url, dir = dir, version = version } })
  local config = aiex.client_config(vim.api.nvim_get_current_buf())
  assert(config.cmd[1] == install.binary_path({ dir = dir, version = version }), vim.inspect(config.cmd))
  assert(config.capabilities.experimental.aiex.minimumServerVersion == install.version)
end)

out(string.format("%d passed, %d failed", passed, failed))
vim.cmd(failed == 0 and "qall!" or "cquit!")
