-- Unit tests of the plugin's pure parts (no server needed):
--   nvim --headless -u NONE -i NONE --cmd "set rtp^=editors/neovim" -c "luafile tests/editors/neovim/unit.lua"

local passed, failed = 0, 0
local v = vim.version()
local NAME = string.format("neovim %d.%d.%d unit", v.major, v.minor, v.patch)
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
local function eq(actual, expected, what)
  if not vim.deep_equal(actual, expected) then
    error(string.format("%s: expected %s, got %s", what or "value", vim.inspect(expected), vim.inspect(actual)), 2)
  end
end

local root = require("aiex.root")
local actions = require("aiex.actions")
local status = require("aiex.status")

check("the LSP log path is found without a deprecation warning", function()
  local warned = {}
  local notify, deprecate = vim.notify, vim.deprecate
  vim.notify = function(msg) table.insert(warned, msg) end
  vim.deprecate = function(name) table.insert(warned, "deprecated: " .. name) end
  local ok, path = pcall(require("aiex.compat").log_path)
  vim.notify, vim.deprecate = notify, deprecate
  assert(ok, path)
  assert(type(path) == "string" and path:match("lsp%.log$"), "not the LSP log: " .. tostring(path))
  eq(warned, {}, "warnings")
end)

-- A throwaway tree: umbrella/{mix.exs, apps/web/{mix.exs, lib/web.ex}}, plain/{.git/, lib/x.ex}
local tmp = vim.fn.tempname()
local function touch(path)
  vim.fn.mkdir(vim.fn.fnamemodify(path, ":h"), "p")
  vim.fn.writefile({}, path)
end
touch(tmp .. "/umbrella/mix.exs")
touch(tmp .. "/umbrella/apps/web/mix.exs")
touch(tmp .. "/umbrella/apps/web/lib/web.ex")
touch(tmp .. "/single/mix.exs")
touch(tmp .. "/single/lib/deep/a.ex")
vim.fn.mkdir(tmp .. "/plain/.git", "p")
touch(tmp .. "/plain/lib/x.ex")
touch(tmp .. "/loose/y.ex")

local markers = { "mix.exs", ".git" }
check("root: the nearest mix.exs", function()
  eq(root.find(tmp .. "/single/lib/deep/a.ex", markers), tmp .. "/single", "root")
end)
check("root: an umbrella app resolves to the umbrella", function()
  eq(root.find(tmp .. "/umbrella/apps/web/lib/web.ex", markers), tmp .. "/umbrella", "root")
end)
check("root: .git when there is no mix.exs", function()
  eq(root.find(tmp .. "/plain/lib/x.ex", markers), tmp .. "/plain", "root")
end)
check("root: the file's directory when nothing matches", function()
  eq(root.find(tmp .. "/loose/y.ex", { "no-such-marker" }), tmp .. "/loose", "root")
end)
vim.fn.delete(tmp, "rf")

local explain = { title = "Explain", command = { command = "aiex.explain", arguments = { { uri = "u" } } } }
check("pick: the action carrying the command", function()
  eq(actions.pick({ { title = "x", command = { command = "other" } }, explain }, "aiex.explain"), explain, "action")
end)
check("pick: a bare Command counts", function()
  local bare = { title = "Add docs", command = "aiex.addDocs", arguments = {} }
  eq(actions.pick({ bare }, "aiex.addDocs"), bare, "action")
end)
check("pick: disabled actions are skipped, with the reason when all are", function()
  local disabled = vim.tbl_extend("force", explain, { disabled = { reason = "no provider" } })
  eq(actions.pick({ disabled, explain }, "aiex.explain"), explain, "action")
  local none, why = actions.pick({ disabled }, "aiex.explain")
  eq(none, nil, "action")
  eq(why, "Aiex cannot do that here: no provider", "reason")
end)
check("pick: says where to put the cursor when nothing matches", function()
  local none, why = actions.pick(nil, "aiex.explain")
  eq(none, nil, "action")
  assert(why:find("put the cursor inside a function", 1, true), why)
end)
check("result_text: strings and markdown fields", function()
  eq(actions.result_text("# Hi"), "# Hi", "string")
  eq(actions.result_text({ markdown = "m" }), "m", "markdown")
  eq(actions.result_text({ uri = "file:///x" }), nil, "no text")
  eq(actions.result_text(vim.NIL), nil, "null")
end)

