//! The `checks` section of the configuration: disabled and enabled checks, severity overrides,
//! complexity thresholds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::registry::{registry, CheckId, CheckInfo, Severity};

/// Thresholds of the complexity checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Maximum nesting depth of control structures in a function (`complexity/nesting`).
    pub nesting: u32,
    /// Maximum cyclomatic complexity of a function clause (`complexity/cyclomatic`).
    pub cyclomatic: u32,
    /// Maximum number of parameters (`complexity/arity`).
    pub arity: u32,
    /// Maximum lines of a function clause (`complexity/function-length`).
    pub function_lines: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            nesting: 2,
            cyclomatic: 9,
            arity: 8,
            function_lines: 50,
        }
    }
}

/// The `checks` section of the configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChecksConfig {
    /// Check IDs (or whole families such as `"readability"`) that never run.
    pub disabled: Vec<String>,
    /// Checks that are off by default and should run (IDs or families).
    pub enabled: Vec<String>,
    /// Severity overrides by check ID.
    pub severity: BTreeMap<String, Severity>,
    /// Thresholds of the complexity checks.
    pub thresholds: Thresholds,
    /// Require a `@spec` on public functions (turns on `readability/missing-spec`).
    pub spec_required: bool,
}

impl ChecksConfig {
    /// Problems with the configuration (unknown check IDs), as `key: message` lines that the
    /// configuration loader can show to the user. The rest of the configuration still applies.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (key, names) in [
            ("checks.disabled", &self.disabled),
            ("checks.enabled", &self.enabled),
        ] {
            for name in names.iter().filter(|n| selector_matches(n).is_none()) {
                problems.push(format!("{key}: unknown check ID or family `{name}`"));
            }
        }
        for name in self
            .severity
            .keys()
            .filter(|n| selector_matches(n).is_none())
        {
            problems.push(format!(
                "checks.severity: unknown check ID or family `{name}`"
            ));
        }
        problems
    }

    /// Whether a check runs under this configuration.
    pub fn is_enabled(&self, id: CheckId) -> bool {
        let info = id.info();
        let selected = |names: &[String]| names.iter().any(|n| selects(n, info));
        if selected(&self.disabled) {
            return false;
        }
        info.enabled_by_default
            || selected(&self.enabled)
            || (id == CheckId::MissingSpec && self.spec_required)
    }

    /// The severity of a check's findings under this configuration.
    pub fn severity_of(&self, id: CheckId) -> Severity {
        let info = id.info();
        self.severity
            .get(info.name)
            .or_else(|| self.severity.get(info.family()))
            .copied()
            .unwrap_or(info.default_severity)
    }
}

/// Whether a configuration selector (an ID or a family) names this check.
pub(super) fn selects(selector: &str, info: &CheckInfo) -> bool {
    selector == info.name || selector == info.family()
}

/// The checks a selector names, or `None` when it names none.
fn selector_matches(selector: &str) -> Option<usize> {
    let count = registry().iter().filter(|i| selects(selector, i)).count();
    (count > 0).then_some(count)
}
