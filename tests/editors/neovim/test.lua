-- Headless Neovim test: drives the real aiex binary through editors/neovim.
--
--   AIEX_BIN=target/debug/aiex nvim --headless -u NONE -i NONE \
--     --cmd "set rtp^=editors/neovim" -c "luafile tests/editors/neovim/test.lua"
--
-- Prints one "ok"/"not ok"/"skip" line per check and exits non-zero when any
-- check failed. Every wait is bounded; run.sh also bounds the whole run.

-- A run killed half-way must not leave a swap file that the next run's
-- :edit would stop on (run.sh also passes -n).
vim.o.swapfile = false

local TIMEOUT_MS = tonumber(os.getenv("AIEX_TEST_TIMEOUT_MS") or "") or 15000

local script_dir = vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p:h")
local repo = vim.fn.fnamemodify(script_dir, ":h:h:h")
local project = script_dir .. "/../fixtures/greeter"
project = vim.fn.fnamemodify(project, ":p"):gsub("/$", "")
local bin = os.getenv("AIEX_BIN")
if not bin or bin == "" then
  bin = repo .. "/target/debug/aiex"
end
bin = vim.fn.fnamemodify(bin, ":p")

local passed, failed, skipped = 0, 0, 0
local v = vim.version()
local NAME = string.format("neovim %d.%d.%d", v.major, v.minor, v.patch)

local function all_clients()
  return require("aiex.compat").get_clients({})
end

local function out(line)
  io.stdout:write(line .. "\n")
end

--- Runs one check: `fn` raises (error/assert) to fail, returns "skip: why" to skip.
local function check(name, fn)
  local ok, res = pcall(fn)
  if not ok then
    failed = failed + 1
    out("not ok - " .. NAME .. ": " .. name .. ": " .. tostring(res))
  elseif type(res) == "string" and res:match("^skip") then
    skipped = skipped + 1
    out("skip - " .. NAME .. ": " .. name .. " (" .. res:gsub("^skip:%s*", "") .. ")")
  else
    passed = passed + 1
    out("ok - " .. NAME .. ": " .. name)
  end
end

local function finish()
  out(string.format("%s: %d passed, %d failed, %d skipped", NAME, passed, failed, skipped))
  for _, client in ipairs(all_clients()) do
    if vim.fn.has("nvim-0.11") == 1 then
      client:stop()
    else
      client.stop()
    end
  end
  vim.wait(2000, function()
    return #all_clients() == 0
  end, 50)
  if failed > 0 then
    vim.cmd("cquit 1")
  else
    vim.cmd("qall!")
  end
end

--- The aiex client's answer to a request on `bufnr`, or raises with the error.
local function request(client, bufnr, method, params)
  local answer, err
  local done = false
  local function handler(e, result)
    answer, err, done = result, e, true
  end
  if vim.fn.has("nvim-0.11") == 1 then
    client:request(method, params, handler, bufnr)
  else
    client.request(method, params, handler, bufnr)
  end
  if not vim.wait(TIMEOUT_MS, function() return done end, 20) then
    error(method .. ": no answer within " .. TIMEOUT_MS .. " ms")
  end
  if err then
    error(method .. " failed: " .. vim.inspect(err))
  end
  return answer
end

--- 0-based {line, character} of the first `needle` on the line holding `anchor`.
local function position_of(bufnr, anchor, needle)
  for i, line in ipairs(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)) do
    if line:find(anchor, 1, true) then
      local col = line:find(needle, 1, true)
      return { line = i - 1, character = col - 1 }
    end
  end
  error("fixture changed: no line with " .. anchor)
end

local function hover_text(contents)
  if type(contents) == "string" then
    return contents
  end
  if contents.value then
    return contents.value
  end
  local parts = {}
  for _, c in ipairs(contents) do
    table.insert(parts, type(c) == "string" and c or c.value)
  end
  return table.concat(parts, "\n")
end

-- Captured notifications: the plugin reports problems through vim.notify.
local notes = {}
vim.notify = function(msg, level)
  table.insert(notes, { msg = msg, level = level })
  out("# notify: " .. msg)
end

