-- :AiexChat: a conversation with the server about the code, in a scratch buffer.
--
-- The server speaks chat as a custom request, `aiex/chat` { sessionId?, message,
-- textDocument?, range?, token }, answered with { sessionId, turn, text, context, proposals },
-- and streams the answer before that as `aiex/chatDelta` { token, text } notifications (the
-- handler is in the aiex client's own handlers, see M.handlers). `$/cancelRequest` stops a
-- turn. A proposed edit is applied by asking the server (`aiex/applyChatEdit`), which takes a
-- checkpoint and sends it back through `workspace/applyEdit`; `aiex.undoLastAiEdit` restores
-- the files from before the last AI edit.
--
-- Needs Neovim 0.10+ (vim.lsp.get_clients, client:request / cancel_request); on older
-- versions the commands say so and do nothing.

local compat = require("aiex.compat")

local M = {}

M.BUFFER_NAME = "aiex://chat"

--- The conversation: one per Neovim, continued by each :AiexChat until :AiexChatNew.
M.state = {
  session_id = nil, -- the server's session, from the first answer
  bufnr = nil, -- the chat buffer
  source = nil, -- the last buffer a question was asked from
  pending = nil, -- { client, id, token, answer_line } while a turn streams
  tokens = 0,
  proposals = {}, -- the last answer's proposed edits: { proposal, label, edit }
  last_result = nil,
  deltas = 0, -- aiex/chatDelta notifications received for the current turn
}

local function supported()
  if vim.fn.has("nvim-0.10") == 1 then
    return true
  end
  vim.notify("Aiex chat needs Neovim 0.10 or newer", vim.log.levels.WARN)
  return false
end

local function notify_error(what, err)
  local message = type(err) == "table" and (err.message or vim.inspect(err)) or tostring(err)
  vim.notify("Aiex: " .. what .. ": " .. message, vim.log.levels.ERROR)
end

local function valid(bufnr)
  return bufnr and vim.api.nvim_buf_is_valid(bufnr)
end

local function chat_buffer()
  local state = M.state
  if valid(state.bufnr) then
    return state.bufnr
  end
  local bufnr = vim.fn.bufnr(M.BUFFER_NAME)
  if bufnr == -1 then
    bufnr = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(bufnr, M.BUFFER_NAME)
  end
  vim.bo[bufnr].buftype = "nofile"
  vim.bo[bufnr].bufhidden = "hide"
  vim.bo[bufnr].swapfile = false
  vim.bo[bufnr].filetype = "markdown"
  state.bufnr = bufnr
  return bufnr
end

--- Shows the chat buffer in a split (unless a window shows it already), keeping the cursor
--- where it was. Returns the buffer.
function M.open()
  local bufnr = chat_buffer()
  if vim.fn.bufwinid(bufnr) == -1 then
    local from = vim.api.nvim_get_current_win()
    vim.cmd("botright split")
    vim.api.nvim_win_set_buf(0, bufnr)
    vim.wo.wrap = true
    vim.wo.linebreak = true
    vim.api.nvim_set_current_win(from)
  end
  return bufnr
end

local function buffer_is_empty(bufnr)
  local lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  return #lines <= 1 and (lines[1] or "") == ""
end

--- Appends `lines` at the end of the chat buffer.
local function append(lines)
  local bufnr = chat_buffer()
  if buffer_is_empty(bufnr) then
    vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, lines)
  else
    vim.api.nvim_buf_set_lines(bufnr, -1, -1, false, lines)
  end
end

local function follow()
  local bufnr = M.state.bufnr
  if not valid(bufnr) then
    return
  end
  local win = vim.fn.bufwinid(bufnr)
  if win ~= -1 then
    pcall(vim.api.nvim_win_set_cursor, win, { vim.api.nvim_buf_line_count(bufnr), 0 })
  end
end

--- Appends streamed `text` to the answer being written (it may hold newlines).
local function append_text(text)
  local bufnr = chat_buffer()
  local last = vim.api.nvim_buf_line_count(bufnr)
  local tail = vim.api.nvim_buf_get_lines(bufnr, last - 1, last, false)[1] or ""
  local lines = vim.split(tail .. text, "\n", { plain = true })
  vim.api.nvim_buf_set_lines(bufnr, last - 1, last, false, lines)
  follow()
end

