//! The one secret detector: known key formats, secret-named values and high-entropy literals.
//!
//! Two front ends share the same rules: [`find_secrets`]/[`redact`] scan free text (prompt
//! redaction), [`classify_literal`]/[`is_secret_name`] judge one string literal found on the syntax
//! tree (the `security/hardcoded-secret` check). [`is_secret_path`] says which files are never read
//! into a prompt at all. Nothing here reads files or logs values.

use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;

/// What kind of secret a span holds; its [`SecretKind::id`] names the redaction placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretKind {
    /// An AWS access key ID (`AKIA...`).
    AwsAccessKey,
    /// A GitHub token (`ghp_...`, `github_pat_...`).
    GithubToken,
    /// A Slack token or incoming-webhook URL.
    SlackToken,
    /// A Stripe secret or restricted key (`sk_live_...`).
    StripeKey,
    /// A Google API key (`AIza...`).
    GoogleApiKey,
    /// An Anthropic API key (`sk-ant-...`).
    AnthropicKey,
    /// An OpenAI API key (`sk-...`, `sk-proj-...`).
    OpenAiKey,
    /// A JSON Web Token.
    Jwt,
    /// A PEM private key block.
    PrivateKey,
    /// The value of a secret-named setting (`password: "..."`, `secret_key_base = "..."`).
    SecretValue,
    /// A long, random-looking string literal.
    HighEntropy,
}

impl SecretKind {
    /// A stable, readable name, used in placeholders like `<redacted:aws-access-key>`.
    pub fn id(self) -> &'static str {
        match self {
            SecretKind::AwsAccessKey => "aws-access-key",
            SecretKind::GithubToken => "github-token",
            SecretKind::SlackToken => "slack-token",
            SecretKind::StripeKey => "stripe-key",
            SecretKind::GoogleApiKey => "google-api-key",
            SecretKind::AnthropicKey => "anthropic-key",
            SecretKind::OpenAiKey => "openai-key",
            SecretKind::Jwt => "jwt",
            SecretKind::PrivateKey => "private-key",
            SecretKind::SecretValue => "secret-value",
            SecretKind::HighEntropy => "high-entropy-string",
        }
    }

    /// A human description, for messages.
    pub fn description(self) -> &'static str {
        match self {
            SecretKind::AwsAccessKey => "an AWS access key",
            SecretKind::GithubToken => "a GitHub token",
            SecretKind::SlackToken => "a Slack token",
            SecretKind::StripeKey => "a Stripe secret key",
            SecretKind::GoogleApiKey => "a Google API key",
            SecretKind::AnthropicKey => "an Anthropic API key",
            SecretKind::OpenAiKey => "an OpenAI API key",
            SecretKind::Jwt => "a JSON Web Token",
            SecretKind::PrivateKey => "a private key",
            SecretKind::SecretValue => "a secret value",
            SecretKind::HighEntropy => "a random-looking secret",
        }
    }
}

/// A secret found in text: its kind and byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretSpan {
    /// What was found.
    pub kind: SecretKind,
    /// Start byte offset in the scanned text.
    pub start: usize,
    /// End byte offset (exclusive).
    pub end: usize,
}

/// Text with its secrets replaced by placeholders, and what was replaced (for the audit log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    /// The redacted text.
    pub text: String,
    /// The spans replaced, in the coordinates of the original text.
    pub spans: Vec<SecretSpan>,
}

struct Detectors {
    /// One regex of all known formats: a fast prefilter before the per-kind regexes run.
    any_known: Regex,
    known: Vec<(SecretKind, Regex)>,
    named_value: Regex,
    quoted: Regex,
}

const KNOWN: &[(SecretKind, &str)] = &[
    (
        SecretKind::PrivateKey,
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)",
    ),
    (
        SecretKind::AwsAccessKey,
        r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b",
    ),
    (
        SecretKind::GithubToken,
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
    ),
    (
        SecretKind::SlackToken,
        r"(?:\bxox[abposr]-[A-Za-z0-9-]{10,}|https://hooks\.slack\.com/services/[A-Za-z0-9/_]{16,})",
    ),
    (
        SecretKind::StripeKey,
        r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b",
    ),
    (SecretKind::GoogleApiKey, r"\bAIza[0-9A-Za-z_\-]{35}"),
    (SecretKind::AnthropicKey, r"\bsk-ant-[A-Za-z0-9_\-]{20,}"),
    (
        SecretKind::OpenAiKey,
        r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",
    ),
    (
        SecretKind::Jwt,
        r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
    ),
];

