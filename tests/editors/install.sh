#!/usr/bin/env bash
# Installs what tests/editors/run.sh needs on a fresh Debian 12 machine (as root):
#   neovim (0.7.2), emacs-nox (28.2) + elpa-eglot (1.9) + elpa-lsp-mode (8.0), python3.
# Node.js 20+ and npm must already be there (run.sh runs `npm ci` itself).
# Idempotent: does nothing when everything is installed.
set -euo pipefail

packages=(neovim emacs-nox elpa-eglot elpa-lsp-mode python3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} > 0 )); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if (( node_major < 20 )); then
  echo "Node.js 20+ is needed for the VS Code extension (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
echo "editor test dependencies ready: $(nvim --version | head -1), $(emacs --version | head -1), node $(node --version)"
