-- Finds the project root of a buffer: the directory of the nearest mix.exs
-- (or, inside an umbrella's apps/<app>/, the umbrella's), else the nearest
-- directory holding one of the other markers (.git), else the file's directory.
-- Written against vim.loop and vim.fn only: vim.fs does not exist in Neovim 0.7.

local M = {}

local uv = vim.loop

local function exists(path)
  return uv.fs_stat(path) ~= nil
end

local function parent(dir)
  local p = vim.fn.fnamemodify(dir, ":h")
  if p == dir then
    return nil
  end
  return p
end

--- The nearest ancestor of `dir` (itself included) that contains `marker`.
local function find_up(dir, marker)
  while dir do
    if exists(dir .. "/" .. marker) then
      return dir
    end
    dir = parent(dir)
  end
  return nil
end

--- An app of an umbrella project lives in <umbrella>/apps/<app>/: the server
--- must see the whole umbrella, as Mix does.
local function umbrella_of(project)
  local apps = parent(project)
  if apps and vim.fn.fnamemodify(apps, ":t") == "apps" then
    local umbrella = parent(apps)
    if umbrella and exists(umbrella .. "/mix.exs") then
      return umbrella
    end
  end
  return project
end

---@param path string absolute path of a file (or directory)
---@param markers string[] e.g. { "mix.exs", ".git" }
---@return string root directory
function M.find(path, markers)
  local start = path
  if vim.fn.isdirectory(path) == 0 then
    start = vim.fn.fnamemodify(path, ":h")
  end
  for _, marker in ipairs(markers) do
    local dir = find_up(start, marker)
    if dir then
      if marker == "mix.exs" then
        return umbrella_of(dir)
      end
      return dir
    end
  end
  return start
end

return M