/// The words a setting's name ends with when its value is a secret.
const SECRET_NAME_SUFFIXES: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "secret_key",
    "secret_key_base",
    "api_key",
    "apikey",
    "token",
    "private_key",
    "client_secret",
    "access_key",
];

/// Names that end like a secret but are not one.
const NOT_SECRET_NAMES: &[&str] = &["csrf_token", "token_type", "secret_name", "password_field"];

fn detectors() -> &'static Detectors {
    static DETECTORS: OnceLock<Detectors> = OnceLock::new();
    DETECTORS.get_or_init(|| {
        // The patterns are constants covered by tests: a failure to compile is a programming
        // error caught by every test run, never a runtime condition.
        #[allow(clippy::expect_used)]
        let compile = |pattern: &str| Regex::new(pattern).expect("secret pattern compiles");
        let alternation = KNOWN
            .iter()
            .map(|(_, p)| format!("(?:{p})"))
            .collect::<Vec<_>>()
            .join("|");
        Detectors {
            any_known: compile(&alternation),
            known: KNOWN.iter().map(|(k, p)| (*k, compile(p))).collect(),
            named_value: compile(
                r#"(?i)\b([A-Za-z_][A-Za-z0-9_]*)["']?\s*(?::|=>|=)\s*["']([^"'\n]{1,512})["']"#,
            ),
            quoted: compile(r#""([^"\s\\]{20,512})""#),
        }
    })
}

/// Finds every secret in `text`, sorted by start, without overlaps (the earlier, then longer,
/// span wins).
pub fn find_secrets(text: &str) -> Vec<SecretSpan> {
    let d = detectors();
    let mut spans = Vec::new();
    if d.any_known.is_match(text) {
        for (kind, re) in &d.known {
            for m in re.find_iter(text) {
                spans.push(SecretSpan {
                    kind: *kind,
                    start: m.start(),
                    end: m.end(),
                });
            }
        }
    }
    for caps in d.named_value.captures_iter(text) {
        let (Some(name), Some(value)) = (caps.get(1), caps.get(2)) else {
            continue;
        };
        if is_secret_name(name.as_str()) && !looks_like_placeholder(value.as_str()) {
            spans.push(SecretSpan {
                kind: SecretKind::SecretValue,
                start: value.start(),
                end: value.end(),
            });
        }
    }
    for caps in d.quoted.captures_iter(text) {
        let Some(value) = caps.get(1) else { continue };
        if is_high_entropy(value.as_str()) {
            spans.push(SecretSpan {
                kind: SecretKind::HighEntropy,
                start: value.start(),
                end: value.end(),
            });
        }
    }
    spans.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut merged: Vec<SecretSpan> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start < last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
}

/// Replaces every secret in `text` by a placeholder such as `<redacted:aws-access-key>`.
pub fn redact(text: &str) -> Redacted {
    let spans = find_secrets(text);
    if spans.is_empty() {
        return Redacted {
            text: text.to_owned(),
            spans,
        };
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for span in &spans {
        out.push_str(&text[at..span.start]);
        out.push_str("<redacted:");
        out.push_str(span.kind.id());
        out.push('>');
        at = span.end;
    }
    out.push_str(&text[at..]);
    Redacted { text: out, spans }
}

/// The known key format contained in one string literal's value, if any (not the
/// named-value or entropy rules, which need the literal's context).
pub fn classify_literal(value: &str) -> Option<SecretKind> {
    if value.len() < 16 {
        return None;
    }
    let d = detectors();
    if !d.any_known.is_match(value) {
        return None;
    }
    d.known
        .iter()
        .find(|(_, re)| re.is_match(value))
        .map(|(kind, _)| *kind)
}

/// Whether a setting, key or variable with this name holds a secret (`password`,
/// `db_password`, `secret_key_base`, `GITHUB_TOKEN`...). `password_hash` or `token_ttl` do not.
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.trim_start_matches('@').to_ascii_lowercase();
    if NOT_SECRET_NAMES.contains(&lower.as_str()) {
        return false;
    }
    SECRET_NAME_SUFFIXES.iter().any(|suffix| {
        lower == *suffix
            || lower
                .strip_suffix(suffix)
                .is_some_and(|rest| rest.ends_with('_'))
    })
}

