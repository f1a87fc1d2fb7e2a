#!/usr/bin/env python3
"""Static check of the Zed extension in editors/zed (Zed cannot run here and
this machine has no wasm32 target): extension.toml has the fields Zed requires,
declares the aiex language server for the Elixir extension's languages with
their LSP language ids, and Cargo.toml builds the cdylib Zed loads, outside
the repository's workspace."""
import os
import sys
import tomllib

REQUIRED = ["id", "name", "version", "schema_version", "authors", "description", "repository"]
LANGUAGE_IDS = {"Elixir": "elixir", "EEx": "eex", "HEEx": "heex"}


def main(folder: str) -> int:
    problems = []
    with open(os.path.join(folder, "extension.toml"), "rb") as f:
        ext = tomllib.load(f)
    for key in REQUIRED:
        if key not in ext:
            problems.append(f"extension.toml: missing {key}")
    if ext.get("schema_version") != 1:
        problems.append("extension.toml: schema_version must be 1")
    server = ext.get("language_servers", {}).get("aiex")
    if not server:
        problems.append("extension.toml: no [language_servers.aiex]")
    else:
        if set(server.get("languages", [])) != set(LANGUAGE_IDS):
            problems.append(f"extension.toml: aiex languages are {server.get('languages')}, expected {sorted(LANGUAGE_IDS)}")
        if server.get("language_ids") != LANGUAGE_IDS:
            problems.append(f"extension.toml: language_ids are {server.get('language_ids')}, expected {LANGUAGE_IDS}")
    with open(os.path.join(folder, "Cargo.toml"), "rb") as f:
        cargo = tomllib.load(f)
    lib = cargo.get("lib", {})
    if "cdylib" not in lib.get("crate-type", []):
        problems.append("Cargo.toml: [lib] crate-type must include cdylib")
    if "workspace" not in cargo:
        problems.append("Cargo.toml: needs its own [workspace] table to stay out of the root workspace")
    if "zed_extension_api" not in cargo.get("dependencies", {}):
        problems.append("Cargo.toml: zed_extension_api is not a dependency")
    source = os.path.join(folder, lib.get("path", "src/lib.rs"))
    if not os.path.exists(source):
        problems.append(f"Cargo.toml: {source} does not exist")
    else:
        with open(source) as f:
            text = f.read()
        if "register_extension!" not in text:
            problems.append(f"{source}: no zed::register_extension!")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
