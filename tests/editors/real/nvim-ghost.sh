#!/usr/bin/env bash
# Neovim 0.12 (its TUI under tmux) + editors/neovim + aiex + the fake provider, on a copy of the
# greeter fixture: typing "def fare" on a new line shows the suggestion as an inline extmark
# (vim.lsp.inline_completion), and <Tab> accepts it. Prints ok/not ok lines.
#   nvim-ghost.sh   Env: NVIM (Neovim 0.12), AIEX_BIN, AIEX_FAKE_PORT, AIEX_EDITORS_OUT.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
: "${AIEX_EDITORS_OUT:=$(mktemp -d)}"
out="$AIEX_EDITORS_OUT/neovim-0.12"
W="$(mktemp -d)"
mkdir -p "$out" "$W/ws"
cp -r "$here/../fixtures/greeter" "$W/ws/greeter"
printf 'set -g default-terminal "screen-256color"\nset -g escape-time 10\n' >"$W/tmux.conf"
T=(tmux -L "aiex-nvim-$$" -f "$W/tmux.conf")
cleanup() { "${T[@]}" kill-server 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
export FAKE_PORT="$AIEX_FAKE_PORT" AIEX_BIN AIEX_PLUGIN="$repo/editors/neovim" NVIM_LOG="$out/nvim.log"
export XDG_STATE_HOME="$W/state" XDG_DATA_HOME="$W/data"
: >"$NVIM_LOG"
cd "$W/ws/greeter"
"${T[@]}" new-session -d -x 110 -y 30 -e FAKE_PORT -e AIEX_BIN -e AIEX_PLUGIN -e NVIM_LOG \
  -e AIEX_DATA_DIR -e AIEX_CACHE_DIR -e XDG_STATE_HOME -e XDG_DATA_HOME "$NVIM -u $here/nvim-init.lua +24 lib/greeter.ex"
for _ in $(seq 60); do grep -q attached "$NVIM_LOG" && break; sleep 0.5; done
if grep -q 'inlineCompletionProvider=true' "$NVIM_LOG"; then
  echo "ok - neovim 0.12 (TUI): attaches, with inline completion"
else
  echo "not ok - neovim 0.12 (TUI): no attach with inline completion: $(cat "$NVIM_LOG")"
fi
"${T[@]}" send-keys o Enter; sleep 0.3
"${T[@]}" send-keys -l 'def fare'
ghost=""
for _ in $(seq 20); do
  sleep 0.5
  "${T[@]}" send-keys F5; sleep 0.2
  ghost="$(grep '^ghost: .' "$NVIM_LOG" | tail -1)"
  [[ -n "$ghost" ]] && break
done
"${T[@]}" capture-pane -p >"$out/screen-ghost.txt"
if [[ "$ghost" == *'well(name)'* ]]; then
  echo "ok - neovim 0.12 (TUI): the suggestion shows as an inline extmark (${ghost#ghost: })"
else
  echo "not ok - neovim 0.12 (TUI): no ghost-text extmark after typing 'def fare' (${ghost:-none})"
fi
"${T[@]}" send-keys Tab; sleep 0.8
"${T[@]}" capture-pane -p >"$out/screen-accepted.txt"
if grep -q 'def farewell(name)' "$out/screen-accepted.txt"; then
  echo "ok - neovim 0.12 (TUI): <Tab> accepts it into the buffer"
else
  echo "not ok - neovim 0.12 (TUI): the buffer has no 'def farewell(name)' after <Tab>"
  sed 's/^/    | /' "$out/screen-accepted.txt" | tail -12
fi
"${T[@]}" send-keys Escape ':qa!' Enter; sleep 0.3
