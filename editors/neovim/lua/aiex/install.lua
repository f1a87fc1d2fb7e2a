-- :AiexInstall: downloads the aiex release archive for this machine, checks its
-- SHA-256 before anything in it runs, unpacks it under stdpath("data")/aiex/<version>
-- and checks that the binary starts. A checksum mismatch is an error and nothing
-- is unpacked. Synchronous on purpose: it runs once, from the command or a plugin
-- manager's build hook, which both wait for it.
--
-- The archive is <url>/aiex-<version>-<triple>.tar.gz; its checksum is the
-- pinned `sha256` option when given (the safer choice: it does not come from the
-- same server), else <archive>.sha256 from the same URL.

local M = {}

--- The version of aiex this plugin installs and needs.
M.version = "0.1.0"

M.defaults = {
  --- Where the release archives are, e.g. "https://example.org/aiex/releases/v{version}";
  --- {version} is replaced. Required: there is no default download site.
  url = nil,
  version = M.version,
  --- Pinned SHA-256 of the archive, or a table { [triple] = sha256 }.
  sha256 = nil,
  --- Where to install (default: stdpath("data") .. "/aiex").
  dir = nil,
}

--- The Rust target triple of the release archive for this machine, or nil and why not.
function M.triple(uname)
  uname = uname or vim.loop.os_uname()
  local machine = ({ x86_64 = "x86_64", amd64 = "x86_64", AMD64 = "x86_64", aarch64 = "aarch64", arm64 = "aarch64" })[uname.machine]
  if not machine then
    return nil, "no aiex release for the processor " .. tostring(uname.machine)
  end
  if uname.sysname == "Linux" then
    return machine .. "-unknown-linux-musl"
  elseif uname.sysname == "Darwin" then
    return machine .. "-apple-darwin"
  elseif uname.sysname:match("^Windows") and machine == "x86_64" then
    return "x86_64-pc-windows-gnu"
  end
  return nil, string.format("no aiex release for %s on %s", uname.sysname, uname.machine)
end

local function install_root(opts)
  return opts.dir or (vim.fn.stdpath("data") .. "/aiex")
end

--- The path the binary of `opts.version` is installed at (whether or not it is there).
function M.binary_path(opts)
  opts = vim.tbl_extend("force", M.defaults, opts or {})
  local name = vim.loop.os_uname().sysname:match("^Windows") and "aiex.exe" or "aiex"
  return install_root(opts) .. "/" .. opts.version .. "/" .. name
end

local function run(argv)
  local output = vim.fn.system(argv)
  return vim.v.shell_error == 0, output
end

local function download(url, file)
  if vim.fn.executable("curl") == 1 then
    return run({ "curl", "--fail", "--silent", "--show-error", "--location", "--output", file, url })
  elseif vim.fn.executable("wget") == 1 then
    return run({ "wget", "--quiet", "--output-document", file, url })
  end
  return false, "neither curl nor wget is installed"
end

--- The SHA-256 of a file in lowercase hex, or nil and why not.
function M.sha256_file(file)
  local tools = {
    { "sha256sum", { "sha256sum", file } },
    { "shasum", { "shasum", "-a", "256", file } },
    { "certutil", { "certutil", "-hashfile", file, "SHA256" } },
  }
  for _, tool in ipairs(tools) do
    if vim.fn.executable(tool[1]) == 1 then
      local ok, output = run(tool[2])
      if not ok then
        return nil, tool[1] .. " failed: " .. output
      end
      local hash = output:lower():match("%f[%x](%x+)%f[^%x]")
      if tool[1] == "certutil" then
        hash = output:lower():gsub("%s", ""):match("(%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x)")
      end
      if hash and #hash == 64 then
        return hash
      end
      return nil, tool[1] .. " printed no SHA-256: " .. output
    end
  end
  return nil, "no sha256sum, shasum or certutil to check the download with"
end

--- Installs aiex. Returns the binary's path, or nil and an error message.
function M.install(opts)
  opts = vim.tbl_extend("force", M.defaults, opts or {})
  if not opts.url or opts.url == "" then
    return nil, "no release URL: set install = { url = '...' } in require('aiex').setup() (see the README)"
  end
  local triple, why = M.triple()
  if not triple then
    return nil, why
  end
  local base = opts.url:gsub("{version}", opts.version):gsub("/$", "")
  local archive = string.format("aiex-%s-%s.tar.gz", opts.version, triple)
  local root = install_root(opts)
  local staging = root .. "/.download-" .. vim.loop.getpid()
  vim.fn.mkdir(staging, "p")
  local function fail(message)
    vim.fn.delete(staging, "rf")
    return nil, message
  end
  local file = staging .. "/" .. archive
  local ok, output = download(base .. "/" .. archive, file)
  if not ok then
    return fail(string.format("cannot download %s/%s: %s", base, archive, vim.trim(output)))
  end
  local expected = type(opts.sha256) == "table" and opts.sha256[triple] or opts.sha256
  if not expected then
    local sum_file = file .. ".sha256"
    ok, output = download(base .. "/" .. archive .. ".sha256", sum_file)
    if not ok then
      return fail(string.format("cannot download the checksum %s/%s.sha256: %s", base, archive, vim.trim(output)))
    end
    expected = (table.concat(vim.fn.readfile(sum_file), "\n"):match("^%s*(%x+)") or ""):lower()
  end
  local actual, hash_error = M.sha256_file(file)
  if not actual then
    return fail(hash_error)
  end
  if actual ~= expected:lower() then
    return fail(string.format(
      "checksum mismatch for %s: expected %s, got %s. The download was deleted and nothing was installed.",
      archive,
      expected,
      actual
    ))
  end
  local target = root .. "/" .. opts.version
  vim.fn.delete(target, "rf")
  vim.fn.mkdir(target, "p")
  ok, output = run({ "tar", "-xzf", file, "-C", target, "--strip-components=1" })
  vim.fn.delete(staging, "rf")
  if not ok then
    return nil, "cannot unpack " .. archive .. ": " .. vim.trim(output)
  end
  local binary = M.binary_path(opts)
  ok, output = run({ binary, "--version" })
  if not ok or not output:find(opts.version, 1, true) then
    return nil, string.format("%s --version failed: %s", binary, vim.trim(output))
  end
  return binary, vim.trim(output)
end

--- :AiexInstall: installs and reports.
function M.command(opts)
  vim.notify("aiex: downloading and checking the release archive...", vim.log.levels.INFO)
  local binary, detail = M.install(opts)
  if binary then
    vim.notify(string.format("aiex installed: %s (%s)", binary, detail), vim.log.levels.INFO)
  else
    vim.notify("aiex install failed: " .. detail, vim.log.levels.ERROR)
  end
  return binary, detail
end

--- The lazy.nvim `build` hook: `build = function(plugin) require("aiex.install").build(plugin) end`.
--- Installs with the spec's `opts.install` (the options `setup` gets, so the URL is written
--- once; `opts` may be a table or a function, as lazy.nvim allows), and raises an error on
--- failure so that lazy.nvim marks the build as failed instead of a notification scrolling by.
function M.build(plugin)
  local opts = type(plugin) == "table" and plugin.opts or nil
  if type(opts) == "function" then
    opts = opts(plugin, {})
  end
  local binary, detail = M.command(type(opts) == "table" and opts.install or nil)
  if not binary then
    error("aiex install failed: " .. detail, 0)
  end
  return binary, detail
end

return M
