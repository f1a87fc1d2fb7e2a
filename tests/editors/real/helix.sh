#!/usr/bin/env bash
# Helix 25.07 (its TUI under tmux) with editors/helix/languages.toml installed as a user would,
# aiex and the fake provider, on a copy of the greeter fixture: health, attach, diagnostics, one
# code action applied, hover, symbols, the AI completion item (kind snippet) and Tab inserting it.
#   helix.sh   Env: HX (Helix), AIEX_BIN, AIEX_FAKE_PORT, AIEX_EDITORS_OUT. Prints ok/not ok lines.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
: "${AIEX_EDITORS_OUT:=$(mktemp -d)}"
out="$AIEX_EDITORS_OUT/helix"
W="$(mktemp -d)"
mkdir -p "$out" "$W/ws" "$W/config/helix"
cp -r "$here/../fixtures/greeter" "$W/ws/greeter"
printf 'set -g default-terminal "screen-256color"\nset -g escape-time 10\n' >"$W/tmux.conf"
T=(tmux -L "aiex-hx-$$" -f "$W/tmux.conf")
cleanup() { "${T[@]}" kill-server 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
passed=0; failed=0
ok() { passed=$((passed + 1)); echo "ok - helix 25.07: $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - helix 25.07: $1"; sed 's/^/    | /' "$2" | tail -32; }
screen() { sleep "${2:-0}"; "${T[@]}" capture-pane -p >"$out/$1.txt"; }
# Waits up to $3 s for the screen to match $2 (grep -E), keeping the last screen as $1.txt.
wait_screen() {
  local i
  for ((i = 0; i < ${3:-10} * 4; i++)); do
    screen "$1" 0.25
    grep -qE "$2" "$out/$1.txt" && return 0
  done
  return 1
}
keys() { "${T[@]}" send-keys "$@"; sleep 0.3; }

# The project's fragment as a user installs it: the binary's path and a provider filled in.
sed "s#^command = \"aiex\"#command = \"$AIEX_BIN\"#" "$repo/editors/helix/languages.toml" >"$W/config/helix/languages.toml"
cat >>"$W/config/helix/languages.toml" <<TOML

[language-server.aiex.config.providers.fake]
kind = "openai-compatible"
base_url = "http://127.0.0.1:$AIEX_FAKE_PORT/v1"
model = "fake"
[language-server.aiex.config.features.completion]
providers = ["fake"]
[language-server.aiex.config.features.actions]
providers = ["fake"]
TOML
export XDG_CONFIG_HOME="$W/config" XDG_CACHE_HOME="$W/cache" XDG_DATA_HOME="$W/data"
"$HX" --health elixir >"$out/health.txt" 2>&1
if grep -q "$AIEX_BIN" "$out/health.txt"; then ok "hx --health elixir lists the aiex server"
else not_ok "hx --health elixir does not list aiex" "$out/health.txt"; fi

cd "$W/ws/greeter"
"${T[@]}" new-session -d -x 120 -y 32 -e XDG_CONFIG_HOME -e XDG_CACHE_HOME -e XDG_DATA_HOME \
  -e AIEX_DATA_DIR -e AIEX_CACHE_DIR "$HX -v --log $out/helix.log lib/debugging.ex"
# Diagnostics: the IO.inspect check's message shows inline once the server has attached.
if wait_screen 1-diagnostics 'Leftover IO\.inspect' 30; then
  ok "the server attaches and the IO.inspect diagnostic shows inline"
else not_ok "no IO.inspect diagnostic on screen" "$out/1-diagnostics.txt"; fi

# One code action applied: space a on the IO.inspect line, then the quick fix that removes it.
keys ':7' Enter
keys g s 3 l   # on IO.inspect: Helix sends the diagnostics under the cursor
keys Space a
if wait_screen 2-code-actions 'Remove IO\.inspect' 10; then
  # The server lists its quick fixes first, and Helix opens the menu on the first item.
  keys Enter
  sleep 1
  keys ':w' Enter
  if ! grep -q 'IO.inspect' lib/debugging.ex; then ok "the IO.inspect quick fix, picked from space a, removes the call"
  else screen 2-after-fix; not_ok "IO.inspect still in the file after the quick fix" "$out/2-after-fix.txt"; fi
else not_ok "no code action menu with the IO.inspect fix" "$out/2-code-actions.txt"; keys Escape; fi

# Hover (space k) on greet in greeter.ex shows its @doc; symbols (space s) list the functions.
keys ':open lib/greeter.ex' Enter
keys ':10' Enter
keys g s 4 l
keys Space k
if wait_screen 3-hover 'Returns a greeting' 10; then ok "hover on greet shows its @doc"
else not_ok "hover shows no @doc" "$out/3-hover.txt"; fi
keys Escape
keys Space s
if wait_screen 4-symbols 'greet_all' 10; then ok "the symbol picker lists the module's functions"
else not_ok "no greet_all in the symbol picker" "$out/4-symbols.txt"; fi
keys Escape

# The AI completion item: a new line below format_name/1, "def fare" typed.
keys ':24' Enter
keys o Enter
"${T[@]}" send-keys -l 'def fare'
if wait_screen 5-completion 'farewell' 15; then
  if grep -E 'farewell' "$out/5-completion.txt" | grep -q 'snippet'; then
    ok "the AI completion item shows, as a snippet"
  else not_ok "the AI completion item shows, but not as a snippet" "$out/5-completion.txt"; fi
else not_ok "no AI completion item after typing 'def fare'" "$out/5-completion.txt"; fi
# Tab selects the first item (Helix previews it in the buffer), Escape keeps it.
keys Tab
keys Escape
keys ':w' Enter
if grep -q 'def farewell(name)' lib/greeter.ex; then ok "Tab inserts the AI item: $(grep -m1 'def farewell' lib/greeter.ex | sed 's/^ *//')"
else screen 6-accepted; not_ok "the file has no 'def farewell(name)' after Tab" "$out/6-accepted.txt"; fi
keys ':q!' Enter
echo "helix 25.07: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
