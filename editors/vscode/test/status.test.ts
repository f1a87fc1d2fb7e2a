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
    assert.match(view.tooltip, /local \(qwen\): closed/);
    assert.match(view.tooltip, /hosted: open/);
    assert.match(view.tooltip, /cache hit rate: 25%/);
  });

  it("reads a provider list and the first provider's breaker state", () => {
    const view = formatStatus({ providers: [{ name: "hosted", breaker: "open" }], cost_today_usd: 0 });
    assert.equal(view.text, "$(warning) Aiex: hosted · open · $0.00");
    assert.equal(view.warning, true);
  });

  it("says that AI features need a provider when none is configured", () => {
    const view = formatStatus({ providers: {} });
    assert.equal(view.text, "$(warning) Aiex: offline · offline");
    assert.match(view.tooltip, /AI features need a provider/);
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
