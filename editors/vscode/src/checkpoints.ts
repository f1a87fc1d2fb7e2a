// The pure parts of "Aiex: Restore checkpoint" and "Aiex: Compare checkpoint": the server's
// `aiex/checkpoints` list and `aiex/compareCheckpoint` result read back, the quick pick items,
// the `aiex.restoreCheckpoint` arguments (the same shapes as the Neovim client's :AiexRestore
// and :AiexCheckpoints, editors/neovim/lua/aiex/chat.lua). The VS Code glue is in extension.ts.

/** A checkpoint taken before an AI edit: its id, name and the absolute paths of its files. */
export interface Checkpoint { id: number; name: string; files: string[] }

/** One file of a comparison: its absolute path and a unified diff (empty: unchanged). */
export interface FileDiff { path: string; diff: string }

function objects(raw: unknown): Record<string, unknown>[] {
  return Array.isArray(raw) ? raw.filter((x): x is Record<string, unknown> => !!x && typeof x === "object") : [];
}

/** The `aiex/checkpoints` result (newest first, as the server lists them); malformed items dropped. */
export function readCheckpoints(raw: unknown): Checkpoint[] {
  return objects(raw)
    .filter((c) => typeof c.id === "number")
    .map((c) => ({
      id: c.id as number,
      name: typeof c.name === "string" ? c.name : "",
      files: objects(c.files).map((f) => f.path).filter((p): p is string => typeof p === "string"),
    }));
}

/** The `aiex/compareCheckpoint` result; malformed items dropped. */
export function readComparison(raw: unknown): FileDiff[] {
  return objects(raw)
    .filter((f) => typeof f.path === "string")
    .map((f) => ({ path: f.path as string, diff: typeof f.diff === "string" ? f.diff : "" }));
}

/** The text shown for a comparison: each file's diff, or a line saying it is unchanged. */
export function comparisonText(files: FileDiff[]): string {
  return files
    .map((f) => (f.diff === "" ? `(${f.path} is as the checkpoint recorded it)\n` : f.diff.endsWith("\n") ? f.diff : `${f.diff}\n`))
    .join("");
}

/** A quick pick item for `checkpoint`; `relative` shows a path relative to the workspace. */
export function checkpointItem(checkpoint: Checkpoint, relative: (path: string) => string = (p) => p):
  { label: string; description: string; checkpoint: number } {
  return {
    label: `${checkpoint.id}  ${checkpoint.name}`,
    description: checkpoint.files.map(relative).join(", "),
    checkpoint: checkpoint.id,
  };
}

/** `aiex.restoreCheckpoint` arguments: `force` only when asked (the server's default is false). */
export function restoreArguments(checkpoint: number, force: boolean): [{ checkpoint: number; force?: boolean }] {
  return [force ? { checkpoint, force: true } : { checkpoint }];
}

/** Whether a restore error is the server's refusal over later changes, which forcing overrides. */
export function isChangedSinceRefusal(message: string): boolean {
  return message.includes("changed since the last AI edit");
}
