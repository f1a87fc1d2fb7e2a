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

-- :AiexChat (Neovim 0.10+): a real chat turn through aiex/chat and aiex/chatDelta.
local chat = require("aiex.chat")

--- Runs an Ex command that starts a chat turn and waits for its answer; returns the result.
local function chat_turn(cmd)
  local before = chat.state.last_result
  vim.cmd(cmd)
  local done = vim.wait(TIMEOUT_MS, function()
    return chat.state.pending == nil and chat.state.last_result ~= before
  end, 20)
  assert(done, cmd .. ": no answer within " .. TIMEOUT_MS .. " ms; last message: "
    .. tostring(notes[#notes] and notes[#notes].msg))
  return chat.state.last_result
end

local function chat_text()
  return table.concat(vim.api.nvim_buf_get_lines(chat.state.bufnr, 0, -1, false), "\n")
end

local function complaints(since)
  local out = {}
  for i = since + 1, #notes do
    if (notes[i].level or 0) >= vim.log.levels.WARN then
      table.insert(out, notes[i].msg)
    end
  end
  return out
end

local notes_before_chat = #notes
local first_session

if vim.fn.has("nvim-0.10") == 0 then
  check(":AiexChat says it needs Neovim 0.10 (and does nothing else)", function()
    vim.cmd("AiexChat hello")
    local msg = notes[#notes] and notes[#notes].msg or ""
    assert(msg:find("needs Neovim 0.10", 1, true), "expected 'needs Neovim 0.10', got: " .. msg)
    assert(vim.fn.bufnr(chat.BUFFER_NAME) == -1, "a chat buffer was opened anyway")
  end)
else
  check(":AiexChat streams the answer into a Markdown scratch buffer, with the current file as context", function()
    if not ai_configured then
      return "skip: AIEX_TEST_SETTINGS (a fake provider) not set; run.sh sets it"
    end
    vim.cmd("buffer " .. bufnr)
    local result = chat_turn("AiexChat What does this module do?")
    local cbuf = chat.state.bufnr
    assert(cbuf and vim.api.nvim_buf_is_valid(cbuf), "no chat buffer")
    assert(vim.api.nvim_buf_get_name(cbuf):find("aiex://chat", 1, true), "buffer name " .. vim.api.nvim_buf_get_name(cbuf))
    assert(vim.bo[cbuf].buftype == "nofile", "buftype is " .. vim.bo[cbuf].buftype)
    assert(vim.bo[cbuf].filetype == "markdown", "filetype is " .. vim.bo[cbuf].filetype)
    assert(vim.fn.bufwinid(cbuf) ~= -1, "the chat buffer is not shown in a window")
    assert(vim.api.nvim_get_current_buf() == bufnr, "the cursor left the Elixir buffer")
    assert(chat.state.deltas >= 1, "no aiex/chatDelta reached the buffer")
    local text = chat_text()
    assert(text:find("What does this module do?", 1, true), "the question is not shown:\n" .. text)
    assert(text:find("trims and capitalizes the name, then says hello", 1, true), "no answer in the chat buffer:\n" .. text)
    assert(type(result.sessionId) == "number", "no session id: " .. vim.inspect(result))
    local ctx = (result.context or {})[1] or {}
    assert(tostring(ctx.path):find("greeter.ex", 1, true) and ctx.reason ~= "selection",
      "the current file was not the context: " .. vim.inspect(result.context))
    first_session = result.sessionId
    out("# chat: session " .. first_session .. ", " .. chat.state.deltas .. " deltas streamed")
  end)

  check("a second :AiexChat, on selected lines, continues the same session", function()
    if not first_session then
      return "skip: the first chat turn did not complete"
    end
    local result = chat_turn("10,12AiexChat And these lines?")
    assert(result.sessionId == first_session,
      "session " .. tostring(result.sessionId) .. ", expected " .. first_session)
    assert(result.turn == 2, "turn " .. tostring(result.turn) .. ", expected 2")
    local ctx = (result.context or {})[1] or {}
    assert(ctx.reason == "selection", "the selection was not the context: " .. vim.inspect(result.context))
    local _, answers = chat_text():gsub("## Aiex", "")
    assert(answers == 2, "expected two answers in the chat buffer, found " .. answers .. ":\n" .. chat_text())
    assert(vim.b[chat.state.bufnr].aiex_session_id == first_session, "b:aiex_session_id not kept")
  end)

  check(":AiexChatApply applies the proposed edit through the server, :AiexUndo restores the buffer", function()
    if not first_session then
      return "skip: the first chat turn did not complete"
    end
    vim.cmd("buffer " .. bufnr)
    local original = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n")
    local result = chat_turn("AiexChat Add a farewell function")
    assert(result.sessionId == first_session, "a new session was started")
    local proposal = (result.proposals or {})[1]
    assert(proposal, "no proposed edit: " .. vim.inspect(result))
    assert(proposal.edit.documentChanges, "the edit is not versioned (documentChanges): " .. vim.inspect(proposal.edit))
    -- Neovim 0.12 says it supports change annotations: the edit must then need confirmation.
    local workspace_edit = ((client.config.capabilities or {}).workspace or {}).workspaceEdit or {}
    if workspace_edit.changeAnnotationSupport then
      local confirm = false
      for _, a in pairs(proposal.edit.changeAnnotations or {}) do
        confirm = confirm or a.needsConfirmation == true
      end
      assert(confirm, "the proposal's edit needs no confirmation: " .. vim.inspect(proposal.edit))
    end
    assert(chat_text():find(":AiexChatApply " .. proposal.proposal, 1, true), "the chat buffer does not offer the edit")
    -- Neovim 0.12 asks before applying an edit whose annotation needs confirmation: say yes.
    local asked = {}
    local real_confirm = vim.fn.confirm
    vim.fn.confirm = function(msg)
      table.insert(asked, msg)
      return 1
    end
    local ok, err = pcall(function()
      vim.cmd("AiexChatApply")
      local applied = vim.wait(TIMEOUT_MS, function()
        return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n"):find("def farewell", 1, true) ~= nil
      end, 20)
      assert(applied, "the edit was not applied; last message: " .. tostring(notes[#notes] and notes[#notes].msg))
      assert(vim.wait(TIMEOUT_MS, function() return chat_text():find("Edit " .. proposal.proposal .. " applied", 1, true) ~= nil end, 20),
        "the chat buffer does not say the edit was applied:\n" .. chat_text())
    end)
    vim.fn.confirm = real_confirm
    assert(ok, err)
    if vim.fn.has("nvim-0.12") == 1 then
      assert(#asked == 1, "Neovim 0.12 should have asked to confirm the annotated edit once, asked " .. #asked)
    end
    -- The server must have the edited text (didChange is debounced) before it restores.
    vim.wait(500)
    vim.cmd("AiexUndo")
    local restored = vim.wait(TIMEOUT_MS, function()
      return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n") == original
    end, 20)
    assert(restored, "the buffer is not back to its text before the edit:\n"
      .. table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n")
      .. "\nlast message: " .. tostring(notes[#notes] and notes[#notes].msg))
  end)

  check(":AiexCheckpoints compares a picked checkpoint with the buffer, :AiexRestore puts it back", function()
    if not first_session then
      return "skip: the first chat turn did not complete"
    end
    vim.cmd("buffer " .. bufnr)
    local original = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n")
    local result = chat_turn("AiexChat Add a farewell function")
    local proposal = (result.proposals or {})[1]
    assert(proposal, "no proposed edit: " .. vim.inspect(result))
    local real_confirm, real_select = vim.fn.confirm, vim.ui.select
    local offered = {}
    vim.fn.confirm = function() return 1 end
    -- The pick list: record what it offers, pick the newest (the first).
    vim.ui.select = function(items, opts, on_choice)
      table.insert(offered, opts.format_item(items[1]))
      on_choice(items[1])
    end
    local ok, err = pcall(function()
      vim.cmd("AiexChatApply " .. proposal.proposal)
      assert(vim.wait(TIMEOUT_MS, function()
        return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n"):find("def farewell", 1, true) ~= nil
      end, 20), "the edit was not applied")
      vim.wait(500)
      vim.cmd("AiexCheckpoints")
      assert(vim.wait(TIMEOUT_MS, function() return vim.bo.filetype == "diff" end, 20),
        "no diff buffer; last message: " .. tostring(notes[#notes] and notes[#notes].msg))
      local diff = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
      assert(diff:find("+  def farewell", 1, true), "the comparison does not show the AI edit:\n" .. diff)
      assert(offered[1] and offered[1]:find("greeter.ex", 1, true), "the pick list: " .. vim.inspect(offered))
      vim.cmd("close")
      vim.cmd("buffer " .. bufnr)
      vim.cmd("AiexRestore")
      assert(vim.wait(TIMEOUT_MS, function()
        return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n") == original
      end, 20), "the buffer is not back to its text before the edit; last message: "
        .. tostring(notes[#notes] and notes[#notes].msg))
      assert(#offered == 2, "the restore was not picked from the list")
    end)
    vim.fn.confirm, vim.ui.select = real_confirm, real_select
    assert(ok, err)
  end)

  check(":AiexChatStop cancels the turn in progress, :AiexChatNew starts a new session", function()
    if not first_session then
      return "skip: the first chat turn did not complete"
    end
    vim.cmd("buffer " .. bufnr)
    vim.cmd("AiexChat Tell me more")
    assert(chat.state.pending and chat.state.pending.id, "no request in flight")
    vim.cmd("AiexChatStop")
    assert(chat.state.pending == nil, "the turn is still pending")
    assert(chat_text():find("_(stopped)_", 1, true), "the chat buffer does not say it stopped")
    vim.wait(300)
    vim.cmd("AiexChatNew")
    assert(chat.state.session_id == nil and chat_text() == "", "AiexChatNew kept the session or the text")
    local result = chat_turn("AiexChat What does this module do?")
    assert(type(result.sessionId) == "number" and result.sessionId ~= first_session,
      "expected a new session, got " .. tostring(result.sessionId))
    assert(result.turn == 1, "turn " .. tostring(result.turn) .. " of a new session")
  end)

  check("the chat raised no error or warning notification", function()
    if not first_session then
      return "skip: no chat turn ran"
    end
    local bad = complaints(notes_before_chat)
    assert(#bad == 0, "notifications: " .. vim.inspect(bad))
  end)
end

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
