#!/usr/bin/env bash
# Installs a real VS Code workbench (code-server 4.100.3 = VS Code 1.100.3) from the npm
# registry, offline apart from the registries, plus puppeteer-core 24 (Node 20) to drive
# Debian's Chromium headless. The Aiex .vsix itself is built by run.sh from the tree under test.
# Everything goes under $EDITORS_DIR (default ~/.cache/aiex-editors). About 4 min, ~500 MB.
# code-server >= 4.103 wants Node 22+; 4.100.3 is the newest for Node 20 (Debian 12's is 18,
# CI machines have 20).
# Idempotent: does nothing when code-server and the driver are installed.
# Called by tests/editors/install.sh.
set -euo pipefail
: "${EDITORS_DIR:=$HOME/.cache/aiex-editors}"
: "${CS_VERSION:=4.100.3}"
mkdir -p "$EDITORS_DIR"
if [[ -f "$EDITORS_DIR/cs/installed-$CS_VERSION" && -d "$EDITORS_DIR/driver/node_modules/puppeteer-core" ]] &&
   command -v chromium >/dev/null && dpkg-query -W fonts-noto-color-emoji >/dev/null 2>&1; then
  echo "code-server $CS_VERSION and puppeteer-core already in $EDITORS_DIR"
  exit 0
fi
cd "$EDITORS_DIR"
t0=$(date +%s)

# Debian: Chromium for the screenshots (and an emoji font: the AI item is marked ✨), ripgrep in place of the one @vscode/ripgrep would
# download from GitHub, Kerberos headers for the kerberos native module.
ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 || apt-get update >/dev/null
apt-get install -y --no-install-recommends chromium fonts-noto-color-emoji ripgrep libkrb5-dev g++ make python3 curl >/dev/null

# 1. code-server: the npm package carries the whole VS Code build (42 MB tarball); its
# postinstall runs `npm install` in lib/vscode, which would download prebuilt binaries
# (ripgrep, node headers): do those steps by hand, building native modules against
# the local Node headers (/usr/include/node).
mkdir -p cs && cd cs
[[ -f package.json ]] || npm init -y >/dev/null
nice -n 10 npm install --ignore-scripts --no-audit --no-fund --omit=dev "code-server@$CS_VERSION" >/dev/null
export npm_config_nodedir=/usr npm_config_build_from_source=true
nice -n 10 npm rebuild argon2 --build-from-source >/dev/null
vs="$EDITORS_DIR/cs/node_modules/code-server/lib/vscode"
(cd "$vs" && nice -n 10 npm install --ignore-scripts --no-audit --no-fund --omit=dev >/dev/null)
(cd "$vs/extensions" && nice -n 10 npm install --ignore-scripts --no-audit --no-fund --omit=dev >/dev/null)
# node-pty's postinstall ends with `npx node-gyp configure -f compile_commands_json`, which
# fails offline after the module is built; its failure is harmless.
(cd "$vs" && nice -n 10 npm rebuild --foreground-scripts @parcel/watcher @vscode/spdlog node-pty \
   native-watchdog kerberos @vscode/deviceid >"$EDITORS_DIR/cs/rebuild.log" 2>&1 || true)
for m in @parcel/watcher/build/Release/watcher.node @vscode/spdlog/build/Release/spdlog.node \
         node-pty/build/Release/pty.node native-watchdog/build/Release/watchdog.node; do
  [[ -f "$vs/node_modules/$m" ]] || { echo "native module not built: $m (see $EDITORS_DIR/cs/rebuild.log)"; exit 1; }
done
# What code-server's postinstall.sh does after npm install.
unset npm_config_nodedir npm_config_build_from_source
ln -sfn node_modules "$vs/node_modules.asar"
(cd "$vs/bin/remote-cli" && ln -sf code-linux.sh code-server)
(cd "$vs/bin/helpers" && ln -sf browser-linux.sh browser.sh)
mkdir -p "$vs/node_modules/@vscode/ripgrep/bin" && ln -sf /usr/bin/rg "$vs/node_modules/@vscode/ripgrep/bin/rg"
cd "$EDITORS_DIR"
XDG_CONFIG_HOME="$EDITORS_DIR/cs/xdg" XDG_DATA_HOME="$EDITORS_DIR/cs/xdg" \
  cs/node_modules/.bin/code-server --config "$EDITORS_DIR/cs/version.yaml" --version
touch "$EDITORS_DIR/cs/installed-$CS_VERSION"

# 2. The browser driver (puppeteer-core 25 needs Node 22; it never downloads a browser).
mkdir -p driver && (cd driver && { [[ -f package.json ]] || npm init -y >/dev/null; } &&
  nice -n 10 npm install --no-audit --no-fund puppeteer-core@24.9.0 >/dev/null)
echo "installed in $(( $(date +%s) - t0 )) s; $(du -sh "$EDITORS_DIR/cs" "$EDITORS_DIR/driver" | tr '\n' ' ')"
