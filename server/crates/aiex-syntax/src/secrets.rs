//! The one secret detector: known key formats, URL credentials, secret-named values, secret
//! files and high-entropy literals.
//!
//! Two front ends share the same rules: [`find_secrets`]/[`redact`] scan free text (prompt
//! redaction), [`classify_literal`]/[`is_secret_name`] judge one string literal found on the syntax
//! tree (the `security/hardcoded-secret` check). [`is_secret_path`] (by name),
//! [`is_secret_text`] (by content) and [`is_secret_file`] (name, symlink target and the first
//! bytes on disk) say which files are never read into a prompt at all. Only [`is_secret_file`]
//! touches the file system; nothing here logs values.
//!
//! Scanning is linear in the text (the `regex` crate has no backtracking); adjacent string
//! literals joined with `<>` are judged as the one string they build, so a key written in pieces
//! is still found.

use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;

/// What kind of secret a span holds; its [`SecretKind::id`] names the redaction placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretKind {
    /// An AWS access key ID (`AKIA...`).
    AwsAccessKey,
    /// An AWS secret access key (40 characters of base64, `/` and `+` included).
    AwsSecretKey,
    /// A GitHub token (`ghp_...`, `github_pat_...`).
    GithubToken,
    /// A GitLab token (`glpat-...`).
    GitlabToken,
    /// A Slack token or incoming-webhook URL.
    SlackToken,
    /// A Stripe secret, restricted or webhook key (`sk_live_...`, `whsec_...`).
    StripeKey,
    /// A Google API key (`AIza...`).
    GoogleApiKey,
    /// An Azure storage key, shared access key or client secret.
    AzureKey,
    /// An npm or PyPI publishing token.
    PackageToken,
    /// A Twilio, SendGrid, Mailgun or similar service key.
    ServiceKey,
    /// A Hugging Face token (`hf_...`).
    HuggingFaceToken,
    /// An Anthropic API key (`sk-ant-...`).
    AnthropicKey,
    /// An OpenAI API key (`sk-...`, `sk-proj-...`).
    OpenAiKey,
    /// A JSON Web Token.
    Jwt,
    /// A PEM private key block.
    PrivateKey,
    /// The password of a URL (`postgres://user:pass@host/db`).
    UrlPassword,
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
            SecretKind::AwsSecretKey => "aws-secret-key",
            SecretKind::GithubToken => "github-token",
            SecretKind::GitlabToken => "gitlab-token",
            SecretKind::SlackToken => "slack-token",
            SecretKind::StripeKey => "stripe-key",
            SecretKind::GoogleApiKey => "google-api-key",
            SecretKind::AzureKey => "azure-key",
            SecretKind::PackageToken => "package-token",
            SecretKind::ServiceKey => "service-key",
            SecretKind::HuggingFaceToken => "huggingface-token",
            SecretKind::AnthropicKey => "anthropic-key",
            SecretKind::OpenAiKey => "openai-key",
            SecretKind::Jwt => "jwt",
            SecretKind::PrivateKey => "private-key",
            SecretKind::UrlPassword => "url-password",
            SecretKind::SecretValue => "secret-value",
            SecretKind::HighEntropy => "high-entropy-string",
        }
    }

    /// A human description, for messages.
    pub fn description(self) -> &'static str {
        match self {
            SecretKind::AwsAccessKey => "an AWS access key",
            SecretKind::AwsSecretKey => "an AWS secret access key",
            SecretKind::GithubToken => "a GitHub token",
            SecretKind::GitlabToken => "a GitLab token",
            SecretKind::SlackToken => "a Slack token",
            SecretKind::StripeKey => "a Stripe secret key",
            SecretKind::GoogleApiKey => "a Google API key",
            SecretKind::AzureKey => "an Azure key",
            SecretKind::PackageToken => "a package registry token",
            SecretKind::ServiceKey => "a service API key",
            SecretKind::HuggingFaceToken => "a Hugging Face token",
            SecretKind::AnthropicKey => "an Anthropic API key",
            SecretKind::OpenAiKey => "an OpenAI API key",
            SecretKind::Jwt => "a JSON Web Token",
            SecretKind::PrivateKey => "a private key",
            SecretKind::UrlPassword => "a password in a URL",
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
    /// A string literal, or several joined with `<>`: the values [`setting_name`] names.
    literal_run: Regex,
    /// `NAME=value` lines of dotenv files and shell scripts (upper-case names only: Elixir
    /// cannot assign to those, so code is never taken for one).
    env_line: Regex,
    /// A URL's password: `scheme://user:password@host`.
    url_password: Regex,
    /// A candidate AWS secret key: 40 base64 characters standing alone.
    aws_secret: Regex,
    /// Two or more string literals joined with `<>`.
    concatenated: Regex,
    quoted: Regex,
}

