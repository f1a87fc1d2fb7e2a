import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogRouter } from "../src/serverLog";

describe("createLogRouter", () => {
  it("logs each tracing line at its own level, without its timestamp", () => {
    const route = createLogRouter();
    assert.deepEqual(route("2026-12-01T05:39:17.123456Z  INFO aiex::lsp::server: initialize"), {
      level: "info",
      text: "aiex::lsp::server: initialize",
    });
    assert.equal(route("2026-12-01T05:39:17.123456Z DEBUG aiex: x")?.level, "debug");
    assert.equal(route("2026-12-01T05:39:17.123456Z  WARN aiex::config: bad key")?.level, "warn");
    assert.equal(route("2026-12-01T05:39:17.123456Z ERROR aiex: boom")?.level, "error");
    assert.equal(route("2026-12-01T05:39:17.123456Z TRACE aiex: fine")?.level, "trace");
  });

  it("keeps the level of the line before for continuation lines", () => {
    const route = createLogRouter();
    route("2026-12-01T05:39:17Z  WARN aiex: two lines");
    assert.deepEqual(route("  the second"), { level: "warn", text: "  the second" });
  });

  it("reports a panic as an error and skips blank lines", () => {
    const route = createLogRouter();
    assert.equal(route("thread 'main' panicked at src/main.rs:1:1:")?.level, "error");
    assert.equal(route("   \r"), undefined);
  });

  it("logs a first line without a level as info, never as an error", () => {
    assert.equal(createLogRouter()("aiex 0.1.0")?.level, "info");
  });
});
