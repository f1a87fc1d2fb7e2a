#!/usr/bin/env bash
# Installs what `cargo xtask dist` needs for the Linux x86_64 archive, caching under
# ~/.cache/aiex-dist: rustup's x86_64-unknown-linux-musl standard library, zig (PyPI
# `ziglang`) and cargo-zigbuild (crates.io). Idempotent. Prints the PATH entries to add.
# Cold: ~1 min of downloads plus compiling cargo-zigbuild (~3 min on 2 idle cores); cached: 1 s.
set -euo pipefail
cache="${AIEX_DIST_TOOLS:-$HOME/.cache/aiex-dist}"
mkdir -p "$cache"
rustup target list --installed | grep -qx x86_64-unknown-linux-musl ||
  rustup target add x86_64-unknown-linux-musl >&2
[[ -x "$cache/zig/ziglang/zig" ]] ||
  python3 -m pip install --quiet --target "$cache/zig" "ziglang==0.17.1" >&2 ||
  pip install --quiet --break-system-packages --target "$cache/zig" "ziglang==0.17.1" >&2
[[ -x "$cache/cargo/bin/cargo-zigbuild" ]] ||
  nice -n 10 cargo install --quiet --locked --root "$cache/cargo" cargo-zigbuild --version 0.24.1 >&2
echo "$cache/zig/ziglang:$cache/cargo/bin"