const KNOWN: &[(SecretKind, &str)] = &[
    (
        SecretKind::PrivateKey,
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)",
    ),
    (
        SecretKind::AwsAccessKey,
        r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b",
    ),
    (
        SecretKind::GithubToken,
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
    ),
    (
        SecretKind::GitlabToken,
        r"\bgl(?:pat|dt|rt|ptt|cbt|soat|ft|imt|oas)-[A-Za-z0-9_\-]{20,}",
    ),
    (
        SecretKind::SlackToken,
        r"(?:\bxox[abposre]-[A-Za-z0-9-]{10,}|https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_]{16,})",
    ),
    (
        SecretKind::StripeKey,
        r"\b(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{24,})\b",
    ),
    (SecretKind::GoogleApiKey, r"\bAIza[0-9A-Za-z_\-]{35}"),
    (
        SecretKind::AzureKey,
        r"(?:(?i:AccountKey|SharedAccessKey|SharedAccessSignature|sig)=[A-Za-z0-9+/%]{20,}={0,2}|\b[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})",
    ),
    (
        SecretKind::PackageToken,
        r"(?:\bnpm_[A-Za-z0-9]{36}\b|\bpypi-AgE[A-Za-z0-9_\-]{50,})",
    ),
    (
        SecretKind::ServiceKey,
        r"(?:\bSK[0-9a-fA-F]{32}\b|\bSG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}\b|\bkey-[0-9a-f]{32}\b|\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b|\bdo[opr]_v1_[a-f0-9]{64}\b|\bsq0(?:atp|csp)-[0-9A-Za-z_\-]{22,43}\b|\bxkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}\b)",
    ),
    (SecretKind::HuggingFaceToken, r"\bhf_[A-Za-z0-9]{30,}\b"),
    (SecretKind::AnthropicKey, r"\bsk-ant-[A-Za-z0-9_\-]{20,}"),
    (
        SecretKind::OpenAiKey,
        r"\bsk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_\-]{20,}",
    ),
    (
        SecretKind::Jwt,
        r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
    ),
];

/// The words a setting's name ends with when its value is a secret (compared word by word, so
/// `db_password`, `dbPassword` and `DB_PASSWORD` match `password` but `mypassword` does not).
const SECRET_NAME_SUFFIXES: &[&[&str]] = &[
    &["password"],
    &["passwd"],
    &["pass"],
    &["pwd"],
    &["passphrase"],
    &["secret"],
    &["secrets"],
    &["secret", "key"],
    &["secret", "key", "base"],
    &["api", "key"],
    &["apikey"],
    &["token"],
    &["private", "key"],
    &["private", "key", "id"],
    &["client", "secret"],
    &["access", "key"],
    &["signing", "key"],
    &["encryption", "key"],
    &["credentials"],
    &["credential"],
];

/// Names whose values are redacted from prompts but not reported by the hardcoded-secret check:
/// a signing salt is not secret enough to warn about (Phoenix writes them in `config.exs`), yet
/// it has no business leaving the machine.
const REDACTED_NAME_SUFFIXES: &[&[&str]] = &[&["salt"]];

/// Names that end like a secret but are not one.
const NOT_SECRET_NAMES: &[&str] = &[
    "csrf_token",
    "token_type",
    "secret_name",
    "password_field",
    "put_csrf_token",
    "get_csrf_token",
];

/// The longest quoted value judged by its entropy alone.
const MAX_QUOTED_SECRET: usize = 512;

