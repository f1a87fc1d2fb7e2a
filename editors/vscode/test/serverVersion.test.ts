import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ClientCapabilities } from "vscode-languageclient";
import { minimumVersionFeature } from "../src/serverVersion";

describe("minimumVersionFeature", () => {
  it("states the minimum server version in experimental capabilities, keeping the others", () => {
    const capabilities: ClientCapabilities = { experimental: { other: true } };
    minimumVersionFeature("0.2.0").fillClientCapabilities(capabilities);
    assert.deepEqual(capabilities.experimental, { other: true, aiex: { minimumServerVersion: "0.2.0" } });
  });

  it("creates the experimental section when the client had none", () => {
    const capabilities: ClientCapabilities = {};
    minimumVersionFeature("0.1.0").fillClientCapabilities(capabilities);
    assert.deepEqual(capabilities.experimental, { aiex: { minimumServerVersion: "0.1.0" } });
  });
});