/// Whether a value is an obvious placeholder rather than a secret (empty, `${VAR}`, `<...>`,
/// `xxxx`, `changeme`-style examples).
pub fn looks_like_placeholder(value: &str) -> bool {
    let v = value.trim();
    if v.is_empty() {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    if lower.contains("example") || lower.contains("placeholder") || lower.starts_with("your_") {
        return true;
    }
    if v.starts_with("${") || (v.starts_with('<') && v.ends_with('>')) || v.starts_with("#{") {
        return true;
    }
    let mut chars = v.chars();
    let first = chars.next();
    v.len() >= 3 && chars.all(|c| Some(c) == first) && matches!(first, Some('x' | 'X' | '*' | '.'))
}

/// Shannon entropy of a string, in bits per character.
pub fn shannon_entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    let bytes = s.as_bytes();
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let len = bytes.len() as f64;
    if len == 0.0 {
        return 0.0;
    }
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

/// Whether a literal looks like a random token: long, no spaces, letters and digits mixed, and
/// high entropy (hex strings are judged on their own, lower, scale). Paths and dotted names are not.
pub fn is_high_entropy(value: &str) -> bool {
    if value.len() < 20 || value.chars().any(char::is_whitespace) {
        return false;
    }
    if value.contains("://") || value.matches('/').count() > 2 || value.matches('.').count() > 2 {
        return false;
    }
    let has_digit = value.bytes().any(|b| b.is_ascii_digit());
    let has_alpha = value.bytes().any(|b| b.is_ascii_alphabetic());
    if !has_digit || !has_alpha {
        return false;
    }
    let entropy = shannon_entropy(value);
    if value.len() >= 32 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return entropy >= 3.0;
    }
    entropy >= 4.2
}

