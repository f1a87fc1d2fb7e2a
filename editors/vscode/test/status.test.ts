import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatCost, formatStatus } from "../src/status";

describe("formatStatus", () => {
  it("shows provider, state and today's cost", () => {
    const view = formatStatus(
      { providers: { local: { state: "closed", model: "qwen" }, hosted: { state: "open" } }, provider: "local", state: "ready", cache_hit_rate: 0.25 },
      { today: { cost_usd: 0.4321 } },
    );
    assert.equal(view.text, "$(sparkle) Aiex: local · ready · $0.43");
    assert.equal(view.warning, false);
    assert.match(view.tooltip, /local \(qwen\): ready/);
    assert.match(view.tooltip, /hosted: failing/);
    assert.match(view.tooltip, /cache hit rate: 25%/);
  });

  it("says ready, never the breaker state, for a provider whose breaker is closed", () => {
    const view = formatStatus({ providers: [{ name: "fake", breaker: "closed" }] });
    assert.equal(view.text, "$(sparkle) Aiex: fake · ready");
    assert.doesNotMatch(view.text + view.tooltip, /closed/);
  });

  it("says offline when every provider's breaker is open, degraded when some are", () => {
    const view = formatStatus({ providers: [{ name: "hosted", breaker: "open" }], cost_today_usd: 0 });
    assert.equal(view.text, "$(warning) Aiex: offline · $0.00");
    assert.equal(view.warning, true);
    const some = formatStatus({ providers: [{ name: "a", breaker: "open" }, { name: "b", breaker: "closed" }] });
    assert.equal(some.text, "$(warning) Aiex: a · degraded");
  });

  it("uses the server's own word when it sends one", () => {
    assert.equal(formatStatus({ state: "offline", providers: [{ name: "x", breaker: "closed" }] }).text, "$(warning) Aiex: offline");
    assert.equal(formatStatus({ state: "degraded", providers: [{ name: "x" }] }).text, "$(warning) Aiex: x · degraded");
  });

  it("says that AI features need a model when none is configured", () => {
    const view = formatStatus({ providers: {} });
    assert.equal(view.text, "$(warning) Aiex: offline");
    assert.match(view.tooltip, /AI features need a model/);
  });

  it("shows the reason when the status could not be fetched", () => {
    const view = formatStatus(undefined, undefined, "the server stopped");
    assert.equal(view.warning, true);
    assert.equal(view.tooltip, "Aiex: the server stopped");
  });

  it("never shows undefined for odd answers", () => {
    for (const odd of [{}, { providers: 3 }, { provider: 5, state: null }, { providers: [null, "x"] }]) {
      const view = formatStatus(odd, "nonsense");
      assert.doesNotMatch(view.text + view.tooltip, /undefined|NaN|\[object/);
    }
  });
});

describe("formatCost", () => {
  it("rounds to cents and shows tiny costs as <$0.01", () => {
    assert.equal(formatCost(1.005), "$1.00");
    assert.equal(formatCost(0.004), "<$0.01");
    assert.equal(formatCost(0), "$0.00");
  });
});
