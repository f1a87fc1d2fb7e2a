#!/usr/bin/env bash
# Neovim 0.12 and Helix 25.07 from Debian sid, run on this Debian 12 machine without
# touching the system: a private apt configuration (its own lists, no change to
# /etc/apt) downloads the .debs, dpkg -x unpacks them under $EDITORS_DIR, and patchelf
# points each binary at sid's own loader and libc there (Neovim re-executes itself
# with --embed, so an `ld.so --library-path` wrapper is not enough).
# About 1 min, ~100 MB. Gives $EDITORS_DIR/nvim-sid/nvim and $EDITORS_DIR/hx-sid/hx.
# Idempotent: does nothing when both run (the download stays cached in $EDITORS_DIR).
# Called by tests/editors/install.sh.
set -euo pipefail
: "${EDITORS_DIR:=$HOME/.cache/aiex-editors}"
if "$EDITORS_DIR/nvim-sid/nvim" --version >/dev/null 2>&1 && "$EDITORS_DIR/hx-sid/hx" --version >/dev/null 2>&1; then
  echo "Neovim and Helix from sid already in $EDITORS_DIR: $("$EDITORS_DIR/nvim-sid/nvim" --version | head -1), $("$EDITORS_DIR/hx-sid/hx" --version)"
  exit 0
fi
: "${SUITE:=sid}"
A="$EDITORS_DIR/apt-alt"
mkdir -p "$A/lists/partial" "$A/cache/archives/partial"
key=/usr/share/keyrings/debian-archive-keyring.gpg
printf 'deb [signed-by=%s] http://deb.debian.org/debian %s main\n' "$key" "$SUITE" >"$A/sources.list"
cat >"$A/apt.conf" <<CONF
Dir::Etc::SourceList "$A/sources.list";
Dir::Etc::SourceParts "/dev/null";
Dir::State::Lists "$A/lists";
Dir::Cache "$A/cache";
Debug::NoLocking "true";
CONF
export APT_CONFIG="$A/apt.conf"
command -v patchelf >/dev/null || APT_CONFIG= apt-get install -y --no-install-recommends patchelf >/dev/null
apt-get update >/dev/null
apt-cache policy neovim hx | grep -E '^[a-z]|Candidate'

unpack() {  # unpack DIR PACKAGE...
  local dir="$1"; shift
  mkdir -p "$dir/debs" "$dir/root"
  (cd "$dir/debs" && apt-get download "$@" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
  for f in "$dir"/debs/*.deb; do dpkg -x "$f" "$dir/root"; done
}
patch_bin() {  # patch_bin ROOT BINARY: sid's loader, and sid's libraries first (DT_RPATH)
  local R="$1" bin="$2"
  cp "$bin" "$bin.patched"
  patchelf --set-interpreter "$R/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" \
    --force-rpath --set-rpath "$R/usr/lib/x86_64-linux-gnu" "$bin.patched"
}

N="$EDITORS_DIR/nvim-sid"
unpack "$N" neovim neovim-runtime libc6 libgcc-s1 libluajit-5.1-2 libtree-sitter0.26 libunibilium4 \
  libutf8proc3 libuv1t64 lua-lpeg lua-luv
patch_bin "$N/root" "$N/root/usr/bin/nvim"
cat >"$N/nvim" <<'SH'
#!/bin/sh
# Neovim from Debian sid on Debian 12 (patchelf'd to sid's loader and libraries in ./root).
R="$(dirname "$(readlink -f "$0")")/root"
export VIMRUNTIME="${VIMRUNTIME:-$R/usr/share/nvim/runtime}"
exec "$R/usr/bin/nvim.patched" "$@"
SH
chmod +x "$N/nvim"

H="$EDITORS_DIR/hx-sid"
unpack "$H" hx libc6 libgcc-s1
patch_bin "$H/root" "$H/root/usr/lib/hx/hx"
cat >"$H/hx" <<'SH'
#!/bin/sh
# Helix from Debian sid on Debian 12 (patchelf'd to sid's loader and libc in ./root).
# Debian ships no tree-sitter grammars with it: no syntax highlighting, LSP unaffected.
R="$(dirname "$(readlink -f "$0")")/root"
export HELIX_RUNTIME="${HELIX_RUNTIME:-$R/usr/lib/hx/runtime}"
exec "$R/usr/lib/hx/hx.patched" "$@"
SH
chmod +x "$H/hx"

"$N/nvim" --version | head -1
"$N/nvim" --headless -u NONE +'lua io.stdout:write("vim.lsp.inline_completion.enable: " .. type(vim.lsp.inline_completion.enable) .. "\n")' +qa
"$H/hx" --version
du -sh "$N" "$H"