/// One string literal (double or single quoted, escapes honoured, on one line).
const LITERAL: &str = r#"(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')"#;

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
        let run = format!(r"{LITERAL}(?:\s*<>\s*{LITERAL})*");
        Detectors {
            any_known: compile(&alternation),
            known: KNOWN.iter().map(|(k, p)| (*k, compile(p))).collect(),
            literal_run: compile(&run),
            env_line: compile(
                r#"(?m)^[ \t]*(?:export[ \t]+)?([A-Z][A-Z0-9_]*)[ \t]*=[ \t]*([^\s"'#][^\r\n]*?)[ \t]*\r?$"#,
            ),
            url_password: compile(
                r#"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#@:"'<>`]*:([^\s@"'<>`]+)@[A-Za-z0-9\[]"#,
            ),
            aws_secret: compile(r"(?:^|[^A-Za-z0-9/+=_\-])([A-Za-z0-9/+]{40})(?:$|[^A-Za-z0-9/+=_\-])"),
            concatenated: compile(&format!(r"{LITERAL}(?:\s*<>\s*{LITERAL})+")),
            // Printable ASCII but for the quote and backslash: a token is ASCII, and a class
            // over all of Unicode repeated up to 512 times compiled to 1 MB of automaton.
            quoted: compile(r#""([!#-\[\]-~]{20,})""#),
        }
    })
}

/// Finds every secret in `text`, sorted by start, without overlaps (the earlier, then longer,
/// span wins). Runs on every AI request over the prompt's text: linear in its length.
pub fn find_secrets(text: &str) -> Vec<SecretSpan> {
    let mut spans = Vec::new();
    scan(text, 0, &mut spans);
    concatenations(text, &mut spans);
    merge(spans)
}

/// Every rule over `text`, spans shifted by `offset`.
fn scan(text: &str, offset: usize, spans: &mut Vec<SecretSpan>) {
    let d = detectors();
    let mut push = |kind, start: usize, end: usize| {
        spans.push(SecretSpan {
            kind,
            start: offset + start,
            end: offset + end,
        });
    };
    if d.any_known.is_match(text) {
        for (kind, re) in &d.known {
            for m in re.find_iter(text) {
                push(*kind, m.start(), m.end());
            }
        }
    }
    if text.contains("://") {
        for caps in d.url_password.captures_iter(text) {
            if let Some(password) = caps.get(1) {
                if !looks_like_placeholder(password.as_str()) {
                    push(SecretKind::UrlPassword, password.start(), password.end());
                }
            }
        }
    }
    for value in d.literal_run.find_iter(text) {
        let Some(name) = setting_name(&text[..value.start()]) else {
            continue;
        };
        // The value's inside: from after its first quote to before its last.
        let (start, end) = (value.start() + 1, value.end() - 1);
        if start < end && is_redacted_name(name) && !looks_like_placeholder(&text[start..end]) {
            push(SecretKind::SecretValue, start, end);
        }
    }
    for caps in d.env_line.captures_iter(text) {
        let (Some(name), Some(value)) = (caps.get(1), caps.get(2)) else {
            continue;
        };
        if is_redacted_name(name.as_str()) && !looks_like_placeholder(value.as_str()) {
            push(SecretKind::SecretValue, value.start(), value.end());
        }
    }
    for caps in d.aws_secret.captures_iter(text) {
        let Some(value) = caps.get(1) else { continue };
        if is_aws_secret_key(value.as_str()) {
            push(SecretKind::AwsSecretKey, value.start(), value.end());
        }
    }
    for caps in d.quoted.captures_iter(text) {
        let Some(value) = caps.get(1) else { continue };
        if value.len() <= MAX_QUOTED_SECRET && is_high_entropy(value.as_str()) {
            push(SecretKind::HighEntropy, value.start(), value.end());
        }
    }
}

