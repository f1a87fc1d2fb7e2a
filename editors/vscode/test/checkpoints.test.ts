import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  checkpointItem, comparisonText, isChangedSinceRefusal, readCheckpoints, readComparison, restoreArguments,
} from "../src/checkpoints";

describe("readCheckpoints", () => {
  it("reads the server's list in its order (newest first), with each file's path", () => {
    const raw = [
      { id: 7, session: 2, name: "Aiex chat: add farewell", created_ms: 1, files: [{ path: "/w/lib/a.ex", existed: true }, { path: "/w/lib/b.ex", existed: false }] },
      { id: 6, session: null, name: "Add docs", created_ms: 0, files: [{ path: "/w/lib/a.ex", existed: true }] },
    ];
    assert.deepEqual(readCheckpoints(raw), [
      { id: 7, name: "Aiex chat: add farewell", files: ["/w/lib/a.ex", "/w/lib/b.ex"] },
      { id: 6, name: "Add docs", files: ["/w/lib/a.ex"] },
    ]);
  });

  it("drops what is malformed rather than failing (no id, not an object, not a list)", () => {
    assert.deepEqual(readCheckpoints([{ name: "no id" }, null, 3, { id: 2, files: [{}, { path: 4 }] }]), [{ id: 2, name: "", files: [] }]);
    assert.deepEqual(readCheckpoints(null), []);
    assert.deepEqual(readCheckpoints({ id: 1 }), []);
  });
});

describe("checkpointItem", () => {
  it("leads with the id (labels stay distinct) and lists the files, relative when asked", () => {
    const item = checkpointItem({ id: 3, name: "Refactor greet/1", files: ["/w/lib/a.ex", "/w/lib/b.ex"] }, (p) => p.replace("/w/", ""));
    assert.deepEqual(item, { label: "3  Refactor greet/1", description: "lib/a.ex, lib/b.ex", checkpoint: 3 });
  });
});

describe("comparisonText", () => {
  it("joins each file's diff, and says when a file is as the checkpoint recorded it", () => {
    const files = readComparison([
      { path: "/w/lib/a.ex", diff: "--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y" },
      { path: "/w/lib/b.ex", diff: "" },
      { diff: "no path" },
    ]);
    assert.equal(comparisonText(files), "--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n(/w/lib/b.ex is as the checkpoint recorded it)\n");
    assert.equal(comparisonText(readComparison(undefined)), "");
  });
});

describe("restoreArguments", () => {
  it("sends force only when forcing, as aiex.restoreCheckpoint {checkpoint, force?} expects", () => {
    assert.deepEqual(restoreArguments(5, false), [{ checkpoint: 5 }]);
    assert.deepEqual(restoreArguments(5, true), [{ checkpoint: 5, force: true }]);
  });
});

describe("isChangedSinceRefusal", () => {
  it("recognises the server's refusal over later changes, and nothing else", () => {
    assert.ok(isChangedSinceRefusal("/w/lib/a.ex changed since the last AI edit of it; restoring would lose those changes (compare first, or force the restore)"));
    assert.ok(!isChangedSinceRefusal("checkpoints: no checkpoint 9"));
  });
});
