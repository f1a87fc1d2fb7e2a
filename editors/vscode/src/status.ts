// Turns the answers of the server's `aiex.status` and `aiex.usage` commands
// into the status bar text and tooltip. Pure, so that it is unit-tested.
//
// The server's answer is read defensively: fields that are missing or of an
// unexpected type are skipped rather than shown as "undefined", so a newer or
// older server never breaks the status bar.

export interface StatusView {
  text: string;
  tooltip: string;
  /** True when the bar should draw attention (no provider, breaker open...). */
  warning: boolean;
}

type Obj = Record<string, unknown>;

function obj(value: unknown): Obj | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Obj) : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** States that mean the provider cannot currently serve requests. */
const BAD_STATES = new Set(["open", "down", "unavailable", "error", "unconfigured", "none", "offline"]);

/** How AI features stand, in the words the status bar shows. */
export type Availability = "ready" | "degraded" | "offline";

/**
 * The overall word from the providers' states, for a server that does not send its own
 * `state`: a breaker state (`closed`, `half_open`, `open`) is the server's machinery, and
 * `closed` read as a fault in the status bar.
 */
export function availabilityOf(states: (string | undefined)[]): Availability {
  if (states.length === 0) return "offline";
  const bad = states.filter((s) => s !== undefined && BAD_STATES.has(s.toLowerCase())).length;
  if (bad === 0) return "ready";
  return bad === states.length ? "offline" : "degraded";
}

/** One provider's state, as a user reads it. */
function describeState(state: string | undefined): string {
  switch (state?.toLowerCase()) {
    case undefined:
      return "unknown";
    case "closed":
      return "ready";
    case "half_open":
    case "halfopen":
    case "half-open":
      return "recovering (trying one request)";
    case "open":
      return "failing: requests paused for a moment";
    default:
      return state ?? "unknown";
  }
}

interface ProviderLine {
  name: string;
  state?: string;
  model?: string;
}

/** Providers may come as a map `{name: {...}}` or a list `[{name, ...}]`. */
function providerLines(status: Obj): ProviderLine[] {
  const raw = status["providers"];
  const entries: [string, Obj][] = [];
  if (Array.isArray(raw)) {
    raw.forEach((p, i) => {
      const o = obj(p);
      if (o) entries.push([str(o["name"]) ?? `#${i + 1}`, o]);
    });
  } else {
    const o = obj(raw);
    if (o) for (const [k, v] of Object.entries(o)) entries.push([k, obj(v) ?? { state: v }]);
  }
  return entries.map(([name, p]) => ({
    name,
    state: str(p["state"]) ?? str(p["breaker"]) ?? str(p["status"]),
    model: str(p["model"]),
  }));
}

/** Cost today in USD, from `aiex.usage` or, failing that, from `aiex.status`. */
function costToday(usage: Obj | undefined, status: Obj): number | undefined {
  for (const source of [usage, status]) {
    if (!source) continue;
    const today = obj(source["today"]);
    const value =
      num(source["cost_today_usd"]) ??
      num(source["cost_today"]) ??
      num(today?.["cost_usd"]) ??
      num(today?.["cost"]);
    if (value !== undefined) return value;
  }
  return undefined;
}

export function formatCost(usd: number): string {
  return usd < 0.01 && usd > 0 ? "<$0.01" : `$${usd.toFixed(2)}`;
}

/**
 * @param status the result of `aiex.status` (undefined when the call failed)
 * @param usage  the result of `aiex.usage` (optional)
 * @param error  why the status could not be fetched, if it could not
 */
export function formatStatus(status: unknown, usage?: unknown, error?: string): StatusView {
  const s = obj(status);
  if (!s) {
    return {
      text: "$(warning) Aiex",
      tooltip: error ? `Aiex: ${error}` : "Aiex: the server did not report its status",
      warning: true,
    };
  }
  const providers = providerLines(s);
  const active = str(s["provider"]) ?? str(s["active_provider"]) ?? providers[0]?.name;
  const activeLine = providers.find((p) => p.name === active);
  const sent = str(s["state"]);
  const state: Availability =
    sent === "ready" || sent === "degraded" || sent === "offline"
      ? sent
      : availabilityOf(providers.map((p) => p.state));
  const cost = costToday(obj(usage), s);

  const parts: string[] = state === "offline" || !active ? [state] : [active, state];
  if (cost !== undefined) parts.push(formatCost(cost));
  const warning = state !== "ready";
  const text = `${warning ? "$(warning)" : "$(sparkle)"} Aiex: ${parts.join(" · ")}`;

  const tooltip: string[] = [];
  if (activeLine === undefined && active) tooltip.push(`provider: ${active}`);
  for (const p of providers) {
    tooltip.push(`${p.name}${p.model ? ` (${p.model})` : ""}: ${describeState(p.state)}`);
  }
  const hitRate = num(s["cache_hit_rate"]) ?? num(obj(s["cache"])?.["hit_rate"]);
  if (hitRate !== undefined) tooltip.push(`cache hit rate: ${Math.round(hitRate * 100)}%`);
  if (cost !== undefined) tooltip.push(`cost today: ${formatCost(cost)}`);
  if (state === "offline") tooltip.push("AI features need a model: configure aiex.providers or run Ollama (see the Aiex README).");
  tooltip.push("Click to refresh.");
  return { text, tooltip: tooltip.join("\n"), warning };
}