--- Replaces the answer of the current turn (from `from`, 0-based, to the end) with `text`.
local function set_answer(from, text)
  local bufnr = chat_buffer()
  local lines = vim.split(text, "\n", { plain = true })
  if lines[#lines] == "" and #lines > 1 then
    table.remove(lines)
  end
  -- The buffer may have been wiped (and made again) while the answer streamed.
  from = math.min(from, vim.api.nvim_buf_line_count(bufnr))
  vim.api.nvim_buf_set_lines(bufnr, from, -1, false, lines)
  follow()
end

--- `aiex/chatDelta` { token, text }: a piece of the answer of the turn in progress.
function M.on_delta(_, params)
  local pending = M.state.pending
  if not params or type(params.text) ~= "string" or not pending or params.token ~= pending.token then
    return vim.NIL
  end
  local function write()
    if M.state.pending == pending then
      M.state.deltas = M.state.deltas + 1
      append_text(params.text)
    end
  end
  if vim.in_fast_event() then
    vim.schedule(write)
  else
    write()
  end
  return vim.NIL
end

--- Handlers added to the aiex client (see init.lua's client_config).
function M.handlers()
  return { ["aiex/chatDelta"] = M.on_delta }
end

local function find_client(source)
  local aiex = require("aiex")
  local client = valid(source) and aiex.client(source) or nil
  if client then
    return client
  end
  return compat.get_clients({ name = aiex.config.name })[1]
end

--- Pure: an LSP range covering lines `line1`..`line2` (1-based, inclusive) of `lines`, the
--- buffer's text; `width(row, text)` gives line `row`'s (0-based) length in the client's
--- position encoding.
function M.line_range(lines, line1, line2, width)
  line1 = math.max(1, math.min(line1, #lines))
  line2 = math.max(line1, math.min(line2, #lines))
  local finish
  if line2 < #lines then
    finish = { line = line2, character = 0 }
  else
    local text = lines[line2] or ""
    finish = { line = line2 - 1, character = width and width(line2 - 1, text) or #text }
  end
  return { start = { line = line1 - 1, character = 0 }, ["end"] = finish }
end

--- Pure: the `aiex/chat` params.
function M.params(message, session_id, uri, range, token)
  return {
    sessionId = session_id,
    message = message,
    textDocument = uri and { uri = uri } or nil,
    range = range,
    token = token,
  }
end

--- Pure: the lines shown under an answer for its proposed edits.
function M.proposal_lines(proposals)
  local out = {}
  for _, p in ipairs(proposals or {}) do
    table.insert(out, string.format("> Proposed edit %d: %s (:AiexChatApply %d to apply, :AiexUndo to undo it after)",
      p.proposal, p.label or "", p.proposal))
  end
  return out
end

local function finish_turn(pending, err, result)
  if vim.in_fast_event() then
    vim.schedule(function() finish_turn(pending, err, result) end)
    return
  end
  if M.state.pending ~= pending then
    return -- stopped, or superseded
  end
  M.state.pending = nil
  if err then
    set_answer(pending.answer_line, "_(failed: " .. (err.message or vim.inspect(err)) .. ")_")
    notify_error("chat failed", err)
    return
  end
  result = result or {}
  M.state.last_result = result
  if result.sessionId ~= nil and result.sessionId ~= vim.NIL then
    M.state.session_id = result.sessionId
    vim.b[M.state.bufnr].aiex_session_id = result.sessionId
  end
  M.state.proposals = type(result.proposals) == "table" and result.proposals or {}
  set_answer(pending.answer_line, type(result.text) == "string" and result.text or "")
  local extra = M.proposal_lines(M.state.proposals)
  if #extra > 0 then
    append(vim.list_extend({ "" }, extra))
  end
  append({ "" })
  follow()
end

--- Asks `message` in the current session, with the current file (or lines `opts.line1`..
--- `opts.line2` of it when `opts.range` is set) as context.
---@param message string
---@param opts table|nil { range = boolean, line1 = integer, line2 = integer }
function M.ask(message, opts)
  if not supported() then
    return
  end
  opts = opts or {}
  local state = M.state
  if message == nil or vim.trim(message) == "" then
    vim.ui.input({ prompt = "Ask Aiex: " }, function(input)
      if input and vim.trim(input) ~= "" then
        M.ask(input, opts)
      end
    end)
    return
  end
  if state.pending then
    vim.notify("Aiex is still answering: wait, or :AiexChatStop", vim.log.levels.WARN)
    return
  end
  local current = vim.api.nvim_get_current_buf()
  local source = current
  if current == state.bufnr or vim.bo[current].buftype ~= "" then
    source = state.source
  end
  local client = find_client(source)
  if not client then
    vim.notify("Aiex is not running: open an Elixir file first (see :checkhealth lsp)", vim.log.levels.WARN)
    return
  end
  local uri, range
  if valid(source) and require("aiex").client(source) then
    state.source = source
    uri = vim.uri_from_bufnr(source)
    if opts.range and source == current then
      local lines = vim.api.nvim_buf_get_lines(source, 0, -1, false)
      range = M.line_range(lines, opts.line1, opts.line2, function(row, text)
        local ok, width = pcall(vim.lsp.util.character_offset, source, row, #text, client.offset_encoding)
        return ok and width or #text
      end)
    end
  end
  state.tokens = state.tokens + 1
  local token = "nvim-chat-" .. state.tokens
  M.open()
  local where = range and string.format(" (lines %d-%d)", range.start.line + 1, opts.line2) or ""
  append({ "## You" .. where, "" })
  append(vim.split(message, "\n", { plain = true }))
  append({ "", "## Aiex", "" })
  local pending = { client = client, token = token }
  pending.answer_line = vim.api.nvim_buf_line_count(state.bufnr) - 1
  state.pending = pending
  state.deltas = 0
  follow()
  local params = M.params(message, state.session_id, uri, range, token)
  local ok, id = compat.request(client, "aiex/chat", params, function(err, result)
    finish_turn(pending, err, result)
  end, valid(source) and source or nil)
  if not ok then
    state.pending = nil
    set_answer(pending.answer_line, "_(not sent: the aiex server has stopped)_")
    vim.notify("Aiex: the chat request could not be sent: the server has stopped", vim.log.levels.ERROR)
    return
  end
  pending.id = id
end

--- :AiexChatStop: cancels the turn in progress ($/cancelRequest).
function M.stop()
  if not supported() then
    return
  end
  local pending = M.state.pending
  if not pending then
    vim.notify("Aiex: no chat answer in progress", vim.log.levels.INFO)
    return
  end
  M.state.pending = nil
  if pending.id then
    if compat.has("0.11") then
      pending.client:cancel_request(pending.id)
    else
      pending.client.cancel_request(pending.id)
    end
  end
  append_text("\n\n_(stopped)_")
  append({ "" })
end

--- :AiexChatNew: the next question starts a new session.
function M.new()
  if not supported() then
    return
  end
  if M.state.pending then
    M.stop()
  end
  M.state.session_id = nil
  M.state.proposals = {}
  M.state.last_result = nil
  local bufnr = M.open()
  vim.b[bufnr].aiex_session_id = nil
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, {})
end

--- :AiexChatApply [n]: applies proposal n (default: the last answer's first) through the
--- server, which takes a checkpoint and sends the edit as workspace/applyEdit.
---@param number integer|nil
---@param reject boolean|nil reject it instead
function M.apply(number, reject)
  if not supported() then
    return
  end
  local state = M.state
  local proposal
  for _, p in ipairs(state.proposals) do
    if number == nil or p.proposal == number then
      proposal = p
      break
    end
  end
  if not proposal or not state.session_id then
    vim.notify(number and ("Aiex: no proposed edit " .. number .. " in the last answer")
      or "Aiex: the last answer proposes no edit", vim.log.levels.WARN)
    return
  end
  local client = find_client(state.source)
  if not client then
    vim.notify("Aiex is not running", vim.log.levels.WARN)
    return
  end
  compat.request(client, "aiex/applyChatEdit",
    { sessionId = state.session_id, proposal = proposal.proposal, reject = reject or nil },
    vim.schedule_wrap(function(err, result)
      if err then
        notify_error((reject and "rejecting" or "applying") .. " the edit failed", err)
        return
      end
      for i, p in ipairs(state.proposals) do
        if p == proposal then
          table.remove(state.proposals, i)
          break
        end
      end
      local what
      if reject then
        what = "rejected"
      elseif result and result.applied then
        what = "applied" .. (result.checkpoint and result.checkpoint ~= vim.NIL
          and (" (checkpoint " .. result.checkpoint .. "; :AiexUndo restores)") or "")
      else
        what = "not applied"
      end
      if valid(state.bufnr) then
        append({ string.format("> Edit %d %s", proposal.proposal, what), "" })
      end
      vim.notify(string.format("Aiex: edit %d %s", proposal.proposal, what), vim.log.levels.INFO)
    end))
end

--- The aiex client of the chat's file (else the current buffer's), or nil, said why.
local function running_client()
  if not supported() then
    return nil
  end
  local client = find_client(valid(M.state.source) and M.state.source or vim.api.nvim_get_current_buf())
  if not client then
    vim.notify("Aiex is not running", vim.log.levels.WARN)
  end
  return client
end

--- :AiexUndo: aiex.undoLastAiEdit (the files as they were before the last AI edit).
function M.undo()
  local client = running_client()
  if not client then
    return
  end
  compat.request(client, "workspace/executeCommand", { command = "aiex.undoLastAiEdit", arguments = {} },
    vim.schedule_wrap(function(err, result)
      if err then
        notify_error("undo failed", err)
        return
      end
      local files = result and type(result.files) == "table" and table.concat(result.files, ", ") or ""
      vim.notify("Aiex: restored " .. (files ~= "" and files or "the files") .. " from before the last AI edit",
        vim.log.levels.INFO)
    end))
end

--- One line of a checkpoint pick list: "3  Aiex chat: rewrite lib/a.ex  (lib/a.ex)".
function M.checkpoint_label(checkpoint)
  local files = {}
  for _, f in ipairs(checkpoint.files or {}) do
    table.insert(files, vim.fn.fnamemodify(f.path or "", ":~:."))
  end
  return string.format("%d  %s  (%s)", checkpoint.id, checkpoint.name or "", table.concat(files, ", "))
end

--- Calls `then_(client, checkpoint_id)` with the checkpoint `id`, or the one picked from the
--- server's list (aiex/checkpoints, newest first) when `id` is nil.
local function with_checkpoint(id, prompt, then_)
  local client = running_client()
  if not client then
    return
  end
  if id then
    then_(client, id)
    return
  end
  compat.request(client, "aiex/checkpoints", vim.NIL, vim.schedule_wrap(function(err, result)
    if err then
      notify_error("listing checkpoints failed", err)
      return
    end
    if type(result) ~= "table" or #result == 0 then
      vim.notify("Aiex: there is no AI edit to go back to", vim.log.levels.INFO)
      return
    end
    vim.ui.select(result, { prompt = prompt, format_item = M.checkpoint_label }, function(choice)
      if choice then
        then_(client, choice.id)
      end
    end)
  end))
end

--- :AiexCheckpoints [id]: a checkpoint (picked from the list) compared with the files now, in
--- a scratch buffer (filetype diff).
function M.checkpoints(id)
  with_checkpoint(id, "Aiex: compare which checkpoint with the files now?", function(client, checkpoint)
    compat.request(client, "aiex/compareCheckpoint", { checkpoint = checkpoint }, vim.schedule_wrap(function(err, result)
      if err then
        notify_error("comparing failed", err)
        return
      end
      local lines = {}
      for _, file in ipairs(result or {}) do
        local diff = file.diff ~= "" and file.diff or ("(" .. file.path .. " is as the checkpoint recorded it)\n")
        vim.list_extend(lines, vim.split(diff, "\n", { plain = true }))
      end
      local bufnr = vim.api.nvim_create_buf(false, true)
      vim.bo[bufnr].bufhidden = "wipe"
      vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, lines)
      vim.bo[bufnr].filetype = "diff"
      vim.bo[bufnr].modifiable = false
      vim.b[bufnr].aiex_checkpoint = checkpoint
      vim.cmd("botright split")
      vim.api.nvim_win_set_buf(0, bufnr)
    end))
  end)
end

--- :AiexRestore[!] [id]: aiex.restoreCheckpoint (picked from the list when no id); with !,
--- even files changed since the AI edit (those changes are lost).
function M.restore(id, force)
  with_checkpoint(id, "Aiex: restore the files as which checkpoint recorded them?", function(client, checkpoint)
    local arguments = { { checkpoint = checkpoint, force = force or false } }
    compat.request(client, "workspace/executeCommand", { command = "aiex.restoreCheckpoint", arguments = arguments },
      vim.schedule_wrap(function(err, result)
        if err then
          notify_error("restore failed", err)
          return
        end
        local files = result and type(result.files) == "table" and table.concat(result.files, ", ") or ""
        vim.notify(string.format("Aiex: restored %s from checkpoint %d", files ~= "" and files or "the files", checkpoint),
          vim.log.levels.INFO)
      end))
  end)
end

function M.create_commands()
  local command = vim.api.nvim_create_user_command
  command("AiexChat", function(o)
    M.ask(o.args, { range = o.range > 0, line1 = o.line1, line2 = o.line2 })
  end, { nargs = "*", range = true, desc = "Aiex: ask about the current file (or the selected lines)" })
  command("AiexChatNew", function(o)
    M.new()
    if o.args ~= "" then
      M.ask(o.args, { range = o.range > 0, line1 = o.line1, line2 = o.line2 })
    end
  end, { nargs = "*", range = true, desc = "Aiex: start a new chat session [question]" })
  command("AiexChatStop", function() M.stop() end, { desc = "Aiex: stop the answer in progress" })
  command("AiexChatApply", function(o)
    M.apply(tonumber(o.args))
  end, { nargs = "?", desc = "Aiex: apply the edit the last answer proposes [number]" })
  command("AiexChatReject", function(o)
    M.apply(tonumber(o.args), true)
  end, { nargs = "?", desc = "Aiex: reject the edit the last answer proposes [number]" })
  command("AiexUndo", function() M.undo() end, { desc = "Aiex: undo the last AI edit (restore its checkpoint)" })
  command("AiexCheckpoints", function(o)
    M.checkpoints(tonumber(o.args))
  end, { nargs = "?", desc = "Aiex: compare a checkpoint (picked) with the files now [id]" })
  command("AiexRestore", function(o)
    M.restore(tonumber(o.args), o.bang)
  end, { nargs = "?", bang = true, desc = "Aiex: restore a checkpoint (picked) [id]; ! even over later changes" })
end

return M
