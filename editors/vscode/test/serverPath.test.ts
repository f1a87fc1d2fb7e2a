import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NOT_FOUND_MESSAGE, resolveServerPath } from "../src/serverPath";

const base = { envPath: "/usr/local/bin:/opt/aiex/bin", platform: "linux" as const, home: "/home/u" };

describe("resolveServerPath", () => {
  it("uses aiex.serverPath when it points at an executable", () => {
    const r = resolveServerPath({ ...base, configured: "/x/aiex", isExecutable: (f) => f === "/x/aiex" });
    assert.deepEqual(r, { ok: true, path: "/x/aiex" });
  });

  it("expands ~ in aiex.serverPath", () => {
    const r = resolveServerPath({ ...base, configured: "~/bin/aiex", isExecutable: (f) => f === "/home/u/bin/aiex" });
    assert.deepEqual(r, { ok: true, path: "/home/u/bin/aiex" });
  });

  it("does not fall back to PATH when aiex.serverPath is wrong, and says how to fix it", () => {
    const r = resolveServerPath({ ...base, configured: "/nope/aiex", isExecutable: (f) => f === "/opt/aiex/bin/aiex" });
    assert.equal(r.ok, false);
    assert.match((r as { message: string }).message, /aiex\.serverPath is set to "\/nope\/aiex"/);
  });

  it("prefers the binary bundled in a platform package over PATH", () => {
    const r = resolveServerPath({
      ...base,
      configured: "",
      extensionPath: "/ext/aiex-0.1.0",
      isExecutable: (f) => f === "/ext/aiex-0.1.0/bin/aiex" || f === "/usr/local/bin/aiex",
    });
    assert.deepEqual(r, { ok: true, path: "/ext/aiex-0.1.0/bin/aiex" });
  });

  it("lets aiex.serverPath win over the bundled binary", () => {
    const r = resolveServerPath({
      ...base,
      configured: "/x/aiex",
      extensionPath: "/ext",
      isExecutable: () => true,
    });
    assert.deepEqual(r, { ok: true, path: "/x/aiex" });
  });

  it("falls back to PATH when the package carries no binary", () => {
    const r = resolveServerPath({ ...base, configured: "", extensionPath: "/ext", isExecutable: (f) => f === "/opt/aiex/bin/aiex" });
    assert.deepEqual(r, { ok: true, path: "/opt/aiex/bin/aiex" });
  });

  it("finds the bundled aiex.exe on Windows", () => {
    const r = resolveServerPath({
      configured: "",
      envPath: "",
      platform: "win32",
      home: "C:\\Users\\u",
      extensionPath: "C:\\ext",
      isExecutable: (f) => f === "C:\\ext\\bin\\aiex.exe",
    });
    assert.deepEqual(r, { ok: true, path: "C:\\ext\\bin\\aiex.exe" });
  });

  it("takes the first aiex on PATH", () => {
    const r = resolveServerPath({ ...base, configured: " ", isExecutable: (f) => f.endsWith("/aiex") });
    assert.deepEqual(r, { ok: true, path: "/usr/local/bin/aiex" });
  });

  it("finds aiex.exe on Windows PATH", () => {
    const r = resolveServerPath({
      configured: "",
      envPath: "C:\\tools;C:\\aiex",
      platform: "win32",
      home: "C:\\Users\\u",
      isExecutable: (f) => f === "C:\\aiex\\aiex.exe",
    });
    assert.deepEqual(r, { ok: true, path: "C:\\aiex\\aiex.exe" });
  });

  it("reports a missing binary with the fix", () => {
    const r = resolveServerPath({ ...base, configured: "", envPath: undefined, isExecutable: () => true });
    assert.deepEqual(r, { ok: false, message: NOT_FOUND_MESSAGE });
    assert.match(NOT_FOUND_MESSAGE, /set aiex\.serverPath or put aiex on PATH/);
  });
});
