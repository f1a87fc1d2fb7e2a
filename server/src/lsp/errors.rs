//! Engine errors as LSP errors: the code that fits (a model that did not answer is not a bad
//! parameter) and one wording, the engine's, in every editor.

use tower_lsp_server::jsonrpc::{Error, ErrorCode};

use crate::engine::AiError;

/// LSP 3.17 `RequestFailed`: the request was valid and failed; the message says why.
pub const REQUEST_FAILED: i64 = -32803;

/// The LSP error for an engine error.
pub fn to_lsp(error: AiError) -> Error {
    let code = match &error {
        AiError::UnknownDocument(_) => ErrorCode::InvalidParams,
        AiError::DocumentChanged => ErrorCode::ContentModified,
        AiError::Refused(_)
        | AiError::Disabled { .. }
        | AiError::NoProvider { .. }
        | AiError::Provider(_)
        | AiError::OutOfTime { .. }
        | AiError::NotApplicable(_)
        | AiError::UnusableAnswer(_)
        | AiError::Io(_) => ErrorCode::ServerError(REQUEST_FAILED),
    };
    Error {
        code,
        message: error.to_string().into(),
        data: None,
    }
}

/// A request that failed for a reason the user can act on, as `RequestFailed`.
pub fn request_failed(message: impl Into<String>) -> Error {
    Error {
        code: ErrorCode::ServerError(REQUEST_FAILED),
        message: message.into().into(),
        data: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_that_did_not_answer_is_a_failed_request_not_a_bad_parameter() {
        let error = to_lsp(AiError::NoProvider {
            feature: "explain",
            section: "explain",
        });
        assert_eq!(error.code.code(), REQUEST_FAILED);
        assert!(error.message.contains("aiex doctor"), "{}", error.message);
    }

    #[test]
    fn an_unknown_document_is_a_bad_parameter() {
        let key = crate::document::DocumentKey::unsaved("untitled:1");
        assert_eq!(
            to_lsp(AiError::UnknownDocument(key)).code,
            ErrorCode::InvalidParams
        );
    }
}
