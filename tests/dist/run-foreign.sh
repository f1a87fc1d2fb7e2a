#!/usr/bin/env bash
# Runs the release archives built for other machines on this x86_64 Linux host, through an
# emulator: the Windows x86_64 archive under Wine, the Linux aarch64 archive under qemu-user.
# For each archive present in DIST_DIR: checksum, unpack, `aiex --version` (version, commit,
# triple), `aiex check sample_app` (0 findings, exit 0), and an LSP initialize/shutdown/exit
# exchange over stdio. Slow builds, so not in .ci/run; build the archives first with
#   cargo xtask dist --target x86_64-pc-windows-gnu --target aarch64-unknown-linux-musl
# and install the runners with `apt-get install wine64 qemu-user`. Wine older than 9.0 lacks
# bcryptprimitives.dll, which Rust's standard library needs: the script then builds the stand-in
# in tests/dist/wine/ with zig (`bash tests/dist/install-tools.sh`) and puts it beside aiex.exe.
# A missing archive or runner is a skip ("skip - ..."), a failure when AIEX_REQUIRE_FOREIGN=1.
# Prints "ok - ..." / "not ok - ..." lines and "N passed, N failed, N skipped".
# Usage: run-foreign.sh DIST_DIR [REPO]
set -uo pipefail
dist="$(cd "$1" && pwd)"
repo="$(cd "${2:-$(dirname "$0")/../..}" && pwd)"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -1)"
passed=0 failed=0 skipped=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; [[ -n "${2:-}" ]] && sed 's/^/    | /' <<<"$2"; }
skip() {
  if [[ "${AIEX_REQUIRE_FOREIGN:-}" == 1 ]]; then not_ok "$1 (AIEX_REQUIRE_FOREIGN=1)"; else skipped=$((skipped + 1)); echo "skip - $1"; fi
}
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# One LSP session over the runner's stdio: initialize, initialized, shutdown, exit; checks the
# answers carry the server's name and that it exits 0 after `exit`.
lsp_exchange() {
  python3 - "$@" <<'PY'
import json, subprocess, sys
proc = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
def send(msg):
    body = json.dumps(msg).encode()
    proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    proc.stdin.flush()
def read(want_id):
    while True:
        length = None
        while True:
            line = proc.stdout.readline()
            if not line:
                sys.exit("the server closed stdout before answering request %d" % want_id)
            line = line.strip()
            if not line:
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        msg = json.loads(proc.stdout.read(length))
        if msg.get("id") == want_id:
            return msg
send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": None, "rootUri": None, "capabilities": {}}})
init = read(1)
name = init.get("result", {}).get("serverInfo", {}).get("name")
if name != "aiex":
    sys.exit("initialize answered %r" % init)
send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
send({"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": None})
down = read(2)
if "error" in down:
    sys.exit("shutdown answered %r" % down)
send({"jsonrpc": "2.0", "method": "exit", "params": None})
proc.stdin.close()
try:
    code = proc.wait(timeout=60)
except subprocess.TimeoutExpired:
    proc.kill()
    sys.exit("still running 60 s after exit")
if code != 0:
    sys.exit("exited %d after shutdown/exit" % code)
print("initialize -> serverInfo %s %s; shutdown -> null; exit -> 0" % (name, init["result"]["serverInfo"].get("version")))
PY
}

