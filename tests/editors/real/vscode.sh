#!/usr/bin/env bash
# VS Code 1.100 (code-server, the real workbench with a Node extension host) with the Aiex .vsix
# and nothing else installed, driven by headless Chromium (drive-vscode.js) on a copy of the
# greeter fixture against the fake provider, with VS Code's default suggest settings.
#   vscode.sh VSIX   (after install-code-server.sh; run.sh calls it)
# With AIEX_VSCODE_BUNDLED=1 the .vsix is a platform package (cargo xtask dist --vsix): no
# aiex.serverPath, no aiex on PATH, one ghost-text place; the server must be the bundled one.
# Env: AIEX_BIN, AIEX_FAKE_PORT (a running fake provider), EDITORS_DIR, AIEX_EDITORS_OUT
# (screenshots and logs), AIEX_GHOST_TRIALS (default 5). Prints ok/not ok lines.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
vsix="$1"
: "${EDITORS_DIR:=$HOME/.cache/aiex-editors}"
: "${AIEX_EDITORS_OUT:=$(mktemp -d)}"
out="$AIEX_EDITORS_OUT/vscode"
cs="$EDITORS_DIR/cs/node_modules/.bin/code-server"
port="${AIEX_VSCODE_PORT:-18311}"
W="$(mktemp -d)"
mkdir -p "$out" "$W/user/User" "$W/ws"
cp -r "$here/../fixtures/greeter" "$W/ws/greeter"
server_path_setting="\"aiex.serverPath\": \"$AIEX_BIN\","
if [[ -n "${AIEX_VSCODE_BUNDLED:-}" ]]; then
  server_path_setting=""
  out="$out-bundled"
  mkdir -p "$out"
  # A PATH with no aiex on it: the extension must start the binary it carries.
  PATH="$(tr ':' '\n' <<<"$PATH" | while read -r d; do [[ -n "$d" && ! -x "$d/aiex" ]] && printf '%s:' "$d"; done)"
  export PATH="${PATH%:}"
  if command -v aiex >/dev/null; then echo "not ok - vscode bundled: aiex is still on PATH"; exit 1; fi
fi   # a copy: VS Code saves edits on its own
cs_pid=""
cleanup() { [[ -n "$cs_pid" ]] && kill "$cs_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

export XDG_CONFIG_HOME="$W/xdg-config" XDG_DATA_HOME="$W/xdg-data" XDG_CACHE_HOME="$W/xdg-cache"
args=(--user-data-dir "$W/user" --extensions-dir "$W/ext" --config "$W/config.yaml")
printf 'bind-addr: 127.0.0.1:%s\nauth: none\ncert: false\n' "$port" >"$W/config.yaml"
"$cs" "${args[@]}" --install-extension "$vsix" >"$W/install.log" 2>&1 ||
  { echo "not ok - vscode 1.100: installing $vsix failed: $(tail -3 "$W/install.log")"; exit 1; }
# Only what a user sets up: the server path and a provider. Suggest settings stay default.
cat >"$W/user/User/settings.json" <<JSON
{
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  $server_path_setting
  "aiex.providers": { "fake": { "kind": "openai-compatible", "baseUrl": "http://127.0.0.1:$AIEX_FAKE_PORT/v1", "model": "fake" } },
  "aiex.completion.providers": ["fake"],
  "aiex.explain.providers": ["fake"],
  "aiex.actions.providers": ["fake"],
  "aiex.serverArgs": ["--log-file", "$out/server.log"]${AIEX_VSCODE_TRACE:+,
  "aiex.trace.server": "verbose"}
}
JSON
# The log of this run only: the bundled check below reads the server's version from it, and a
# log an earlier run left in $out (a kept AIEX_EDITORS_OUT) must not make it pass.
rm -f "$out/server.log"
"$cs" "${args[@]}" --disable-telemetry --disable-update-check --disable-workspace-trust \
  --disable-getting-started-override ${AIEX_VSCODE_TRACE:+--log trace} "$W/ws/greeter" >"$W/code-server.log" 2>&1 &
cs_pid=$!
for _ in $(seq 120); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
rc=0
NODE_PATH="$EDITORS_DIR/driver/node_modules" node "$here/drive-vscode.js" \
  "http://127.0.0.1:$port/?folder=$W/ws/greeter" "$out" "${AIEX_GHOST_TRIALS:-5}" || rc=$?
# The Aiex output channel (server log lines at their levels) and the extension host's log,
# complete once code-server has stopped and flushed them.
kill "$cs_pid" 2>/dev/null; wait "$cs_pid" 2>/dev/null; cs_pid=""
find "$W/user/logs" -type f -iname '*aiex*' -print0 | xargs -0 -r cat >"$out/aiex-output.log"
find "$W/user/logs" -type f -name 'remoteexthost.log' -print0 | xargs -0 -r cat >"$out/exthost.log"
cp "$W/code-server.log" "$out/"
# Server log lines must keep their levels: an INFO line never shows as [error].
if grep -q '\[error\].*\bINFO\b\|\[error\] aiex::.*initialize' "$out/aiex-output.log"; then
  echo "not ok - vscode 1.100: server info lines show as [error] in the Aiex output"; rc=1
elif grep -q '\[info\]' "$out/aiex-output.log"; then
  echo "ok - vscode 1.100: server log lines keep their levels in the Aiex output"
else
  echo "not ok - vscode 1.100: no server log line in the Aiex output ($out/aiex-output.log)"; rc=1
fi
if [[ -n "${AIEX_VSCODE_BUNDLED:-}" ]]; then
  bundled="$(ls "$W"/ext/*/bin/aiex 2>/dev/null | head -1)"
  started="$(grep -m1 -o 'version="[^"]*"' "$out/server.log" 2>/dev/null || true)"
  if [[ -n "$bundled" && "$started" == *"x86_64-unknown-linux-musl"* ]]; then
    echo "ok - vscode 1.100: the platform .vsix started its bundled binary with no aiex on PATH ($started)"
  else
    echo "not ok - vscode 1.100: the bundled binary did not start (bundled: '${bundled}', server log: '${started}')"; rc=1
  fi
fi
echo "# screenshots and logs: $out"
exit $rc