/// The name a value is given, from the text just before it: `name: `, `name = `,
/// `"name" => `, `@name `, `@name(`, `:name, ` (as in `put_env(:app, :password, "...")`).
fn setting_name(before: &str) -> Option<&str> {
    let mut rest = before.trim_end();
    rest = rest.strip_suffix('(').unwrap_or(rest).trim_end();
    for separator in ["=>", ":", "=", ","] {
        if let Some(stripped) = rest.strip_suffix(separator) {
            // `==`, `!=`, `<=`, `>=` compare rather than bind.
            if separator == "=" && stripped.ends_with(['=', '!', '<', '>']) {
                return None;
            }
            rest = stripped.trim_end();
            break;
        }
    }
    rest = rest
        .strip_suffix('"')
        .or_else(|| rest.strip_suffix('\''))
        .unwrap_or(rest);
    let start = rest
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_')
        .last()
        .map(|(i, _)| i)?;
    let name = &rest[start..];
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        .then_some(name)
}

/// Literals joined with `<>` are judged as the string they build: a key cut in pieces (each
/// too short or too plain to be found alone) is redacted from its first piece to its last.
fn concatenations(text: &str, spans: &mut Vec<SecretSpan>) {
    let d = detectors();
    if !text.contains("<>") {
        return;
    }
    for run in d.concatenated.find_iter(text) {
        let joined = join_literals(run.as_str());
        let mut found = Vec::new();
        scan(&joined, 0, &mut found);
        if joined.len() >= 20 && !joined.contains(char::is_whitespace) && is_high_entropy(&joined) {
            found.push(SecretSpan {
                kind: SecretKind::HighEntropy,
                start: 0,
                end: joined.len(),
            });
        }
        if let Some(first) = found.first() {
            spans.push(SecretSpan {
                kind: first.kind,
                start: run.start() + 1,
                end: run.end() - 1,
            });
        }
    }
}

/// The contents of `"a" <> "b" <> ...` put together (escapes kept as written).
fn join_literals(run: &str) -> String {
    let mut joined = String::with_capacity(run.len());
    let mut chars = run.char_indices();
    while let Some((_, c)) = chars.next() {
        if c != '"' && c != '\'' {
            continue;
        }
        let quote = c;
        while let Some((_, c)) = chars.next() {
            if c == '\\' {
                joined.push(c);
                if let Some((_, escaped)) = chars.next() {
                    joined.push(escaped);
                }
            } else if c == quote {
                break;
            } else {
                joined.push(c);
            }
        }
    }
    joined
}

fn merge(mut spans: Vec<SecretSpan>) -> Vec<SecretSpan> {
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
    if d.any_known.is_match(value) {
        if let Some((kind, _)) = d.known.iter().find(|(_, re)| re.is_match(value)) {
            return Some(*kind);
        }
    }
    if value.contains("://") && d.url_password.is_match(value) {
        return Some(SecretKind::UrlPassword);
    }
    (value.len() == 40 && is_aws_secret_key(value)).then_some(SecretKind::AwsSecretKey)
}

/// Whether 40 base64 characters look like an AWS secret access key: upper and lower case
/// letters and digits mixed, and random (a path or a word run is not).
fn is_aws_secret_key(value: &str) -> bool {
    value.len() == 40
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'+')
        && value.bytes().any(|b| b.is_ascii_uppercase())
        && value.bytes().any(|b| b.is_ascii_lowercase())
        && value.bytes().any(|b| b.is_ascii_digit())
        && shannon_entropy(value) >= 4.3
}

