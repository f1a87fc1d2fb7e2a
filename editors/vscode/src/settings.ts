// Maps the VS Code settings under `aiex.*` onto the configuration shape the
// server accepts as `initializationOptions` and through
// `workspace/didChangeConfiguration` (see the product brief):
//
//   { providers: { NAME: { kind, base_url, model, api_key_env, ... } },
//     features:  { completion: { providers: [...] }, explain: {...}, actions: {...} },
//     checks:    { ... } }
//
// Pure on purpose (no `vscode` import) so that it is unit-tested without VS Code.
// Only what the user actually set is sent: every key left out keeps the
// server's default, and `.aiex.toml` can still fill it in. The server is the
// one judge of values (unknown kinds, unknown keys): the client only converts
// names, drops values of the wrong JSON type, and refuses API keys written
// into settings.json, which would leak into synced settings.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** The `aiex` section as VS Code hands it over (unknown shapes, user-typed). */
export interface RawSettings {
  providers?: unknown;
  features?: unknown;
  checks?: unknown;
  completion?: { providers?: unknown };
  explain?: { providers?: unknown };
  actions?: { providers?: unknown };
}

export interface MappedSettings {
  /** The configuration to send to the server. */
  config: JsonObject;
  /** One human-readable line per setting that was dropped, naming the setting. */
  problems: string[];
}

/** The features whose provider order has a dedicated VS Code setting. */
export const FEATURES_WITH_PROVIDER_LISTS = ["completion", "explain", "actions"] as const;

/** Keys that would hold a secret; the server reads keys from the environment only. */
const SECRET_KEYS = new Set(["api_key", "apikey", "key", "token", "secret", "password"]);

/** `baseUrl` -> `base_url`; `base_url` and `kind` are left alone. */
export function snakeCase(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Deep copy into JSON, converting object keys to snake_case when asked. */
function toJson(value: unknown, snake: boolean): Json | undefined {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (Array.isArray(value)) {
    return value.map((v) => toJson(v, snake)).filter((v): v is Json => v !== undefined);
  }
  if (isPlainObject(value)) {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) {
      const converted = toJson(v, snake);
      if (converted !== undefined) out[snake ? snakeCase(k) : k] = converted;
    }
    return out;
  }
  return undefined; // functions, undefined, symbols: not JSON
}

function mapProviders(raw: unknown, problems: string[]): JsonObject | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isPlainObject(raw)) {
    problems.push("aiex.providers must be an object of named providers, e.g. { \"local\": { \"kind\": \"ollama\" } }; ignored");
    return undefined;
  }
  const providers: JsonObject = {};
  for (const [name, entry] of Object.entries(raw)) {
    if (!isPlainObject(entry)) {
      problems.push(`aiex.providers.${name} must be an object with at least "kind"; ignored`);
      continue;
    }
    const mapped = toJson(entry, true) as JsonObject;
    for (const key of Object.keys(mapped)) {
      if (SECRET_KEYS.has(key)) {
        delete mapped[key];
        problems.push(
          `aiex.providers.${name}.${key} was not sent: API keys are never read from settings; ` +
            `put the key in an environment variable and name it in aiex.providers.${name}.apiKeyEnv`,
        );
      }
    }
    providers[name] = mapped;
  }
  return Object.keys(providers).length > 0 ? providers : undefined;
}

function mapProviderList(setting: string, raw: unknown, problems: string[]): string[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw) || !raw.every((p): p is string => typeof p === "string" && p.length > 0)) {
    problems.push(`${setting} must be a list of provider names, e.g. ["local", "hosted"]; ignored`);
    return undefined;
  }
  // An empty list means "not set" (the settings UI default), not "no provider".
  return raw.length > 0 ? [...raw] : undefined;
}

/**
 * Build the server configuration from the `aiex` settings section.
 * `aiex.features` is the escape hatch for any feature key the UI has no
 * setting for (debounce, budgets...); the per-feature provider settings win
 * over a `providers` list written there.
 */
export function toServerConfig(raw: RawSettings | undefined): MappedSettings {
  const problems: string[] = [];
  const config: JsonObject = {};
  const settings = raw ?? {};

  const providers = mapProviders(settings.providers, problems);
  if (providers) config.providers = providers;

  let features: JsonObject = {};
  if (isPlainObject(settings.features)) {
    features = toJson(settings.features, true) as JsonObject;
  } else if (settings.features !== undefined && settings.features !== null) {
    problems.push("aiex.features must be an object keyed by feature name; ignored");
  }
  for (const feature of FEATURES_WITH_PROVIDER_LISTS) {
    const list = mapProviderList(`aiex.${feature}.providers`, settings[feature]?.providers, problems);
    if (!list) continue;
    const existing = features[feature];
    features[feature] = { ...(isPlainObject(existing) ? existing : {}), providers: list };
  }
  if (Object.keys(features).length > 0) config.features = features;

  if (isPlainObject(settings.checks)) {
    // Check names are identifiers chosen by the server: keep them verbatim.
    const checks = toJson(settings.checks, false) as JsonObject;
    if (Object.keys(checks).length > 0) config.checks = checks;
  } else if (settings.checks !== undefined && settings.checks !== null) {
    problems.push("aiex.checks must be an object keyed by check name; ignored");
  }

  return { config, problems };
}