-- Messages from the server (window/showMessage): logged, and a warning or
-- error fails the "no complaint" check below.
local server_messages = {}
vim.lsp.handlers["window/showMessage"] = function(_, params)
  table.insert(server_messages, params)
  out("# server says: " .. params.message)
end

local aiex = require("aiex")

check("a missing binary is reported with the fix", function()
  aiex.setup({ cmd = { "/nonexistent/aiex" } })
  vim.cmd("edit " .. vim.fn.fnameescape(project .. "/lib/greeter.ex"))
  vim.bo.filetype = "elixir"
  assert(aiex.client() == nil, "a client was attached although the binary does not exist")
  local msg = notes[#notes] and notes[#notes].msg or ""
  assert(msg:find("aiex binary not found", 1, true), "expected 'aiex binary not found', got: " .. msg)
  assert(msg:find("cmd =", 1, true), "the message should say how to set the binary: " .. msg)
  vim.cmd("bwipeout!")
end)

if vim.fn.executable(bin) ~= 1 then
  check("aiex binary", function()
    error("no executable at " .. bin .. ": build it (cargo build) or set AIEX_BIN")
  end)
  finish()
  return
end

local settings = {}
if os.getenv("AIEX_TEST_SETTINGS") and os.getenv("AIEX_TEST_SETTINGS") ~= "" then
  settings = vim.fn.json_decode(os.getenv("AIEX_TEST_SETTINGS"))
end
aiex.setup({ cmd = { bin }, settings = settings })
vim.cmd("edit " .. vim.fn.fnameescape(project .. "/lib/greeter.ex"))
vim.bo.filetype = "elixir" -- -u NONE: no filetype detection; this fires FileType
local bufnr = vim.api.nvim_get_current_buf()
local uri = vim.uri_from_bufnr(bufnr)
local client

check("attaches to an Elixir buffer at the mix project root", function()
  local ok = vim.wait(TIMEOUT_MS, function()
    client = aiex.client(bufnr)
    return client ~= nil and client.server_capabilities ~= nil
  end, 50)
  assert(ok, "aiex did not attach within " .. TIMEOUT_MS .. " ms (see " .. require("aiex.compat").log_path() .. ")")
  assert(client.config.root_dir == project, "root_dir is " .. tostring(client.config.root_dir) .. ", expected " .. project)
end)

if not client then
  finish()
  return
end

check("a second Elixir buffer of the project reuses the client", function()
  vim.cmd("split " .. vim.fn.fnameescape(project .. "/mix.exs"))
  vim.bo.filetype = "elixir"
  local other = vim.api.nvim_get_current_buf()
  local ok = vim.wait(TIMEOUT_MS, function() return aiex.client(other) ~= nil end, 50)
  assert(ok, "mix.exs was not attached")
  assert(aiex.client(other).id == client.id, "a second client was started for the same root")
  assert(#all_clients() == 1, "expected one client, got " .. #all_clients())
  vim.cmd("close")
end)

check("documentSymbol lists the module and its functions", function()
  local symbols = request(client, bufnr, "textDocument/documentSymbol", { textDocument = { uri = uri } })
  assert(type(symbols) == "table" and #symbols > 0, "no symbols: " .. vim.inspect(symbols))
  local module = symbols[1]
  assert(module.name == "Greeter", "first symbol is " .. tostring(module.name) .. ", expected Greeter")
  assert(module.kind == 2, "Greeter should be a Module (2), is kind " .. tostring(module.kind))
  local found = {}
  for _, child in ipairs(module.children or {}) do
    found[child.name:match("^[%w_?!]+")] = child
  end
  for _, name in ipairs({ "greet", "greet_all", "format_name" }) do
    assert(found[name], name .. " missing from Greeter's children: " .. vim.inspect(vim.tbl_keys(found)))
  end
  local def_line = position_of(bufnr, "def greet(name) do", "def").line
  local r = found.greet.range
  assert(r.start.line <= def_line and r["end"].line >= def_line + 2,
    "greet's range " .. vim.inspect(r) .. " does not cover its definition at line " .. def_line)
end)

check("hover on a call shows the callee's @spec and @doc", function()
  local pos = position_of(bufnr, "fn name -> greet(name)", "greet(")
  local hover = request(client, bufnr, "textDocument/hover", { textDocument = { uri = uri }, position = pos })
  assert(hover and hover.contents, "no hover at " .. vim.inspect(pos))
  local text = hover_text(hover.contents)
  assert(text:find("Returns a greeting", 1, true), "hover lacks greet's @doc:\n" .. text)
  assert(text:find("String.t()", 1, true), "hover lacks greet's @spec:\n" .. text)
end)

check("the server accepts the plugin's configuration without complaint", function()
  vim.wait(300, function() return #server_messages > 0 end, 20)
  for _, m in ipairs(server_messages) do
    assert(m.type > 2, "the server complained: " .. m.message)
  end
end)

check("completion is wired to the buffer", function()
  local caps = client.server_capabilities
  local mode = vim.b[bufnr].aiex_completion
  if caps.inlineCompletionProvider and vim.lsp.inline_completion then
    assert(mode == "inline", "expected inline completion on this Neovim, got " .. tostring(mode))
  elseif caps.completionProvider then
    assert(mode == "omnifunc", "expected omnifunc, got " .. tostring(mode))
    assert(vim.bo[bufnr].omnifunc == "v:lua.vim.lsp.omnifunc", "omnifunc is " .. vim.bo[bufnr].omnifunc)
  else
    return "skip: the server advertises no completion"
  end
end)

local ai_configured = (os.getenv("AIEX_TEST_SETTINGS") or "") ~= ""

--- Opens an indented empty line between two functions (before `defp
--- format_name`), where a completion would write a new function; returns its
--- 0-based number. remove_line() takes it away again.
local function open_line()
  local at = position_of(bufnr, "defp format_name(name) do", "defp").line
  vim.api.nvim_buf_set_lines(bufnr, at, at, false, { "  ", "" })
  return at
end

local function remove_line(at)
  vim.api.nvim_buf_set_lines(bufnr, at, at + 2, false, {})
end

local function completion_text(item)
  if item.textEdit then
    return item.textEdit.newText
  end
  return item.insertText or item.label
end

check("completion returns the fake provider's suggestion", function()
  if not ai_configured then
    return "skip: AIEX_TEST_SETTINGS (a fake provider) not set; run.sh sets it"
  end
  if not client.server_capabilities.completionProvider then
    return "skip: the server does not offer completion yet"
  end
  local line = open_line()
  local ok, err = pcall(function()
    local answer = request(client, bufnr, "textDocument/completion", {
      textDocument = { uri = uri },
      position = { line = line, character = 2 },
      context = { triggerKind = 1 },
    })
    local items = answer and (answer.items or answer) or {}
    assert(#items > 0, "no completion item")
    local texts = vim.tbl_map(completion_text, items)
    assert(table.concat(texts, "\n"):find("farewell", 1, true),
      "no item carries the fake provider's text: " .. vim.inspect(texts))
  end)
  remove_line(line)
  assert(ok, err)
end)

check("inline completion returns the fake provider's suggestion", function()
  if not ai_configured then
    return "skip: AIEX_TEST_SETTINGS (a fake provider) not set; run.sh sets it"
  end
  if not client.server_capabilities.inlineCompletionProvider then
    return "skip: the server does not offer inline completion yet"
  end
  -- Neovim 0.7 has no inline completion UI, but its client carries the request.
  local line = open_line()
  local ok, err = pcall(function()
    local answer = request(client, bufnr, "textDocument/inlineCompletion", {
      textDocument = { uri = uri },
      position = { line = line, character = 2 },
      context = { triggerKind = 1 },
    })
    local items = answer and (answer.items or answer) or {}
    assert(#items > 0, "no inline completion item")
    local text = type(items[1].insertText) == "table" and items[1].insertText.value or items[1].insertText
    assert(text and text:find("farewell", 1, true), "unexpected suggestion: " .. vim.inspect(items[1]))
  end)
  remove_line(line)
  assert(ok, err)
end)

check("Add docs (code action) inserts a doc comment and @spec above the private function", function()
  if not ai_configured then
    return "skip: AIEX_TEST_SETTINGS (a fake provider) not set; run.sh sets it"
  end
  local commands = (client.server_capabilities.executeCommandProvider or {}).commands or {}
  if not client.server_capabilities.codeActionProvider or not vim.tbl_contains(commands, "aiex.addDocs") then
    return "skip: the server does not offer the aiex.addDocs action yet"
  end
  local pos = position_of(bufnr, "defp format_name(name) do", "format_name")
  vim.api.nvim_win_set_cursor(0, { pos.line + 1, pos.character })
  local before = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n")
  require("aiex.actions").run("addDocs")
  local changed = vim.wait(TIMEOUT_MS, function()
    return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n") ~= before
  end, 50)
  assert(changed, "the buffer did not change within " .. TIMEOUT_MS .. " ms; last message: "
    .. tostring(notes[#notes] and notes[#notes].msg))
  local lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  local def = position_of(bufnr, "defp format_name(name) do", "defp").line
  local above = table.concat(vim.list_slice(lines, math.max(1, def - 3), def), "\n")
  -- format_name is private: Elixir discards @doc on defp with a warning, so the doc comes as a
  -- comment, with the @spec.
  assert(above:find("@spec format_name", 1, true) and above:find("# Trims", 1, true) and not above:find("@doc", 1, true),
    "no comment and @spec right above format_name:\n" .. table.concat(lines, "\n"))
  assert(table.concat(lines, "\n"):find("def greet(name) do", 1, true), "the edit touched other functions")
end)

check("the built-in checks flag a leftover IO.inspect, and its quick fix removes it", function()
  vim.cmd("edit " .. vim.fn.fnameescape(project .. "/lib/debugging.ex"))
  vim.bo.filetype = "elixir"
  local dbuf = vim.api.nvim_get_current_buf()
  local attached = vim.wait(TIMEOUT_MS, function() return aiex.client(dbuf) ~= nil end, 50)
  assert(attached, "aiex did not attach to lib/debugging.ex")
  local diagnostics = {}
  vim.wait(3000, function()
    diagnostics = vim.diagnostic.get(dbuf)
    return #diagnostics > 0
  end, 50)
  if #diagnostics == 0 then
    return "skip: the server publishes no diagnostics yet"
  end
  local inspect_line = position_of(dbuf, "|> IO.inspect(", "IO").line
  local found
  for _, d in ipairs(diagnostics) do
    if d.message:find("IO.inspect", 1, true) and d.lnum == inspect_line then
      found = d
    end
  end
  assert(found, "no diagnostic about IO.inspect on line " .. inspect_line .. ": " .. vim.inspect(diagnostics))
  if not client.server_capabilities.codeActionProvider then
    return "skip: the server offers no quick fixes yet"
  end
  -- Back to the LSP shape the server sent (0.7 keeps only code/data in user_data.lsp).
  -- Columns: the fixture line is ASCII, so bytes and UTF-16 units agree.
  local lsp_diag = vim.tbl_extend("force", (found.user_data or {}).lsp or {}, {
    range = { start = { line = found.lnum, character = found.col },
              ["end"] = { line = found.end_lnum, character = found.end_col } },
    message = found.message,
    severity = found.severity,
    source = found.source,
  })
  local actions = request(client, dbuf, "textDocument/codeAction", {
    textDocument = { uri = vim.uri_from_bufnr(dbuf) },
    range = lsp_diag.range,
    context = { diagnostics = { lsp_diag }, only = { "quickfix" } },
  })
  local fix
  for _, a in ipairs(actions or {}) do
    if a.edit and (a.kind or ""):match("^quickfix") then
      fix = fix or a
    end
  end
  assert(fix, "no quick fix with an edit: " .. vim.inspect(actions))
  vim.lsp.util.apply_workspace_edit(fix.edit, client.offset_encoding)
  local text = table.concat(vim.api.nvim_buf_get_lines(dbuf, 0, -1, false), "\n")
  assert(not text:find("IO.inspect", 1, true), "IO.inspect is still there:\n" .. text)
  assert(text:find("String.upcase()", 1, true), "the fix removed more than the call:\n" .. text)
  vim.cmd("edit! " .. vim.fn.fnameescape(project .. "/lib/greeter.ex"))
end)

finish()
