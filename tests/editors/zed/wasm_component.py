#!/usr/bin/env python3
"""Checks that a file is a WebAssembly component (what Zed loads from an extension built for
wasm32-wasip2), not a core module: the magic number, then layer 1, version 0x0d."""
import sys


def main(path: str) -> int:
    with open(path, "rb") as f:
        head = f.read(8)
    if head[:4] != b"\0asm":
        print(f"{path}: not WebAssembly (starts with {head.hex()})")
        return 1
    if head[4:8] != b"\x0d\x00\x01\x00":
        print(f"{path}: a core WebAssembly module, not a component (header {head.hex()})")
        return 1
    print(f"{path}: a WebAssembly component")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