/// The words of a name: split at `_`, `-`, `.` and lower-to-upper case changes, lower-cased.
fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if matches!(c, '_' | '-' | '.' | '@' | ':') {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            previous_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && previous_lower && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        word.push(c.to_ascii_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Whether a setting, key or variable with this name holds a secret (`password`,
/// `db_password`, `dbPassword`, `secret_key_base`, `GITHUB_TOKEN`...).
/// `password_hash` or `token_ttl` do not.
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.trim_start_matches(['@', ':']).to_ascii_lowercase();
    if NOT_SECRET_NAMES.contains(&lower.as_str()) {
        return false;
    }
    ends_with_words(name, SECRET_NAME_SUFFIXES)
}

/// Whether the value of a setting with this name is kept out of prompts: every secret name,
/// and salts.
fn is_redacted_name(name: &str) -> bool {
    is_secret_name(name) || ends_with_words(name, REDACTED_NAME_SUFFIXES)
}

fn ends_with_words(name: &str, suffixes: &[&[&str]]) -> bool {
    let words = name_words(name);
    suffixes.iter().any(|suffix| {
        words.len() >= suffix.len()
            && words[words.len() - suffix.len()..]
                .iter()
                .zip(suffix.iter())
                .all(|(word, expected)| word == expected)
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

/// Whether a file must never be read into a prompt, by its name: `.env*`, `*.pem`, `*.key`,
/// `*.p12`, `*.pfx`, SSH private keys, credential stores, and `config/*secret*`.
pub fn is_secret_path(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let lower = name.to_ascii_lowercase();
    if lower == ".env" || lower.starts_with(".env.") || lower.starts_with(".envrc") {
        return true;
    }
    if lower.ends_with(".env") {
        return true;
    }
    if [
        ".pem",
        ".key",
        ".p12",
        ".pfx",
        ".keystore",
        ".jks",
        ".p8",
        ".ppk",
        ".asc",
        ".gpg",
    ]
    .iter()
    .any(|ext| lower.ends_with(ext))
    {
        return true;
    }
    if lower.starts_with("id_rsa")
        || lower.starts_with("id_dsa")
        || lower.starts_with("id_ed25519")
        || lower.starts_with("id_ecdsa")
    {
        return true;
    }
    if [
        ".netrc",
        ".pgpass",
        ".npmrc",
        ".pypirc",
        "credentials",
        ".git-credentials",
    ]
    .contains(&lower.as_str())
    {
        return true;
    }
    let in_config = path
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|p| p == "config");
    in_config && lower.contains("secret")
}

/// Whether a file's text is a secret file whatever its name: a PEM private key, dotenv-style
/// `NAME=value` lines, or a cloud service-account key. Only the first 64 KiB are looked at.
pub fn is_secret_text(text: &str) -> bool {
    let mut end = text.len().min(64 * 1024);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let head = &text[..end];
    if head.contains("\"service_account\"") && head.contains("\"private_key\"") {
        return true;
    }
    let mut significant = 0usize;
    let mut assignments = 0usize;
    for line in head.lines().take(400) {
        let line = line.trim();
        if line.starts_with("-----BEGIN ") && line.contains("PRIVATE KEY") {
            return true;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        significant += 1;
        if is_env_assignment(line) {
            assignments += 1;
        }
    }
    assignments > 0 && assignments * 2 >= significant
}

/// `NAME=value` or `export NAME=value`, with an upper-case name.
fn is_env_assignment(line: &str) -> bool {
    let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
    let Some((name, _)) = line.split_once('=') else {
        return false;
    };
    let name = name.trim_end();
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// How much of a file [`is_secret_file`] reads to judge its content.
const SNIFF_BYTES: u64 = 8 * 1024;

/// Whether the file at `path` must never be read into a prompt, judged by what it is: its own
/// name, the name of what it resolves to through symlinks (`lib/settings.ex` → `../.env`), and
/// the content of its first 8 KiB ([`is_secret_text`]). A path that cannot be read (an unsaved
/// buffer) is judged by its name alone; the caller judges the text it holds with
/// [`is_secret_text`].
pub fn is_secret_file(path: &Path) -> bool {
    if is_secret_path(path) {
        return true;
    }
    if let Ok(real) = std::fs::canonicalize(path) {
        if real != path && is_secret_path(&real) {
            return true;
        }
    }
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let mut head = Vec::new();
    if file.take(SNIFF_BYTES).read_to_end(&mut head).is_err() {
        return false;
    }
    is_secret_text(&String::from_utf8_lossy(&head))
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

    #[test]
    fn url_passwords_are_redacted_in_any_scheme_code_config_or_prose() {
        assert_eq!(
            show(r#"url: "postgres://app:Pg-Pass_1@db.internal:5432/app""#),
            r#"url: "postgres://app:<redacted:url-password>@db.internal:5432/app""#
        );
        assert_eq!(
            show("See redis://:r3dis@cache:6379 and amqp://u:p%40ss@mq/vhost in the doc."),
            "See redis://:<redacted:url-password>@cache:6379 and amqp://u:<redacted:url-password>@mq/vhost in the doc."
        );
        let plain = "https://hexdocs.pm/phoenix and mailto:me@example.org and http://host:8080/x";
        assert_eq!(show(plain), plain);
    }

    #[test]
    fn forty_characters_of_prose_or_sql_are_not_an_aws_secret_key() {
        assert_eq!(
            classify_literal("SELECT * FROM orders WHERE customer = $1"),
            None
        );
    }

    #[test]
    fn aws_secret_keys_with_slashes_and_pluses_are_redacted() {
        assert_eq!(
            show(r#"@aws "u8jzPde0IgxL/d6GncfBAepfJB/d0Kh8oOOL8dKL""#),
            r#"@aws "<redacted:aws-secret-key>""#
        );
        assert_eq!(
            classify_literal("u8jzPde0IgxL+d6GncfBAepfJB/d0Kh8oOOL8dKL"),
            Some(SecretKind::AwsSecretKey)
        );
        // Paths, names and sentences of the same length are not keys.
        assert_eq!(
            classify_literal("SELECT * FROM orders WHERE customer = $1"),
            None
        );
        let plain = r#"path = "lib/my_app_web/controllers/page_html.ex"
module = "MyAppWeb.Controllers.PageHTMLTemplates.Show""#;
        assert_eq!(show(plain), plain);
    }

    #[test]
    fn secret_named_attributes_keywords_maps_and_calls_are_redacted_whatever_their_length() {
        let text = r#"@db_password "Planted16CharPwd"
@api_key("k")
config :app, dbPassword: 'pw', signing_salt: "Zs0nTQ+V"
%{"auth_token" => "t0k", private_key: "x1"}
Application.put_env(:app, :client_secret, "shh")
System.put_env("GITHUB_TOKEN", "tok")
@moduledoc "password"
name = "password_hash""#;
        let expected = r#"@db_password "<redacted:secret-value>"
@api_key("<redacted:secret-value>")
config :app, dbPassword: '<redacted:secret-value>', signing_salt: "<redacted:secret-value>"
%{"auth_token" => "<redacted:secret-value>", private_key: "<redacted:secret-value>"}
Application.put_env(:app, :client_secret, "<redacted:secret-value>")
System.put_env("GITHUB_TOKEN", "<redacted:secret-value>")
@moduledoc "password"
name = "password_hash""#;
        assert_eq!(show(text), expected);
    }

    #[test]
    fn concatenated_literals_are_judged_as_the_string_they_build() {
        let pem = r#"@key "-----BEGIN RSA " <>
  "PRIVATE KEY-----\nMIIEowIBAAKCAQEAplanted\n" <>
  "-----END RSA PRIVATE KEY-----"
:ok"#;
        let shown = show(pem);
        assert!(!shown.contains("MIIE"), "{shown}");
        assert!(shown.ends_with(":ok"), "{shown}");
        let split = r#"key = "AKIAIOSF" <> "ODNN7ABCDEFG""#;
        assert_eq!(show(split), r#"key = "<redacted:aws-access-key>""#);
        let named = r#"password: "first-half" <> "second-half""#;
        assert_eq!(show(named), r#"password: "<redacted:secret-value>""#);
        let plain = r#"msg = "Hello, " <> name <> "!" <> " and welcome""#;
        assert_eq!(show(plain), plain);
    }

    #[test]
    fn dotenv_lines_with_secret_names_are_redacted() {
        let text = "DATABASE_PASSWORD=hunter2\nexport STRIPE_TOKEN = abc\nPORT=4000\n";
        assert_eq!(
            show(text),
            "DATABASE_PASSWORD=<redacted:secret-value>\nexport STRIPE_TOKEN = <redacted:secret-value>\nPORT=4000\n"
        );
    }

    #[test]
    fn service_key_formats_are_redacted() {
        let cases = [
            ("glpat-AbCdEfGhIjKlMnOpQrSt12", "gitlab-token"),
            ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "github-token"),
            ("npm_zdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnFRIB", "package-token"),
            (
                "pypi-AgEIcHlwaS5vcmcCJGE4ZDQ1YjY0LWVmMjMtNDVkYy1hNTk0LWU3ZGZmNDM4ZjY1NQ",
                "package-token",
            ),
            ("SKaeeb975729fae923d5a4fd12aabfe228", "service-key"),
            (
                "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",
                "service-key",
            ),
            ("hf_zdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnFR", "huggingface-token"),
            ("whsec_zdocJ2isAjIhKtJ0RlgLKOmxgJTe", "stripe-key"),
            (
                "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=ESQedUStPKR0CsTy4Qwb8DwkNhFdnXsiVpzz63FfkCzJr4i0B3Jr==;",
                "azure-key",
            ),
            ("abc8Q~zdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnF", "azure-key"),
            (
                "sk-proj-zdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnFRIB_T3BlbkFJ",
                "openai-key",
            ),
        ];
        for (secret, id) in cases {
            let shown = show(&format!("x {secret} y"));
            assert!(
                shown.contains(&format!("<redacted:{id}>")),
                "{secret}: {shown}"
            );
            assert!(
                !shown.contains(&secret[secret.len() - 8..]),
                "{secret}: {shown}"
            );
        }
    }

    #[test]
    fn secret_files_are_judged_by_content_and_symlink_target() {
        assert!(is_secret_text(
            "# local\nDATABASE_URL=ecto://x\nPORT=4000\n"
        ));
        assert!(is_secret_text(
            "  -----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n"
        ));
        assert!(is_secret_text(
            r#"{"type": "service_account", "private_key": "-----BEGIN..."}"#
        ));
        assert!(!is_secret_text(
            "defmodule A do\n  @x 1\n  def f, do: :ok\nend\n"
        ));
        assert!(!is_secret_text(""));

        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("lib")).expect("lib");
        std::fs::write(dir.path().join(".env"), "FLAG=on\n").expect("env");
        std::fs::write(dir.path().join("lib/a.ex"), "defmodule A do\nend\n").expect("a");
        std::fs::write(dir.path().join("lib/b.ex"), "SECRET_PLAN=1\nOTHER=2\n").expect("b");
        let link = dir.path().join("lib/settings.ex");
        std::os::unix::fs::symlink("../.env", &link).expect("symlink");
        assert!(is_secret_file(&link), "a symlink is judged by its target");
        assert!(
            is_secret_file(&dir.path().join("lib/b.ex")),
            "by its content"
        );
        assert!(!is_secret_file(&dir.path().join("lib/a.ex")));
        assert!(!is_secret_file(&dir.path().join("lib/missing.ex")));
    }

    #[test]
    fn the_planted_corpus_is_fully_redacted_and_ordinary_code_untouched() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../fixtures/secrets_app");
        let planted = std::fs::read_to_string(root.join("planted.txt")).expect("planted.txt");
        let planted: Vec<&str> = planted
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .collect();
        let mut files = Vec::new();
        for dir in ["lib/secrets_app", "config", "."] {
            for entry in std::fs::read_dir(root.join(dir)).expect("dir").flatten() {
                if entry.file_type().is_ok_and(|t| t.is_file()) {
                    files.push(entry.path());
                }
            }
        }
        let mut texts = String::new();
        for file in &files {
            if file.ends_with("planted.txt") {
                continue;
            }
            let text = std::fs::read_to_string(file).expect("read");
            if is_secret_file(file) {
                continue; // never read into a prompt at all
            }
            texts.push_str(&redact(&text).text);
        }
        for secret in &planted {
            assert!(!texts.contains(secret), "planted secret left: {secret}");
        }
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../fixtures/sample_app/lib");
        let mut false_positives = Vec::new();
        for entry in walk_files(&sample) {
            let text = std::fs::read_to_string(&entry).expect("read");
            for span in find_secrets(&text) {
                false_positives.push(format!(
                    "{}: {}",
                    entry.display(),
                    &text[span.start..span.end]
                ));
            }
        }
        assert!(false_positives.is_empty(), "{false_positives:#?}");
    }

    fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).expect("dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk_files(&path));
            } else {
                out.push(path);
            }
        }
        out
    }
}