/// Whether a file must never be read into a prompt: `.env*`, `*.pem`, `*.key`, `*.p12`, `*.pfx`,
/// SSH private keys, and `config/*secret*`.
pub fn is_secret_path(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let lower = name.to_ascii_lowercase();
    if lower == ".env" || lower.starts_with(".env.") || lower.starts_with(".envrc") {
        return true;
    }
    if [".pem", ".key", ".p12", ".pfx", ".keystore", ".jks"]
        .iter()
        .any(|ext| lower.ends_with(ext))
    {
        return true;
    }
    if lower.starts_with("id_rsa")
        || lower.starts_with("id_ed25519")
        || lower.starts_with("id_ecdsa")
    {
        return true;
    }
    let in_config = path
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|p| p == "config");
    in_config && lower.contains("secret")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(text: &str) -> String {
        redact(text).text
    }

    #[test]
    fn redacts_known_formats() {
        let cases = [
            ("key = \"AKIAIOSFODNN7ABCDEFG\"", "key = \"<redacted:aws-access-key>\""),
            (
                "GH ghp_abcdefghijklmnopqrstuvwxyz0123456789 end",
                "GH <redacted:github-token> end",
            ),
            (
                "slack: xoxb-1234567890-abcdefghij",
                "slack: <redacted:slack-token>",
            ),
            (
                "Stripe.key(\"sk_live_4eC39HqLyjWDarjtT1zdp7dc\")",
                "Stripe.key(\"<redacted:stripe-key>\")",
            ),
            (
                "AIzaSyA1234567890abcdefghijklmnopqrstuv",
                "<redacted:google-api-key>",
            ),
            (
                "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
                "<redacted:anthropic-key>",
            ),
            (
                "sk-proj-abcdefghijklmnopqrstuvwxyz123456",
                "<redacted:openai-key>",
            ),
            (
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                "<redacted:jwt>",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(show(input), expected, "input: {input}");
        }
    }

    #[test]
    fn redacts_private_key_blocks_whole() {
        let text = "before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\ndef\n-----END RSA PRIVATE KEY-----\nafter";
        assert_eq!(show(text), "before\n<redacted:private-key>\nafter");
        let unterminated = "x\n-----BEGIN PRIVATE KEY-----\nMIIE";
        assert_eq!(show(unterminated), "x\n<redacted:private-key>");
    }

    #[test]
    fn redacts_secret_named_values_in_config() {
        let text = r#"config :app, MyAppWeb.Endpoint,
  secret_key_base: "s3cr3tbase",
  db_password: "hunter2",
  password_hash: "not-a-secret",
  label: "password"
"#;
        let expected = r#"config :app, MyAppWeb.Endpoint,
  secret_key_base: "<redacted:secret-value>",
  db_password: "<redacted:secret-value>",
  password_hash: "not-a-secret",
  label: "password"
"#;
        assert_eq!(show(text), expected);
        assert_eq!(
            show(r#"API_TOKEN = "abc123""#),
            r#"API_TOKEN = "<redacted:secret-value>""#
        );
        assert_eq!(
            show(r#"%{"password" => "pw1"}"#),
            r#"%{"password" => "<redacted:secret-value>"}"#
        );
    }

    #[test]
    fn redacts_high_entropy_literals_but_not_ordinary_strings() {
        assert_eq!(
            show(r#"@signing "q8Zr2LmX0pT7vB4nW9kY3cH6jF1sD5gA""#),
            r#"@signing "<redacted:high-entropy-string>""#
        );
        let ordinary = r#"path = "lib/my_app/accounts/user_token.ex"
name = "MyAppWeb.UserSessionController"
msg = "the_quick_brown_fox_jumps_over"
uuid = "550e8400-e29b-41d4-a716-446655440000""#;
        assert_eq!(show(ordinary), ordinary);
    }

    #[test]
    fn leaves_placeholders_and_env_lookups() {
        let text = r#"password: System.get_env("DB_PASSWORD"),
api_key: "",
token: "${TOKEN}",
secret: "your_secret_here",
aws: "AKIAIOSFODNN7EXAMPLE""#;
        // The AWS documentation's example key is still a key format: it is redacted.
        let expected = r#"password: System.get_env("DB_PASSWORD"),
api_key: "",
token: "${TOKEN}",
secret: "your_secret_here",
aws: "<redacted:aws-access-key>""#;
        assert_eq!(show(text), expected);
    }

    #[test]
    fn reports_spans_in_original_coordinates() {
        let text = "a AKIAIOSFODNN7ABCDEFG b";
        let r = redact(text);
        assert_eq!(r.spans.len(), 1);
        assert_eq!(
            &text[r.spans[0].start..r.spans[0].end],
            "AKIAIOSFODNN7ABCDEFG"
        );
    }

    #[test]
    fn secret_names() {
        for yes in [
            "password",
            "db_password",
            "secret_key_base",
            "API_KEY",
            "github_token",
            "@api_key",
            "client_secret",
        ] {
            assert!(is_secret_name(yes), "{yes}");
        }
        for no in [
            "password_hash",
            "token_ttl",
            "csrf_token",
            "passwords_enabled",
            "stoken",
            "key",
            "mypassword",
        ] {
            assert!(!is_secret_name(no), "{no}");
        }
    }

    #[test]
    fn classifies_literals() {
        assert_eq!(
            classify_literal("AKIAIOSFODNN7ABCDEFG"),
            Some(SecretKind::AwsAccessKey)
        );
        assert_eq!(
            classify_literal("sk-ant-api03-abcdefghijklmnopqrstuvwxyz"),
            Some(SecretKind::AnthropicKey)
        );
        assert_eq!(classify_literal("hello world, this is text"), None);
        assert_eq!(classify_literal("short"), None);
    }

    #[test]
    fn secret_paths() {
        for yes in [
            ".env",
            ".env.local",
            "certs/server.pem",
            "priv/keys/app.key",
            "config/prod.secret.exs",
            "apps/web/config/secrets.exs",
            "id_rsa",
        ] {
            assert!(is_secret_path(Path::new(yes)), "{yes}");
        }
        for no in [
            "lib/env.ex",
            "config/prod.exs",
            "lib/secret_santa.ex",
            "key.ex",
            "environment.exs",
        ] {
            assert!(!is_secret_path(Path::new(no)), "{no}");
        }
    }
}
