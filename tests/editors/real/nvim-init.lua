-- Neovim 0.12 init for the ghost-text run (nvim-ghost.sh): the plugin from editors/neovim, the
-- server at $AIEX_BIN, the fake provider on $FAKE_PORT, the README's <Tab> mapping.
vim.o.swapfile = false
vim.o.shada = ""
vim.opt.rtp:prepend(os.getenv("AIEX_PLUGIN"))
local function log(line)
  local f = assert(io.open(os.getenv("NVIM_LOG"), "a"))
  f:write(line .. "\n")
  f:close()
end
require("aiex").setup({
  cmd = { os.getenv("AIEX_BIN") },
  settings = {
    providers = { fake = { kind = "openai-compatible", base_url = "http://127.0.0.1:" .. os.getenv("FAKE_PORT") .. "/v1", model = "fake" } },
    features = { completion = { providers = { "fake" } }, actions = { providers = { "fake" } } },
  },
  inline_completion = true,
  on_attach = function(client, bufnr)
    log(("attached %s to buffer %d, inlineCompletionProvider=%s"):format(
      client.name, bufnr, tostring(client.server_capabilities.inlineCompletionProvider)))
  end,
})
-- The README's suggested mapping: <Tab> accepts the ghost text.
vim.keymap.set("i", "<Tab>", function()
  if not vim.lsp.inline_completion.get() then return "<Tab>" end
end, { expr = true, desc = "Accept the inline completion" })
-- <F5> in insert mode writes the ghost-text extmarks Neovim holds.
_G.aiex_dump = function()
  local ns = vim.api.nvim_get_namespaces()["nvim.lsp.inline_completion"]
  local marks = ns and vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true }) or {}
  local texts = {}
  for _, m in ipairs(marks) do
    for _, chunk in ipairs(m[4].virt_text or {}) do table.insert(texts, chunk[1]) end
  end
  log("ghost: " .. table.concat(texts, ""))
end
vim.keymap.set("i", "<F5>", "<Cmd>lua aiex_dump()<CR>")
