// Finds the `aiex` executable: the `aiex.serverPath` setting when set,
// otherwise the binary bundled in a platform-specific package (`bin/` of the
// extension, put there by `cargo xtask dist --vsix`), otherwise the first
// `aiex` on PATH. Pure apart from the injected
// `isExecutable`, so the lookup rules are unit-tested without a file system.

import * as path from "node:path";

export interface ServerPathInput {
  /** The `aiex.serverPath` setting ("" when unset). May start with `~`. */
  configured: string;
  /** The PATH environment variable. */
  envPath: string | undefined;
  platform: NodeJS.Platform;
  home: string;
  isExecutable: (file: string) => boolean;
  /** The extension's own directory, whose `bin/` holds the bundled binary. */
  extensionPath?: string;
}

export type ServerPathResult = { ok: true; path: string } | { ok: false; message: string };

export const NOT_FOUND_MESSAGE =
  "aiex binary not found: set aiex.serverPath or put aiex on PATH (build it with `cargo build --release`).";

export function resolveServerPath(input: ServerPathInput): ServerPathResult {
  const windows = input.platform === "win32";
  // Join with the target platform's rules, not the host's (tests run on Linux).
  const paths = windows ? path.win32 : path.posix;
  const configured = input.configured.trim();
  if (configured !== "") {
    const expanded = configured.startsWith("~") ? paths.join(input.home, configured.slice(1)) : configured;
    if (input.isExecutable(expanded)) return { ok: true, path: expanded };
    return {
      ok: false,
      message: `aiex.serverPath is set to "${configured}" but no executable is there: fix the setting or clear it to use aiex from PATH.`,
    };
  }
  const names = windows ? ["aiex.exe", "aiex"] : ["aiex"];
  // The bundled binary matches this package's version; one on PATH may be older.
  if (input.extensionPath) {
    const bundled = paths.join(input.extensionPath, "bin", names[0]);
    if (input.isExecutable(bundled)) return { ok: true, path: bundled };
  }
  const separator = windows ? ";" : ":";
  for (const dir of (input.envPath ?? "").split(separator)) {
    if (dir === "") continue;
    for (const name of names) {
      const candidate = paths.join(dir, name);
      if (input.isExecutable(candidate)) return { ok: true, path: candidate };
    }
  }
  return { ok: false, message: NOT_FOUND_MESSAGE };
}
