//! Document URIs normalised once, where they enter the server.
//!
//! Clients and hostile inputs spell one file many ways: `file:///r//lib/a.ex`,
//! `file:///r/./lib/a.ex`, `file:///r/x/../lib/a.ex`, `file:///r/lib/%61.ex`. Everything past
//! this module sees one spelling: an absolute path with no empty, `.` or `..` segments (the
//! engine's `DocumentKey` is built from it). Only `file` URIs on the local host name files; anything else (an
//! `untitled:` buffer, `http://host/etc/passwd`) has no path at all.
//!
//! Case is kept as written: on a case-insensitive file system two spellings of one file stay
//! two documents, which costs a duplicate parse, never a wrong answer.

use std::path::PathBuf;

use tower_lsp_server::ls_types as lsp;

/// The local file a URI names, normalised; `None` for other schemes, remote hosts, relative
/// or empty paths, and paths with a NUL byte.
pub fn file_path(uri: &lsp::Uri) -> Option<PathBuf> {
    if !uri.scheme().as_str().eq_ignore_ascii_case("file") {
        return None;
    }
    let host = uri
        .authority()
        .map(|a| a.host().to_owned())
        .unwrap_or_default();
    if !host.is_empty() && !host.eq_ignore_ascii_case("localhost") {
        return None;
    }
    let decoded = uri.to_file_path()?;
    crate::index::normalize_path(&decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> lsp::Uri {
        text.parse().expect("a valid URI")
    }

    #[test]
    fn every_spelling_of_a_file_is_one_path() {
        let spellings = [
            "file:///r/lib/a.ex",
            "file:///r//lib/a.ex",
            "file:///r/./lib/a.ex",
            "file:///r/x/../lib/a.ex",
            "file:///r/lib/%61.ex",
            "file://localhost/r/lib/a.ex",
            "file:///r/lib//./a.ex",
        ];
        for spelling in spellings {
            assert_eq!(
                file_path(&uri(spelling)),
                Some(PathBuf::from("/r/lib/a.ex")),
                "{spelling}"
            );
            assert_eq!(
                super::super::convert::document_key(&uri(spelling)),
                crate::document::DocumentKey::file(std::path::Path::new("/r/lib/a.ex")),
                "{spelling}"
            );
        }
    }

    #[test]
    fn parent_segments_never_climb_above_the_root() {
        assert_eq!(
            file_path(&uri("file:///../../etc/passwd")),
            Some(PathBuf::from("/etc/passwd"))
        );
    }

    #[test]
    fn other_schemes_remote_hosts_and_nul_bytes_name_no_file() {
        for text in [
            "untitled:Untitled-1",
            "http://example.com/etc/passwd",
            "file://evil.example/etc/passwd",
            "file:///r/a%00.ex",
        ] {
            assert_eq!(file_path(&uri(text)), None, "{text}");
        }
    }

    #[test]
    fn spaces_and_unicode_are_decoded() {
        assert_eq!(
            file_path(&uri("file:///r/my%20app/caf%C3%A9.ex")),
            Some(PathBuf::from("/r/my app/café.ex"))
        );
    }
}
