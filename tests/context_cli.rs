//! `aiex context`, run as a user runs it, on `fixtures/context_app`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn aiex(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aiex"))
        .args(args)
        .env(
            "XDG_CONFIG_HOME",
            std::env::temp_dir().join("aiex-test-no-config"),
        )
        .output()
        .expect("run aiex")
}

fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/context_app")
        .join(relative)
}

fn position(relative: &str, line: usize, column: usize) -> String {
    format!("{}:{line}:{column}", fixture(relative).display())
}

#[test]
fn json_output_lists_the_pieces_with_reasons_paths_and_tokens() {
    // Line 21 of orders.ex: `{:ok, _charge} <- Payments.charge(card_token, total),`, cursor
    // on `charge`.
    let output = aiex(&[
        "context",
        &position("lib/shop/orders.ex", 21, 37),
        "--task",
        "completion",
        "--budget",
        "1024",
        "--format",
        "json",
        "--no-cache",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let context: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert!(context["tokens"]
        .as_u64()
        .is_some_and(|t| t > 0 && t <= 1024));
    assert!(context["prefix"]
        .as_str()
        .is_some_and(|p| p.ends_with("{:ok, _charge} <- Payments.")));
    let pieces = context["pieces"].as_array().expect("pieces");
    let api = pieces
        .iter()
        .find(|p| p["reason"] == "module being called: Shop.Payments")
        .expect("the module being called");
    assert_eq!(api["path"], "lib/shop/payments.ex");
    assert!(api["text"]
        .as_str()
        .is_some_and(|t| t.contains("@spec charge(String.t(), integer())")));
    assert!(pieces
        .iter()
        .any(|p| p["reason"] == "called: Shop.Orders.Order.transition/2"));
}

#[test]
fn text_output_and_errors_a_user_can_act_on() {
    let output = aiex(&[
        "context",
        &position("lib/shop/accounts.ex", 24, 7),
        "--task",
        "explain",
        "--no-cache",
    ]);
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("── enclosing function register/1 — lib/shop/accounts.ex ("),
        "{stdout}"
    );
    assert!(
        stdout.contains("── called: Shop.Repo.insert/1 — lib/shop/repo.ex ("),
        "{stdout}"
    );

    let secret = aiex(&[
        "context",
        &position("config/prod.secret.exs", 4, 5),
        "--no-cache",
    ]);
    assert!(secret.status.success());
    assert!(String::from_utf8_lossy(&secret.stderr).contains("is a secret file"));
    assert!(!String::from_utf8_lossy(&secret.stdout).contains("secret_key_base"));

    let bad = aiex(&[
        "context",
        &position("lib/shop/orders.ex", 999, 1),
        "--no-cache",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("past the end of the file"));
    let task = aiex(&[
        "context",
        &position("lib/shop/orders.ex", 1, 1),
        "--task",
        "poem",
    ]);
    assert!(String::from_utf8_lossy(&task.stderr).contains("unknown task `poem`"));
}
