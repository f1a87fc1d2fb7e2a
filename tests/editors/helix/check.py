#!/usr/bin/env python3
"""Static check of editors/helix/languages.toml (Helix itself is not packaged
for Debian 12, so it cannot be run here): the file parses as TOML, defines the
aiex server, and adds it to every Elixir language without dropping the Elixir
language server that Helix lists by default."""
import sys
import tomllib

LANGUAGES = {"elixir", "heex", "eex"}
ELIXIR_SERVERS = {"elixir-ls", "expert", "lexical", "nextls"}


def main(path: str) -> int:
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    problems = []
    server = doc.get("language-server", {}).get("aiex")
    if not server:
        problems.append("no [language-server.aiex]")
    elif server.get("command") != "aiex":
        problems.append(f"aiex command is {server.get('command')!r}, expected 'aiex'")
    elif not isinstance(server.get("config", {}), dict):
        problems.append("[language-server.aiex.config] must be a table")
    seen = set()
    for lang in doc.get("language", []):
        name = lang.get("name")
        servers = lang.get("language-servers", [])
        names = [s if isinstance(s, str) else s.get("name") for s in servers]
        if name in LANGUAGES:
            seen.add(name)
            if "aiex" not in names:
                problems.append(f"{name}: aiex is not in language-servers")
            if not ELIXIR_SERVERS & set(names):
                problems.append(f"{name}: the Elixir language server was dropped: {names}")
    for missing in sorted(LANGUAGES - seen):
        problems.append(f"no [[language]] entry for {missing}")
    for p in problems:
        print(f"{path}: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