check("status: provider map, usage cost", function()
  local s = status.summarise({ providers = { hosted = { breaker = "open" } } }, { today = { cost_usd = 1.234 } })
  eq(s, { provider = "hosted", state = "open", cost = 1.234 }, "summary")
  eq(status.format(s), "Aiex: hosted · open · $1.23", "text")
end)
check("status: provider list, explicit state, no cost", function()
  local s = status.summarise({ provider = "local", state = "ready", providers = { { name = "x" } } })
  eq(status.format(s), "Aiex: local · ready", "text")
end)
check("status: nothing configured or no answer", function()
  eq(status.format(status.summarise({ providers = {} })), "Aiex: offline · offline", "empty")
  eq(status.format(status.summarise(nil)), "Aiex: offline · unknown", "nil")
end)

local chat = require("aiex.chat")
check("chat: a line range ends at the next line's start, or at the end of the last line", function()
  local lines = { "defmodule A do", "  def a, do: 1", "end" }
  eq(chat.line_range(lines, 2, 2), { start = { line = 1, character = 0 }, ["end"] = { line = 2, character = 0 } }, "middle")
  eq(chat.line_range(lines, 2, 3), { start = { line = 1, character = 0 }, ["end"] = { line = 2, character = 3 } }, "last")
  eq(chat.line_range(lines, 1, 9, function(row, text) return row * 100 + #text end)["end"],
    { line = 2, character = 203 }, "clamped, measured by width()")
end)
check("chat: params carry the session, the document and the token; proposals are offered", function()
  eq(chat.params("why?", 3, "file:///a.ex", nil, "t"),
    { sessionId = 3, message = "why?", textDocument = { uri = "file:///a.ex" }, token = "t" }, "params")
  eq(chat.params("hi", nil, nil, nil, "t"), { message = "hi", token = "t" }, "no session, no file")
  local lines = chat.proposal_lines({ { proposal = 2, label = "Aiex: lib/a.ex" } })
  eq(#lines, 1, "one line")
  assert(lines[1]:find(":AiexChatApply 2", 1, true), lines[1])
end)
check("chat: the commands exist and, before Neovim 0.10, say what they need", function()
  require("aiex").setup({ cmd = { "/nonexistent/aiex" } })
  for _, name in ipairs({ "AiexChat", "AiexChatNew", "AiexChatStop", "AiexChatApply", "AiexChatReject", "AiexUndo" }) do
    eq(vim.fn.exists(":" .. name), 2, name)
  end
  if vim.fn.has("nvim-0.10") == 0 then
    local said = {}
    local notify = vim.notify
    vim.notify = function(msg) table.insert(said, msg) end
    local ok, err = pcall(vim.cmd, "AiexChat hello")
    vim.notify = notify
    assert(ok, err)
    assert((said[1] or ""):find("needs Neovim 0.10", 1, true), vim.inspect(said))
  end
end)

check(":checkhealth aiex names a missing binary and the fix", function()
  require("aiex").setup({ cmd = { "/nonexistent/aiex" } })
  vim.cmd("silent checkhealth aiex")
  local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
  vim.cmd("bwipeout!")
  assert(text:find("aiex binary not found (/nonexistent/aiex)", 1, true), text)
  assert(text:find("put aiex on PATH", 1, true), text)
end)

out(string.format("%s: %d passed, %d failed", NAME, passed, failed))
if failed > 0 then
  vim.cmd("cquit 1")
else
  vim.cmd("qall!")
end
