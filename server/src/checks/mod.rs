//! Built-in checks: Credo- and Sobelow-style findings computed on the syntax tree.

use serde::{Deserialize, Serialize};

/// The `checks` section of the configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChecksConfig {
    /// Check IDs that never run.
    pub disabled: Vec<String>,
}
