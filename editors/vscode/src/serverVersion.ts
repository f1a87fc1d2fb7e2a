// Tells the server the oldest version this package works with, in the client
// capabilities (`experimental.aiex.minimumServerVersion`): an older binary
// (one on PATH, or set in aiex.serverPath) then says so in a message, and the
// user knows to update it. The package and the server are released together,
// so the minimum is the package's own version.

import type { ClientCapabilities, FeatureState, StaticFeature } from "vscode-languageclient";

export function minimumVersionFeature(version: string): StaticFeature {
  return {
    fillClientCapabilities(capabilities: ClientCapabilities): void {
      const experimental = (capabilities.experimental ?? {}) as Record<string, unknown>;
      capabilities.experimental = { ...experimental, aiex: { minimumServerVersion: version } };
    },
    initialize(): void {},
    getState(): FeatureState {
      return { kind: "static" };
    },
    clear(): void {},
  };
}