# check_platform TRIPLE BINARY RUNNER...: the checks for one archive run through RUNNER.
check_platform() {
  local triple="$1" binary="$2"
  shift 2
  local runner=("$@")
  local archive="aiex-$version-$triple.tar.gz"
  if [[ ! -f "$dist/$archive" ]]; then
    skip "$triple: no $archive in $dist"
    return
  fi
  if ! command -v "${runner[0]}" >/dev/null; then
    skip "$triple: ${runner[0]} is not installed"
    return
  fi
  local out rc dir="$work/$triple"
  mkdir -p "$dir"
  if out="$(cd "$dist" && sha256sum -c "$archive.sha256" 2>&1)"; then
    ok "$triple: checksum verified: $out"
  else
    not_ok "$triple: checksum" "$out"
    return
  fi
  tar -xzf "$dist/$archive" -C "$dir" --strip-components=1
  local exe="$dir/$binary"
  ok "$triple: unpacked: $(file -b "$exe" 2>/dev/null | cut -c1-100)"
  if [[ "$triple" == *windows* ]] && ! wine_shim "$dir"; then
    return
  fi
  # Wine answers with CRLF; the comparison is on the text.
  out="$("${runner[@]}" "$exe" --version 2>/dev/null | tr -d '\r')"
  if [[ "$out" == "aiex $version (commit "*"$triple)" ]]; then
    ok "$triple: ${runner[*]} aiex --version: $out"
  else
    not_ok "$triple: ${runner[*]} aiex --version" "$out"
  fi
  cp -r "$repo/fixtures/sample_app" "$dir/"
  # The findings go to stdout, the summary line to stderr.
  out="$(cd "$dir" && "${runner[@]}" "$exe" check sample_app 2>&1 | tr -d '\r')"
  rc=$?
  if [[ $rc -eq 0 && "$out" =~ 0\ finding\(s\)\ in\ [1-9][0-9]*\ file ]]; then
    ok "$triple: aiex check sample_app: $(tail -1 <<<"$out")"
  else
    not_ok "$triple: aiex check sample_app exited $rc" "$out"
  fi
  if out="$(cd "$dir" && lsp_exchange "${runner[@]}" "$exe" 2>&1)"; then
    ok "$triple: LSP over stdio: $out"
  else
    not_ok "$triple: LSP over stdio" "$out"
  fi
}

# wine_shim DIR: under a Wine without bcryptprimitives.dll (before 9.0), builds the stand-in
# (tests/dist/wine/bcryptprimitives.c) with zig into DIR, beside aiex.exe, where Windows looks
# first. Says which Wine needed it; fails when it is needed and zig is missing.
wine_shim() {
  local dir="$1" winedir
  winedir="$(dirname "$(readlink -f "$(command -v "$wine")")")"
  if compgen -G "$winedir/../lib/*/wine/x86_64-windows/bcryptprimitives.dll" >/dev/null ||
    compgen -G "/usr/lib/*/wine/x86_64-windows/bcryptprimitives.dll" >/dev/null; then
    return 0
  fi
  local zig
  zig="$(command -v zig || echo "$HOME/.cache/aiex-dist/zig/ziglang/zig")"
  if [[ ! -x "$zig" ]]; then
    not_ok "x86_64-pc-windows-gnu: $("$wine" --version) lacks bcryptprimitives.dll and zig is not installed for the stand-in (bash tests/dist/install-tools.sh)"
    return 1
  fi
  local out
  if out="$("$zig" cc -target x86_64-windows-gnu -shared -O2 -o "$dir/bcryptprimitives.dll" \
    "$repo/tests/dist/wine/bcryptprimitives.c" 2>&1)"; then
    ok "x86_64-pc-windows-gnu: $("$wine" --version) lacks bcryptprimitives.dll (Windows 10+ has it): the ProcessPrng stand-in is beside aiex.exe"
  else
    not_ok "x86_64-pc-windows-gnu: building the bcryptprimitives.dll stand-in" "$out"
    return 1
  fi
}

# A prefix of its own unless one is given (creating one takes Wine ~30 s). Debian installs the
# wine64 loader in /usr/lib/wine, off PATH.
export WINEDEBUG=-all WINEPREFIX="${WINEPREFIX:-$work/wine}" PATH="$PATH:/usr/lib/wine"
wine=wine
command -v wine >/dev/null || wine=wine64
check_platform x86_64-pc-windows-gnu aiex.exe "$wine"
check_platform aarch64-unknown-linux-musl aiex qemu-aarch64
echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
