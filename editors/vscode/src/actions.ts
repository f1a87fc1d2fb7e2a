// The palette commands (Explain, Refactor, Generate tests, Add docs) act on
// the function under the cursor. Rather than guessing the arguments the
// server's `aiex.*` commands take, the extension asks the server for its code
// actions at the cursor (standard `textDocument/codeAction`) and runs the one
// that carries the wanted command: the server stays the only owner of that
// contract. Pure, so that the selection rules are unit-tested.

/** The server commands behind the palette commands. */
export const ACTIONS = {
  explain: { command: "aiex.explain", title: "Explain" },
  refactor: { command: "aiex.refactor", title: "Refactor" },
  generateTests: { command: "aiex.generateTests", title: "Generate tests" },
  addDocs: { command: "aiex.addDocs", title: "Add docs" },
} as const;

export type ActionName = keyof typeof ACTIONS;

/** The parts of an LSP `Command` / `CodeAction` this module looks at. */
export interface LspCommand {
  title?: string;
  command: string;
  arguments?: unknown[];
}
export interface LspCodeAction {
  title: string;
  kind?: string;
  command?: LspCommand;
  edit?: unknown;
  disabled?: { reason: string };
}

function isCommand(value: unknown): value is LspCommand {
  return typeof value === "object" && value !== null && typeof (value as LspCommand).command === "string";
}

/** Normalises the `(Command | CodeAction)[]` answer: a bare Command becomes an action. */
export function normaliseActions(answer: unknown): LspCodeAction[] {
  if (!Array.isArray(answer)) return [];
  const out: LspCodeAction[] = [];
  for (const item of answer) {
    if (typeof item !== "object" || item === null) continue;
    const cmd = (item as { command?: unknown }).command;
    if (typeof cmd === "string" && isCommand(item)) {
      out.push({ title: item.title ?? item.command, command: item });
    } else if (typeof (item as LspCodeAction).title === "string") {
      out.push(item as LspCodeAction);
    }
  }
  return out;
}

export type Pick = { ok: true; action: LspCodeAction } | { ok: false; message: string };

/** The first enabled action whose command is the wanted `aiex.*` command. */
export function pickAction(actions: LspCodeAction[], name: ActionName): Pick {
  const wanted = ACTIONS[name].command;
  const matching = actions.filter((a) => a.command?.command === wanted);
  const enabled = matching.find((a) => !a.disabled);
  if (enabled) return { ok: true, action: enabled };
  if (matching.length > 0) {
    return { ok: false, message: `Aiex cannot ${ACTIONS[name].title.toLowerCase()} here: ${matching[0].disabled?.reason ?? "not available"}` };
  }
  return {
    ok: false,
    message: `Aiex offers no "${ACTIONS[name].title}" here: put the cursor inside a function (def/defp) of an Elixir file.`,
  };
}

/**
 * Adds the user's refactor instruction to the command arguments: the first
 * argument, when it is an object, gains an `instruction` field; otherwise the
 * instruction is appended as an object of its own.
 */
export function withInstruction(args: unknown[] | undefined, instruction: string): unknown[] {
  const list = [...(args ?? [])];
  const trimmed = instruction.trim();
  if (trimmed === "") return list;
  const first = list[0];
  if (typeof first === "object" && first !== null && !Array.isArray(first)) {
    list[0] = { ...first, instruction: trimmed };
  } else {
    list.push({ instruction: trimmed });
  }
  return list;
}
