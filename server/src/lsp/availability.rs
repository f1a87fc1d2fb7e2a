//! Whether AI features can answer now, in the words editors show ("ready", "degraded",
//! "offline"), and what to offer instead of AI code actions when they cannot: one "Set up a
//! model" action, rather than actions that fail later with a network error or an error code.
//!
//! Pure functions over the providers' breaker states; the handlers read those from the state.

use std::path::Path;

use tower_lsp_server::ls_types as lsp;

use crate::llm::breaker::BreakerState;

/// The command behind the "Set up a model" code action.
pub const SET_UP_COMMAND: &str = "aiex.setUpModel";

/// How AI features stand, as a user reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// A provider answers (or has not failed yet).
    Ready,
    /// Some providers fail fast (breaker open) but another can answer.
    Degraded,
    /// No provider is configured or reachable: AI features are off.
    Offline,
}

impl Availability {
    /// From whether the server found no provider at all (`offline`: nothing configured and no
    /// local Ollama answering) and the breaker state of each configured provider.
    pub fn of(offline: bool, breakers: &[BreakerState]) -> Self {
        if offline || breakers.is_empty() {
            return Self::Offline;
        }
        let open = breakers
            .iter()
            .filter(|b| **b == BreakerState::Open)
            .count();
        match open {
            0 => Self::Ready,
            n if n == breakers.len() => Self::Offline,
            _ => Self::Degraded,
        }
    }

    /// The word editors show.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Degraded => "degraded",
            Self::Offline => "offline",
        }
    }

    /// Whether AI code actions are worth offering: a provider may answer them.
    pub fn offers_ai_actions(self) -> bool {
        self != Self::Offline
    }
}

/// The code action offered in place of the AI ones while no model can answer.
pub fn set_up_action() -> lsp::CodeActionOrCommand {
    lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
        title: "Aiex: Set up a model for AI actions".to_owned(),
        kind: Some(lsp::CodeActionKind::EMPTY),
        command: Some(lsp::Command {
            title: "Aiex: Set up a model".to_owned(),
            command: SET_UP_COMMAND.to_owned(),
            arguments: None,
        }),
        ..lsp::CodeAction::default()
    })
}

/// What the "Set up a model" command tells the user: the two ways to get a model, where the
/// configuration goes, and how to check it.
pub fn set_up_message(user_config: Option<&Path>) -> String {
    let file = user_config.map_or_else(
        || "~/.config/aiex/config.toml".to_owned(),
        |p| p.display().to_string(),
    );
    format!(
        "Aiex needs a model for AI completion and actions. Either run Ollama locally \
         (`ollama serve`, then `ollama pull qwen2.5-coder:1.5b`): Aiex finds it at \
         http://127.0.0.1:11434 by itself; or add a provider to {file} (or your editor's Aiex \
         settings), e.g. [providers.hosted] kind = \"openai-compatible\", base_url, model, \
         api_key_env. Then run `aiex doctor` to check it answers. Symbols, hover and checks \
         work without a model."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_provider_means_offline_and_no_ai_actions() {
        assert_eq!(
            Availability::of(true, &[BreakerState::Closed]),
            Availability::Offline
        );
        assert_eq!(Availability::of(false, &[]), Availability::Offline);
        assert!(!Availability::Offline.offers_ai_actions());
    }

    #[test]
    fn providers_whose_breakers_are_all_open_are_offline() {
        let all_open = [BreakerState::Open, BreakerState::Open];
        assert_eq!(Availability::of(false, &all_open), Availability::Offline);
    }

    #[test]
    fn one_open_breaker_among_several_is_degraded_but_still_offers_actions() {
        let some_open = [BreakerState::Open, BreakerState::Closed];
        let availability = Availability::of(false, &some_open);
        assert_eq!(availability, Availability::Degraded);
        assert_eq!(availability.as_str(), "degraded");
        assert!(availability.offers_ai_actions());
    }

    #[test]
    fn closed_and_half_open_breakers_are_ready() {
        let fine = [BreakerState::Closed, BreakerState::HalfOpen];
        assert_eq!(Availability::of(false, &fine), Availability::Ready);
        assert_eq!(Availability::Ready.as_str(), "ready");
    }

    #[test]
    fn the_set_up_action_runs_the_set_up_command() {
        let lsp::CodeActionOrCommand::CodeAction(action) = set_up_action() else {
            panic!("a code action");
        };
        assert!(action.title.contains("Set up a model"));
        assert_eq!(
            action.command.map(|c| c.command).as_deref(),
            Some(SET_UP_COMMAND)
        );
    }

    #[test]
    fn the_set_up_message_names_the_configuration_file_and_ollama() {
        let message = set_up_message(Some(Path::new("/home/u/.config/aiex/config.toml")));
        assert!(message.contains("/home/u/.config/aiex/config.toml"));
        assert!(message.contains("ollama pull"));
        assert!(message.contains("aiex doctor"));
    }
}
