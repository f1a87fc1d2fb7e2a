//! Why an AI request gave nothing: typed, so each entry point says it its own way (the language
//! server picks the LSP error code, the command line an exit status) with one wording.

use crate::document::DocumentKey;
use crate::llm::LlmError;

use super::privacy::Refusal;

/// What went wrong with an AI request. Every message says what happened and, where there is
/// something to do, what to do.
#[derive(Debug, thiserror::Error)]
pub enum AiError {
    /// The document is not open.
    #[error("unknown document {0}: it was not opened")]
    UnknownDocument(DocumentKey),
    /// The privacy gate refused the file.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The feature is turned off.
    #[error("{feature} is turned off in the configuration (features.{section}.enabled)")]
    Disabled {
        /// The feature, as users name it.
        feature: &'static str,
        /// Its configuration section.
        section: &'static str,
    },
    /// No provider is configured for the feature, or none can be reached.
    #[error(
        "no model is set up for {feature}: configure `providers` and `features.{section}.providers` \
         (`aiex doctor` shows what was found)"
    )]
    NoProvider {
        /// The feature, as users name it.
        feature: &'static str,
        /// Its configuration section.
        section: &'static str,
    },
    /// The providers were asked and none answered.
    #[error("the model did not answer: {0}")]
    Provider(#[source] LlmError),
    /// The model had not answered when the feature's deadline came.
    #[error(
        "the model did not answer within {} ms ({setting}; a slow model needs it raised): {source}",
        after.as_millis()
    )]
    OutOfTime {
        /// The setting holding the deadline (`features.actions.timeout_ms`).
        setting: &'static str,
        /// The deadline.
        after: std::time::Duration,
        /// What the provider layer said.
        source: LlmError,
    },
    /// The request does not apply where it was made (no function at the cursor...).
    #[error("{0}")]
    NotApplicable(String),
    /// The model answered with something that cannot be used; nothing was changed.
    #[error("{0}")]
    UnusableAnswer(String),
    /// The document changed while the model was writing: the answer no longer fits.
    #[error("the document changed while the model was answering; nothing was changed")]
    DocumentChanged,
    /// A file could not be read or written.
    #[error("{0}")]
    Io(String),
}
