import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { normaliseActions, pickAction, withInstruction } from "../src/actions";

const explain = { title: "Aiex: Explain greet/1", kind: "refactor", command: { title: "Explain", command: "aiex.explain", arguments: [{ uri: "file:///g.ex", line: 3 }] } };
const docs = { title: "Aiex: Add docs", command: { title: "Add docs", command: "aiex.addDocs", arguments: [] } };

describe("normaliseActions", () => {
  it("keeps code actions and turns bare commands into actions", () => {
    const list = normaliseActions([explain, { title: "Refactor", command: "aiex.refactor", arguments: [1] }, null, 3]);
    assert.equal(list.length, 2);
    assert.deepEqual(list[1], { title: "Refactor", command: { title: "Refactor", command: "aiex.refactor", arguments: [1] } });
  });

  it("treats a null answer as no actions", () => {
    assert.deepEqual(normaliseActions(null), []);
  });
});

describe("pickAction", () => {
  it("picks the action carrying the wanted command", () => {
    const r = pickAction(normaliseActions([docs, explain]), "explain");
    assert.deepEqual(r, { ok: true, action: explain });
  });

  it("skips a disabled action in favour of an enabled one, and reports the reason when all are disabled", () => {
    const disabled = { ...explain, disabled: { reason: "no provider configured" } };
    assert.deepEqual(pickAction([disabled, explain], "explain"), { ok: true, action: explain });
    const r = pickAction([disabled], "explain");
    assert.deepEqual(r, { ok: false, message: "Aiex cannot explain here: no provider configured" });
  });

  it("tells the user where to put the cursor when the server offers nothing", () => {
    const r = pickAction([docs], "generateTests");
    assert.equal(r.ok, false);
    assert.match((r as { message: string }).message, /put the cursor inside a function/);
  });
});

describe("withInstruction", () => {
  it("adds the instruction to an object argument without touching the original", () => {
    const args = [{ uri: "u" }];
    assert.deepEqual(withInstruction(args, "  use pattern matching "), [{ uri: "u", instruction: "use pattern matching" }]);
    assert.deepEqual(args, [{ uri: "u" }]);
  });

  it("appends it when the arguments are not an object", () => {
    assert.deepEqual(withInstruction(["u", 3], "x"), ["u", 3, { instruction: "x" }]);
    assert.deepEqual(withInstruction(undefined, "x"), [{ instruction: "x" }]);
  });

  it("leaves the arguments alone for an empty instruction", () => {
    assert.deepEqual(withInstruction([{ a: 1 }], "  "), [{ a: 1 }]);
  });
});
