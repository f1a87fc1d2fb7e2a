-- Explain / Refactor / Generate tests / Add docs on the function under the
-- cursor. The plugin asks the server for its code actions at the cursor
-- (standard textDocument/codeAction) and runs the one carrying the wanted
-- aiex.* command, so the server alone owns the commands' arguments.
-- The same actions are offered by vim.lsp.buf.code_action().

local compat = require("aiex.compat")

local M = {}

M.commands = {
  explain = "aiex.explain",
  refactor = "aiex.refactor",
  generateTests = "aiex.generateTests",
  addDocs = "aiex.addDocs",
}

-- Clients that received window/showDocument since the last action started.
local shown = {}

local function show_document(err, params, ctx)
  if err or not params or not params.uri then
    return { success = false }
  end
  shown[ctx.client_id] = true
  if params.external then
    return { success = false }
  end
  local fname = vim.uri_to_fname(params.uri)
  vim.cmd((params.takeFocus == false and "noswapfile split " or "split ") .. vim.fn.fnameescape(fname))
  if params.selection then
    local s = params.selection.start
    pcall(vim.api.nvim_win_set_cursor, 0, { s.line + 1, s.character })
  end
  return { success = true }
end

--- Handlers added to the client: window/showDocument (absent in Neovim 0.7),
--- recording that a document was shown so Explain does not also float it.
function M.handlers()
  local native = vim.lsp.handlers["window/showDocument"]
  return {
    ["window/showDocument"] = function(err, params, ctx, config)
      shown[ctx.client_id] = true
      if native then
        return native(err, params, ctx, config)
      end
      return show_document(err, params, ctx)
    end,
  }
end

--- Pure: the first enabled action whose command is `command`, or nil and why.
function M.pick(actions, command)
  local disabled
  for _, a in ipairs(actions or {}) do
    local cmd = type(a.command) == "table" and a.command.command or a.command
    if cmd == command then
      if not a.disabled then
        return a
      end
      disabled = disabled or a.disabled.reason
    end
  end
  if disabled then
    return nil, "Aiex cannot do that here: " .. disabled
  end
  return nil, "Aiex offers no such action here: put the cursor inside a function (def/defp)"
end

--- Pure: the explanation text of an executeCommand result, if it has one.
function M.result_text(result)
  if type(result) == "string" then
    return result
  end
  if type(result) == "table" then
    for _, key in ipairs({ "markdown", "text", "explanation", "value" }) do
      if type(result[key]) == "string" then
        return result[key]
      end
    end
  end
  return nil
end

local function float(text)
  local lines = vim.split(text, "\n", { plain = true })
  vim.lsp.util.open_floating_preview(lines, "markdown", { border = "rounded", max_width = 100, focus_id = "aiex" })
end

local function execute(client, bufnr, action, opts)
  local cmd = action.command
  if type(cmd) == "string" then -- a bare Command
    cmd = action
  end
  local args = vim.deepcopy(cmd.arguments or {})
  if opts.instruction and opts.instruction ~= "" then
    if type(args[1]) == "table" and not compat.islist(args[1]) then
      args[1].instruction = opts.instruction
    else
      table.insert(args, { instruction = opts.instruction })
    end
  end
  shown[client.id] = nil
  compat.request(client, "workspace/executeCommand", { command = cmd.command, arguments = args }, function(err, result)
    if err then
      -- Titles already say "Aiex: ": say it once, then the server's own words.
      local title = (action.title or cmd.command):gsub("^Aiex: ", "")
      vim.notify("Aiex: " .. title .. " failed: " .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
      return
    end
    local text = M.result_text(result)
    if text and not shown[client.id] then
      float(text)
    end
    require("aiex.status").refresh(client)
  end, bufnr)
end

--- Runs the named action on the function under the cursor.
---@param name "explain"|"refactor"|"generateTests"|"addDocs"
---@param opts table|nil { instruction = string, ask = boolean } (refactor)
function M.run(name, opts)
  opts = opts or {}
  local bufnr = vim.api.nvim_get_current_buf()
  local client = require("aiex").client(bufnr)
  if not client then
    vim.notify("Aiex is not attached to this buffer: open an Elixir file (see :checkhealth lsp / :LspInfo)", vim.log.levels.WARN)
    return
  end
  local wanted = M.commands[name]
  local params = vim.lsp.util.make_range_params(0, client.offset_encoding)
  params.context = { diagnostics = {}, triggerKind = 1 }
  compat.request(client, "textDocument/codeAction", params, function(err, actions)
    if err then
      vim.notify("Aiex: code actions failed: " .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
      return
    end
    local action, why = M.pick(actions, wanted)
    if not action then
      vim.notify(why, vim.log.levels.INFO)
      return
    end
    if action.edit then
      vim.lsp.util.apply_workspace_edit(action.edit, client.offset_encoding)
    end
    if not action.command then
      return
    end
    if opts.ask then
      vim.ui.input({ prompt = "Refactor how? (empty: general clean-up) " }, function(input)
        if input ~= nil then
          execute(client, bufnr, action, { instruction = input })
        end
      end)
    else
      execute(client, bufnr, action, opts)
    end
  end, bufnr)
end

return M
