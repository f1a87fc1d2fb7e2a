//! The streaming parsers on real recordings cut at every byte: whatever the chunk boundaries
//! (inside an SSE field, between CR and LF, inside a UTF-8 character), the user gets the same
//! text, finish reason and usage as when the body arrives in one piece.

mod support;

use aiex_llm::adapters::{self, Outcome, ProviderKind};
use aiex_llm::framing::{Frame, Framer};
use proptest::prelude::*;
use support::recordings::{load, Recording};

/// The streamed recordings and the adapter that reads them.
const STREAMS: &[(&str, ProviderKind)] = &[
    (
        "openai/langchaingo__chat_stream_usage.httprr",
        ProviderKind::OpenAi,
    ),
    (
        "openai/langchaingo__chat_stream_long.httprr",
        ProviderKind::OpenAi,
    ),
    (
        "openai/vercel-ai__openai-text.chunks.txt",
        ProviderKind::OpenAi,
    ),
    (
        "openai-completions/vercel-ai__openai-completion-text.chunks.txt",
        ProviderKind::OpenAi,
    ),
    (
        "anthropic/langchaingo__messages_stream.httprr",
        ProviderKind::Anthropic,
    ),
    (
        "anthropic/ruby_llm__messages_stream.yml",
        ProviderKind::Anthropic,
    ),
    (
        "anthropic/vercel-ai__anthropic-text.chunks.txt",
        ProviderKind::Anthropic,
    ),
    (
        "gemini/ruby_llm__streamGenerateContent_alt_sse.yml",
        ProviderKind::Gemini,
    ),
    (
        "gemini/langchaingo__streamGenerateContent_jsonarray.httprr",
        ProviderKind::Gemini,
    ),
    (
        "gemini/vercel-ai__google-text.chunks.txt",
        ProviderKind::Gemini,
    ),
    (
        "mistral/vercel-ai__mistral-text.chunks.txt",
        ProviderKind::Mistral,
    ),
    (
        "ollama/langchaingo__api_chat_stream.httprr",
        ProviderKind::Ollama,
    ),
    (
        "ollama/langchaingo__api_chat_stream_default.httprr",
        ProviderKind::Ollama,
    ),
    (
        "ollama/langchaingo__api_generate_stream.httprr",
        ProviderKind::Ollama,
    ),
];

fn framer_for(recording: &Recording) -> Framer {
    Framer::for_content_type(recording.content_type().unwrap_or("application/json"))
}

/// Frames of the body fed in the given pieces, and whether the framer saw a cut.
fn frames(recording: &Recording, pieces: &[&[u8]]) -> (Vec<Frame>, bool) {
    let mut framer = framer_for(recording);
    let mut out = Vec::new();
    for piece in pieces {
        framer.feed(piece, &mut out).expect("framing");
    }
    let cut = framer.finish(&mut out);
    (out, cut)
}

/// Text and outcome the user would get from the body fed in the given pieces.
fn decode(kind: ProviderKind, recording: &Recording, pieces: &[&[u8]]) -> (String, Outcome) {
    let (frames, cut) = frames(recording, pieces);
    assert!(!cut, "a complete recording is not cut");
    let mut decoder = adapters::decoder(kind, "p");
    let mut deltas = Vec::new();
    for frame in &frames {
        decoder.frame(frame, &mut deltas).expect("decoding");
    }
    (deltas.concat(), decoder.outcome())
}

fn split_at<'a>(body: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    cuts.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for cut in cuts {
        pieces.push(&body[start..cut]);
        start = cut;
    }
    pieces.push(&body[start..]);
    pieces
}

#[test]
fn every_recording_decodes_to_a_complete_answer() {
    for (fixture, kind) in STREAMS {
        let recording = load(fixture);
        let (text, outcome) = decode(*kind, &recording, &[&recording.body]);
        assert!(
            outcome.complete,
            "{fixture}: the provider's end marker is seen"
        );
        assert!(outcome.finish_reason.is_some(), "{fixture}");
        assert!(outcome.output_tokens.is_some(), "{fixture}: usage is read");
        assert!(!text.is_empty(), "{fixture}");
    }
}

/// The framer's state right after it emitted each frame, with the offset of the byte that
/// completed it: a parser is deterministic, so a run may restart from any of these.
fn checkpoints(recording: &Recording) -> Vec<(usize, Framer, usize)> {
    let mut framer = framer_for(recording);
    let mut out = Vec::new();
    let mut points = vec![(0, framer.clone(), 0)];
    for (offset, byte) in recording.body.iter().enumerate() {
        let before = out.len();
        framer
            .feed(std::slice::from_ref(byte), &mut out)
            .expect("framing");
        if out.len() > before {
            points.push((offset + 1, framer.clone(), out.len()));
        }
    }
    points
}

#[test]
fn a_split_at_any_single_byte_gives_the_same_frames() {
    for (fixture, _) in STREAMS {
        let recording = load(fixture);
        let body = &recording.body;
        let (whole, _) = frames(&recording, &[body]);
        let points = checkpoints(&recording);
        // Cutting at byte `cut` only matters from the last checkpoint before it: restart there
        // (instead of from byte 0, which would make this quadratic in the body size) and check
        // the frames up to two checkpoints later, past the frame the cut fell in.
        for cut in 0..=body.len() {
            let k = points.partition_point(|(offset, _, _)| *offset <= cut) - 1;
            let (start, framer, emitted) = &points[k];
            let end = points
                .get(k + 2)
                .map_or(body.len(), |(offset, _, _)| *offset);
            let mut framer = framer.clone();
            let mut out = Vec::new();
            framer.feed(&body[*start..cut], &mut out).expect("framing");
            framer
                .feed(&body[cut..end.max(cut)], &mut out)
                .expect("framing");
            if end == body.len() {
                framer.finish(&mut out);
            }
            let expected = &whole[*emitted..(*emitted + out.len()).min(whole.len())];
            assert_eq!(&out[..], expected, "{fixture} split at byte {cut}");
            assert!(
                end < body.len() || *emitted + out.len() == whole.len(),
                "{fixture} split at byte {cut}: frames lost"
            );
        }
    }
}

#[test]
fn byte_by_byte_delivery_gives_the_same_answer() {
    for (fixture, kind) in STREAMS {
        let recording = load(fixture);
        let whole = decode(*kind, &recording, &[&recording.body]);
        let bytes: Vec<&[u8]> = recording.body.chunks(1).collect();
        assert_eq!(decode(*kind, &recording, &bytes), whole, "{fixture}");
    }
}

#[test]
fn crlf_and_cr_framing_give_the_same_answer_as_lf() {
    for (fixture, kind) in STREAMS {
        let recording = load(fixture);
        if recording.content_type() != Some("text/event-stream") || recording.body.contains(&b'\r')
        {
            continue;
        }
        let lf = decode(*kind, &recording, &[&recording.body]);
        let text = String::from_utf8(recording.body.clone()).unwrap();
        for ending in ["\r\n", "\r"] {
            let mut other = recording.clone();
            other.body = text.replace('\n', ending).into_bytes();
            assert_eq!(
                decode(*kind, &other, &[&other.body]),
                lf,
                "{fixture} with {ending:?}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_chunking_gives_the_same_answer(index in 0..STREAMS.len(), cuts in proptest::collection::vec(any::<usize>(), 0..40)) {
        let (fixture, kind) = STREAMS[index];
        let recording = load(fixture);
        let whole = decode(kind, &recording, &[&recording.body]);
        let pieces = split_at(&recording.body, &cuts);
        prop_assert_eq!(decode(kind, &recording, &pieces), whole);
    }
}
