-- The server's status (aiex.status, aiex.usage) for :AiexStatus and for a
-- statusline component: require("aiex.status").statusline().

local compat = require("aiex.compat")

local M = {}

M.last = nil -- { provider, state, cost } of the last refresh

local function has_command(client, command)
  local provider = (client.server_capabilities or {}).executeCommandProvider
  return provider and vim.tbl_contains(provider.commands or {}, command)
end

local function field(t, ...)
  for _, k in ipairs({ ... }) do
    if type(t) == "table" and t[k] ~= nil and t[k] ~= vim.NIL then
      return t[k]
    end
  end
  return nil
end

--- Pure: { provider, state, cost } from the answers of aiex.status / aiex.usage.
function M.summarise(status, usage)
  if type(status) ~= "table" then
    return { provider = "offline", state = "unknown" }
  end
  local providers = status.providers
  local first, first_state
  if type(providers) == "table" then
    if compat.islist(providers) then
      first = providers[1] and providers[1].name
      first_state = providers[1] and field(providers[1], "state", "breaker", "status")
    else
      for name, p in pairs(providers) do
        first, first_state = first or name, first_state or field(p, "state", "breaker", "status")
        break
      end
    end
  end
  local provider = field(status, "provider", "active_provider") or first
  local today = type(usage) == "table" and usage.today or nil
  local cost = field(usage, "cost_today_usd", "cost_today") or field(today, "cost_usd", "cost")
    or field(status, "cost_today_usd", "cost_today")
  return {
    provider = provider or "offline",
    state = field(status, "state") or first_state or (provider and "ready" or "offline"),
    cost = type(cost) == "number" and cost or nil,
  }
end

function M.format(s)
  local parts = { s.provider, s.state }
  if s.cost then
    table.insert(parts, string.format("$%.2f", s.cost))
  end
  return "Aiex: " .. table.concat(parts, " · ")
end

--- Asks the server for its status; calls `done(summary)` when it has it.
function M.refresh(client, done)
  if not client or not has_command(client, "aiex.status") then
    return
  end
  compat.request(client, "workspace/executeCommand", { command = "aiex.status", arguments = {} }, function(err, status)
    if err then
      return
    end
    local function finish(usage)
      M.last = M.summarise(status, usage)
      if done then
        done(M.last, status)
      end
    end
    if has_command(client, "aiex.usage") then
      compat.request(client, "workspace/executeCommand", { command = "aiex.usage", arguments = {} }, function(_, usage)
        finish(usage)
      end)
    else
      finish(nil)
    end
  end)
end

function M.show(client)
  if not client then
    vim.notify("Aiex is not attached to this buffer", vim.log.levels.WARN)
    return
  end
  if not has_command(client, "aiex.status") then
    vim.notify("Aiex is running (this server reports no status)", vim.log.levels.INFO)
    return
  end
  M.refresh(client, function(summary, status)
    vim.notify(M.format(summary) .. "\n" .. vim.inspect(status), vim.log.levels.INFO)
  end)
end

--- For statuslines: "Aiex: local · ready · $0.12", or "" before the first status.
function M.statusline()
  return M.last and M.format(M.last) or ""
end

return M
