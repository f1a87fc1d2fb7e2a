#!/usr/bin/env bash
# "A fresh Debian machine without Rust": serves the release archives in $1 from a local HTTP
# server, downloads the Linux x86_64 one as a user would, checks it against its .sha256 (and
# that a corrupted download is refused), unpacks it into an empty directory and, with an
# environment holding no cargo, rustc or ~/.cargo on PATH and a fresh HOME, runs
# `aiex --version`, `aiex health` and `aiex check` on the sample app.
# Prints "ok - ..." / "not ok - ..." lines and "N passed, N failed"; exits non-zero on failure.
# Usage: fresh_machine.sh DIST_DIR [REPO]
set -uo pipefail
dist="$(cd "$1" && pwd)"
repo="$(cd "${2:-$(dirname "$0")/../..}" && pwd)"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -1)"
archive="aiex-$version-x86_64-unknown-linux-musl.tar.gz"
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; [[ -n "${2:-}" ]] && sed 's/^/    | /' <<<"$2"; }
finish() { echo "$passed passed, $failed failed"; [[ $failed -eq 0 ]]; exit $?; }

[[ -f "$dist/$archive" ]] || { not_ok "no $archive in $dist (cargo xtask dist builds it)"; finish; }

machine="$(mktemp -d)"
server_pid=""
cleanup() { [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null; rm -rf "$machine"; }
trap cleanup EXIT

port_file="$machine/port"
python3 "$repo/tests/dist/serve.py" "$dist" >"$port_file" 2>"$machine/serve.log" &
server_pid=$!
for _ in $(seq 100); do [[ -s "$port_file" ]] && break; sleep 0.05; done
port="$(head -1 "$port_file")"
[[ -n "$port" ]] || { not_ok "the local download server did not start" "$(cat "$machine/serve.log")"; finish; }
base="http://127.0.0.1:$port"

# The machine: a home of its own, a PATH with the system's tools only.
home="$machine/home"
mkdir -p "$home/downloads" "$home/project"
clean_env=(env -i HOME="$home" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8)
if "${clean_env[@]}" sh -c 'command -v cargo || command -v rustc'; then
  not_ok "the clean environment still has a Rust toolchain on PATH"
else
  ok "no cargo or rustc on the clean machine's PATH"
fi

download() { # url file: python3's urllib, which a fresh Debian has (curl may be missing)
  "${clean_env[@]}" python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' "$1" "$2"
}
cd "$home/downloads"
if download "$base/$archive" "$archive" && download "$base/$archive.sha256" "$archive.sha256"; then
  ok "downloaded $archive and its checksum from $base"
else
  not_ok "download from $base" "$(cat "$machine/serve.log")"; finish
fi
if out="$("${clean_env[@]}" sha256sum -c "$archive.sha256" 2>&1)"; then
  ok "checksum verified: $out"
else
  not_ok "checksum mismatch" "$out"; finish
fi
# The check itself must catch a bad download: flip one byte of a copy.
mkdir corrupt && cp "$archive" "$archive.sha256" corrupt/
printf '\x00' | dd of="corrupt/$archive" bs=1 seek=1000 conv=notrunc status=none
if (cd corrupt && "${clean_env[@]}" sha256sum -c --quiet "$archive.sha256" >/dev/null 2>&1); then
  not_ok "a corrupted archive passed the checksum"
else
  ok "a corrupted archive fails the checksum"
fi

install_dir="$home/.local/aiex"
mkdir -p "$install_dir"
if "${clean_env[@]}" tar -xzf "$archive" -C "$install_dir" --strip-components=1; then
  ok "unpacked into an empty directory: $(ls "$install_dir" | tr '\n' ' ')"
else
  not_ok "unpack $archive"; finish
fi
aiex="$install_dir/aiex"
# file(1) is the test's tool, not the user's: without it nothing says the binary is static, so
# the check fails rather than passing unseen (.ci/run installs it).
if ! command -v file >/dev/null; then
  not_ok "file(1) is not installed: cannot tell whether the binary is static (apt-get install file)"
elif out="$(file "$aiex" 2>&1)"; [[ "$out" == *"statically linked"* || "$out" == *"static-pie linked"* ]]; then
  ok "the binary is static ($out)"
else
  not_ok "the binary is not static" "$out"
fi
if out="$("${clean_env[@]}" "$aiex" --version 2>&1)" && [[ "$out" == "aiex $version (commit "*"x86_64-unknown-linux-musl)" ]]; then
  ok "aiex --version: $out"
else
  not_ok "aiex --version" "$out"
fi
if out="$("${clean_env[@]}" "$aiex" health 2>&1)"; then
  ok "aiex health: $(head -1 <<<"$out")"
else
  not_ok "aiex health" "$out"
fi
cp -r "$repo/fixtures/sample_app" "$home/project/"
out="$(cd "$home/project" && "${clean_env[@]}" "$aiex" check sample_app 2>&1)"
rc=$?
if [[ $rc -eq 0 && "$out" =~ 0\ finding\(s\)\ in\ [1-9][0-9]*\ file ]]; then
  ok "aiex check sample_app: $(tail -1 <<<"$out")"
else
  not_ok "aiex check sample_app exited $rc" "$out"
fi
# And the checks do find something: a leftover IO.inspect planted in the app.
printf 'defmodule SampleApp.Leftover do\n  def run(x), do: IO.inspect(x)\nend\n' >"$home/project/sample_app/lib/leftover.ex"
out="$(cd "$home/project" && "${clean_env[@]}" "$aiex" check sample_app 2>&1)"
rc=$?
if [[ $rc -eq 1 && "$out" == *"leftover.ex"* ]]; then
  ok "aiex check finds the planted IO.inspect (exit 1)"
else
  not_ok "aiex check on a planted IO.inspect exited $rc" "$out"
fi
finish
