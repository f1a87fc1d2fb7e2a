//! What this binary is: version, commit and build date (stamped by `build.rs`), and whether it
//! is as new as an editor package needs.

use std::cmp::Ordering;
use std::fmt;

/// The crate version, e.g. `0.1.0`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The commit built (`unknown` when built from a tarball without git or `AIEX_BUILD_COMMIT`).
pub const COMMIT: &str = env!("AIEX_COMMIT");
/// The build date, `YYYY-MM-DD` (UTC; `SOURCE_DATE_EPOCH` when the build set it).
pub const BUILD_DATE: &str = env!("AIEX_BUILD_DATE");
/// The target triple the binary was built for.
pub const TARGET: &str = env!("AIEX_TARGET");

/// What `aiex --version` prints after the name: `0.1.0 (commit 1a2b3c4d5e6f, built 2026-12-01,
/// x86_64-unknown-linux-musl)`.
pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("AIEX_COMMIT"),
    ", built ",
    env!("AIEX_BUILD_DATE"),
    ", ",
    env!("AIEX_TARGET"),
    ")"
);

/// A `major.minor.patch` version; a pre-release or build suffix (`-rc.1`, `+abc`) is ignored
/// for the comparison, which only has to tell "older than needed".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
}

impl Version {
    /// Parses `1`, `1.2` or `1.2.3` (with an optional leading `v` and any suffix after `-`/`+`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let core = text.strip_prefix('v').unwrap_or(text);
        let core = core.split(['-', '+']).next().unwrap_or_default();
        let mut parts = core.split('.');
        let mut next = |name: &str, required: bool| -> Result<u64, String> {
            match parts.next() {
                Some(part) => part
                    .parse()
                    .map_err(|_| format!("`{text}` is not a version: its {name} is not a number")),
                None if required => Err(format!("`{text}` is not a version")),
                None => Ok(0),
            }
        };
        let version = Self {
            major: next("major part", true)?,
            minor: next("minor part", false)?,
            patch: next("patch part", false)?,
        };
        if parts.next().is_some() {
            return Err(format!("`{text}` is not a version: more than three parts"));
        }
        Ok(version)
    }

    /// This binary's version.
    pub fn current() -> Self {
        Self::parse(VERSION).expect("the crate version is a version")
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The message to show when `running` is older than the `required` version an editor package
/// asked for; `None` when it is new enough. A requirement that is not a version is reported
/// too, rather than ignored: it is a packaging bug someone should see.
pub fn too_old_message(running: Version, required: &str) -> Option<String> {
    match Version::parse(required) {
        Err(error) => Some(format!(
            "the editor package asks for aiex version {required:?}, which cannot be read ({error}); \
             this is aiex {running}"
        )),
        Ok(required) => match running.cmp(&required) {
            Ordering::Less => Some(format!(
                "aiex {running} is older than this editor package needs ({required} or newer): \
                 some features will be missing or fail. Update the aiex binary (the editor \
                 package's install command, or a release archive) or point the package at a \
                 newer one."
            )),
            Ordering::Equal | Ordering::Greater => None,
        },
    }
}

/// The `initializationOptions` key under which a client that cannot add client capabilities
/// names the version it needs: Zed's extension API gives an extension the initialization
/// options only. The server takes it out before reading the options as configuration.
pub const REQUIREMENT_OPTION: &str = "minimumServerVersion";

/// Takes the editor package's version requirement out of the initialization options (so the
/// configuration does not report it as an unknown key).
pub fn take_requirement_option(
    options: &mut Option<serde_json::Value>,
) -> Option<serde_json::Value> {
    options
        .as_mut()?
        .as_object_mut()?
        .remove(REQUIREMENT_OPTION)
}

/// The message for a client whose editor package needs a newer binary: the package says so in
/// its client capabilities, `experimental.aiex.minimumServerVersion` (outside the
/// configuration, which the user edits), or, when it cannot add capabilities, in the
/// initialization options (`REQUIREMENT_OPTION`, taken out by `take_requirement_option`);
/// the capability wins. `None` when both are absent or the requirement is met.
pub fn client_requirement_notice(
    experimental: Option<&serde_json::Value>,
    from_options: Option<&serde_json::Value>,
) -> Option<String> {
    let required = experimental
        .and_then(|e| e.get("aiex")?.get("minimumServerVersion"))
        .or(from_options)?;
    match required.as_str() {
        Some(required) => too_old_message(Version::current(), required),
        None => too_old_message(Version::current(), &required.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_number_not_by_text() {
        let v = |text| Version::parse(text).unwrap();
        assert!(v("0.10.0") > v("0.9.9"));
        assert!(v("1") == v("1.0.0"));
        assert!(v("v1.2.3-rc.1") == v("1.2.3"));
        assert!(v("1.2.3+abc") < v("1.2.4"));
        assert!(Version::parse("1.x").is_err());
        assert!(Version::parse("").is_err());
        assert!(Version::parse("1.2.3.4").is_err());
    }

    #[test]
    fn only_an_older_binary_gets_a_message() {
        let running = Version::parse("0.3.1").unwrap();
        assert_eq!(too_old_message(running, "0.3.0"), None);
        assert_eq!(too_old_message(running, "0.3.1"), None);
        let message = too_old_message(running, "0.4.0").expect("older");
        assert!(message.contains("aiex 0.3.1 is older"), "{message}");
        assert!(message.contains("0.4.0 or newer"), "{message}");
        let garbled = too_old_message(running, "latest").expect("unreadable requirement");
        assert!(garbled.contains("cannot be read"), "{garbled}");
    }

    #[test]
    fn a_client_states_its_requirement_in_experimental_capabilities() {
        let needs = |version: &str| serde_json::json!({"aiex": {"minimumServerVersion": version}});
        assert_eq!(client_requirement_notice(None, None), None);
        assert_eq!(
            client_requirement_notice(Some(&serde_json::json!({})), None),
            None
        );
        assert_eq!(client_requirement_notice(Some(&needs(VERSION)), None), None);
        let notice = client_requirement_notice(Some(&needs("999.0.0")), None).expect("too old");
        assert!(
            notice.contains(&format!("aiex {VERSION} is older")),
            "{notice}"
        );
        let number = serde_json::json!({"aiex": {"minimumServerVersion": 2}});
        assert!(client_requirement_notice(Some(&number), None).is_some());
    }

    #[test]
    fn a_client_without_capabilities_of_its_own_states_it_in_the_initialization_options() {
        let mut options = Some(serde_json::json!({
            "minimumServerVersion": "999.0.0",
            "features": { "completion": { "enabled": false } }
        }));
        let taken = take_requirement_option(&mut options);
        assert_eq!(taken, Some(serde_json::json!("999.0.0")));
        assert_eq!(
            options,
            Some(serde_json::json!({ "features": { "completion": { "enabled": false } } })),
            "the configuration left without the requirement"
        );
        let notice = client_requirement_notice(None, taken.as_ref()).expect("too old");
        assert!(notice.contains("999.0.0 or newer"), "{notice}");
        // The capability wins over the option.
        let met = serde_json::json!({"aiex": {"minimumServerVersion": VERSION}});
        assert_eq!(client_requirement_notice(Some(&met), taken.as_ref()), None);
        assert_eq!(take_requirement_option(&mut None), None);
        assert_eq!(
            take_requirement_option(&mut Some(serde_json::json!([1]))),
            None
        );
    }

    #[test]
    fn the_long_version_names_commit_date_and_target() {
        assert!(LONG.starts_with(VERSION));
        assert!(LONG.contains(&format!("commit {COMMIT}")));
        assert_eq!(BUILD_DATE.len(), "2026-12-01".len(), "{BUILD_DATE}");
        assert!(!TARGET.is_empty());
    }
}
