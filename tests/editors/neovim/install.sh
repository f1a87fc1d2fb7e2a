#!/usr/bin/env bash
# :AiexInstall against a local download site: packs a release archive the way
# `cargo xtask dist` does (the real one from $AIEX_DIST_DIR when set, else a stand-in
# whose "aiex" is a script printing a version), serves it with tests/dist/serve.py, and
# runs tests/editors/neovim/install.lua in headless Neovim ($NVIM, default nvim).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -1)"
work="$(mktemp -d)"
trap 'kill $server_pid 2>/dev/null; rm -rf "$work"' EXIT
site="$work/site"
mkdir -p "$site"
archive="aiex-$version-x86_64-unknown-linux-musl.tar.gz"
if [[ -n "${AIEX_DIST_DIR:-}" && -f "$AIEX_DIST_DIR/$archive" ]]; then
  cp "$AIEX_DIST_DIR/$archive" "$AIEX_DIST_DIR/$archive.sha256" "$site/"
  echo "# serving the real archive from $AIEX_DIST_DIR"
else
  top="$work/aiex-$version-x86_64-unknown-linux-musl"
  mkdir -p "$top"
  printf '#!/bin/sh\necho "aiex %s (commit test, built 2026-01-01, x86_64-unknown-linux-musl)"\n' "$version" >"$top/aiex"
  chmod +x "$top/aiex"
  tar -czf "$site/$archive" -C "$work" "$(basename "$top")"
  (cd "$site" && sha256sum "$archive" >"$archive.sha256")
  echo "# serving a stand-in archive (set AIEX_DIST_DIR for the real one)"
fi
python3 "$repo/tests/dist/serve.py" "$site" >"$work/port" 2>"$work/serve.log" &
server_pid=$!
for _ in $(seq 100); do [[ -s "$work/port" ]] && break; sleep 0.05; done
AIEX_INSTALL_URL="http://127.0.0.1:$(head -1 "$work/port")" AIEX_INSTALL_DIR="$work/data" \
AIEX_INSTALL_VERSION="$version" AIEX_INSTALL_SHA256="$(cut -d' ' -f1 "$site/$archive.sha256")" \
  "${NVIM:-nvim}" --headless -n -u NONE -i NONE --cmd "set rtp^=$repo/editors/neovim" \
  -c "luafile $here/install.lua" 2>"$work/nvim.stderr"
status=$?
# Neovim's own messages (the install's progress, the errors the checks provoke) end without a
# newline on stderr: shown after the checks, as comments, so no check's line is cut by them.
sed 's/^/# /' "$work/nvim.stderr"
exit "$status"
