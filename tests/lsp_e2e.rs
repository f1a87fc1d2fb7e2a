//! End-to-end tests: the real `aiex` binary over stdio, as an editor drives it.

#[path = "support/lsp_client.rs"]
mod lsp_client;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lsp_client::{file_uri, LspClient};
use serde_json::{json, Value};

fn sample_app() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/sample_app")
        .canonicalize()
        .expect("fixture")
}

fn sample_file(relative: &str) -> (String, String) {
    let path = sample_app().join(relative);
    let text = std::fs::read_to_string(&path).expect("read fixture");
    (file_uri(&path), text)
}

fn started(encodings: Option<&[&str]>) -> (LspClient, Value) {
    let mut client = LspClient::spawn(None);
    let capabilities = match encodings {
        Some(list) => json!({ "general": { "positionEncodings": list } }),
        None => json!({}),
    };
    let result = client.initialize(capabilities, Value::Null, Some(&sample_app()));
    (client, result)
}

/// The byte offset of a (line, column) position in `text`, columns in UTF-16 units or bytes.
fn model_offset(text: &str, line: u32, column: u32, utf16: bool) -> usize {
    let mut offset = 0;
    for _ in 0..line {
        offset += text[offset..]
            .find('\n')
            .map(|i| i + 1)
            .unwrap_or(text.len() - offset);
    }
    let mut units = 0;
    for (index, ch) in text[offset..].char_indices() {
        if units >= column as usize || ch == '\n' {
            return offset + index;
        }
        units += if utf16 { ch.len_utf16() } else { ch.len_utf8() };
    }
    text.len()
}

fn symbol_names(symbols: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for symbol in symbols.as_array().into_iter().flatten() {
        names.push(symbol["name"].as_str().unwrap_or("").to_owned());
        names.extend(symbol_names(&symbol["children"]));
    }
    names
}

#[test]
fn utf8_is_chosen_when_offered_and_utf16_otherwise() {
    let (mut client, result) = started(Some(&["utf-8", "utf-16"]));
    assert_eq!(result["capabilities"]["positionEncoding"], "utf-8");
    assert_eq!(result["serverInfo"]["name"], "aiex");
    assert!(client.shutdown().success());
    let (mut client, result) = started(None);
    assert_eq!(result["capabilities"]["positionEncoding"], "utf-16");
    assert_eq!(result["capabilities"]["hoverProvider"], true);
    assert_eq!(
        result["capabilities"]["textDocumentSync"]["change"], 2,
        "incremental sync"
    );
    assert!(client.shutdown().success());
}

#[test]
fn open_edit_then_symbols_and_hover_follow_the_edits() {
    for (encodings, utf16) in [(None, true), (Some(&["utf-8"][..]), false)] {
        let (mut client, _) = started(encodings);
        let (accounts_uri, accounts) = sample_file("lib/sample_app/accounts.ex");
        let (repo_uri, repo) = sample_file("lib/sample_app/repo.ex");
        client.open(&accounts_uri, &accounts);
        client.open(&repo_uri, &repo);

        // Insert a function with multi-byte and astral characters before `defp normalize`.
        let line = accounts
            .lines()
            .position(|l| l.contains("defp normalize"))
            .expect("line") as u32;
        let inserted = "  @doc \"Größe 😀\"\n  def größe(straße \\\\ 1), do: \"😀\"\n\n";
        client.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": accounts_uri, "version": 2 },
                "contentChanges": [{ "range": { "start": { "line": line, "character": 0 }, "end": { "line": line, "character": 0 } }, "text": inserted }]
            }),
        );
        // Then rename `größe` to `grösse` by replacing the characters after "gr" on that line:
        // positions after multi-byte characters differ between the encodings.
        let def_line = line + 1;
        let def_text = "  def größe(";
        let start = def_text.find("öße").expect("öße");
        let (start_col, end_col) = if utf16 {
            (
                def_text[..start].encode_utf16().count(),
                def_text[..start + "öße".len()].encode_utf16().count(),
            )
        } else {
            (start, start + "öße".len())
        };
        client.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": accounts_uri, "version": 3 },
                "contentChanges": [{ "range": { "start": { "line": def_line, "character": start_col }, "end": { "line": def_line, "character": end_col } }, "text": "össe" }]
            }),
        );
        let mut expected = accounts.clone();
        let at = model_offset(&expected, line, 0, utf16);
        expected.insert_str(at, inserted);
        let from = model_offset(&expected, def_line, start_col as u32, utf16);
        let to = model_offset(&expected, def_line, end_col as u32, utf16);
        expected.replace_range(from..to, "össe");
        assert_eq!(client.server_text(&accounts_uri), (3, expected.clone()));

        let symbols = client.request(
            "textDocument/documentSymbol",
            json!({ "textDocument": { "uri": accounts_uri } }),
        );
        let names = symbol_names(&symbols["result"]);
        assert!(names.contains(&"grösse/1".to_owned()), "{names:?}");
        assert!(
            names.contains(&"SampleApp.Accounts.User".to_owned()),
            "{names:?}"
        );

        // Hover on `Repo.insert(user)`: resolved through the alias into repo.ex.
        let insert_line = expected
            .lines()
            .position(|l| l.contains("Repo.insert(user)"))
            .expect("line") as u32;
        let column = expected
            .lines()
            .nth(insert_line as usize)
            .expect("line")
            .find("insert")
            .expect("col") as u32
            + 2;
        let hover = client.request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": accounts_uri }, "position": { "line": insert_line, "character": column } }),
        );
        let markdown = hover["result"]["contents"]["value"]
            .as_str()
            .expect("markdown");
        assert!(
            markdown.contains("SampleApp.Repo.insert/1") && markdown.contains("Inserts a record."),
            "{markdown}"
        );
        assert_eq!(hover["result"]["range"]["start"]["line"], insert_line);
        assert!(client.shutdown().success());
    }
}

#[test]
fn rapid_edits_interleaved_with_requests_stay_in_order() {
    let (mut client, _) = started(None);
    let uri = "file:///tmp/rapid.ex";
    let mut model = String::from("defmodule Rapid do\nend\n");
    client.open(uri, &model);
    let pieces = ["a", "é", "😀", "\n", "b\r\n", "ü"];
    for version in 2..300 {
        let piece = pieces[version as usize % pieces.len()];
        // Insert at the start of line 1, column 0: inside the module.
        client.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": uri, "version": version },
                "contentChanges": [{ "range": { "start": { "line": 1, "character": 0 }, "end": { "line": 1, "character": 0 } }, "text": piece }]
            }),
        );
        let at = model_offset(&model, 1, 0, true);
        model.insert_str(at, piece);
        if version % 10 == 0 {
            // Requests that need the tree, while edits keep coming.
            client.send_request(
                "textDocument/documentSymbol",
                json!({ "textDocument": { "uri": uri } }),
            );
            client.send_request(
                "textDocument/foldingRange",
                json!({ "textDocument": { "uri": uri } }),
            );
        }
    }
    assert_eq!(client.server_text(uri), (299, model));
    // A change whose version does not grow is ignored.
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 5 }, "contentChanges": [{ "text": "lost" }] }),
    );
    assert_eq!(client.server_text(uri).0, 299);
    assert!(client.shutdown().success());
}

#[test]
fn exit_is_prompt_and_its_code_says_whether_shutdown_came_first() {
    let (mut client, _) = started(None);
    let started_at = Instant::now();
    assert_eq!(client.shutdown().code(), Some(0));
    assert!(
        started_at.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started_at.elapsed()
    );
    let (mut client, _) = started(None);
    client.notify("exit", Value::Null);
    assert_eq!(client.wait_exit(Duration::from_secs(5)).code(), Some(1));
}

#[test]
fn garbage_gets_json_rpc_errors_and_the_server_keeps_serving() {
    let (mut client, _) = started(None);
    // Invalid JSON in a well-framed message: a parse error with a null id.
    client.send_raw(b"Content-Length: 9\r\n\r\n{not json");
    let error = client.wait_for(|m| m.get("error").is_some() && m["id"].is_null());
    assert_eq!(error["error"]["code"], -32700);
    // Valid JSON that is not a JSON-RPC message.
    client.send_raw(b"Content-Length: 12\r\n\r\n{\"jsonrpc\":1}");
    let error = client.wait_for(|m| m.get("error").is_some() && m["id"].is_null());
    assert!(
        error["error"]["code"] == -32600 || error["error"]["code"] == -32700,
        "{error}"
    );
    // A header the server cannot use.
    client.send_raw(b"Content-Lenght: 2\r\n\r\n{}");
    // An unknown method.
    let unknown = client.request("aiex/noSuchThing", json!({}));
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
    // Bad params for a known method.
    let bad = client.request("textDocument/hover", json!({ "nope": 1 }));
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    // Still alive and correct.
    let (uri, text) = sample_file("lib/sample_app/repo.ex");
    client.open(&uri, &text);
    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": uri } }),
    );
    assert_eq!(symbols["result"][0]["name"], "SampleApp.Repo");
    assert!(client.shutdown().success());
}

#[test]
fn requests_before_initialize_are_refused_and_initialized_is_optional() {
    let mut client = LspClient::spawn(None);
    let early = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": "file:///x.ex" } }),
    );
    assert_eq!(early["error"]["code"], -32002, "{early}");
    // Initialize but never send `initialized`: the server still serves.
    let id = client.send_request(
        "initialize",
        json!({ "processId": null, "rootUri": null, "capabilities": {} }),
    );
    client.response(id);
    client.open("file:///tmp/a.ex", "defmodule A do\n  def f, do: 1\nend\n");
    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": "file:///tmp/a.ex" } }),
    );
    assert_eq!(symbols["result"][0]["children"][0]["name"], "f/0");
    assert!(client.shutdown().success());
}

#[test]
fn bad_documents_and_positions_are_answered_without_harm() {
    let (mut client, _) = started(None);
    // A change and a close for documents never opened, and a double close.
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": "file:///nope.ex", "version": 2 }, "contentChanges": [{ "text": "x" }] }),
    );
    client.open("file:///tmp/b.ex", "defmodule B do\nend\n");
    client.notify(
        "textDocument/didClose",
        json!({ "textDocument": { "uri": "file:///tmp/b.ex" } }),
    );
    client.notify(
        "textDocument/didClose",
        json!({ "textDocument": { "uri": "file:///tmp/b.ex" } }),
    );
    let closed = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": "file:///tmp/b.ex" } }),
    );
    assert_eq!(closed["error"]["code"], -32602, "{closed}");
    assert!(
        closed["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("not opened"),
        "{closed}"
    );

    // Positions past the end are clamped, in requests and in changes.
    client.open("file:///tmp/c.ex", "defmodule C do\nend\n");
    let hover = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": "file:///tmp/c.ex" }, "position": { "line": 999, "character": 999 } }),
    );
    assert!(hover.get("error").is_none(), "{hover}");
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": "file:///tmp/c.ex", "version": 2 },
            "contentChanges": [{ "range": { "start": { "line": 50, "character": 0 }, "end": { "line": 60, "character": 3 } }, "text": "# tail\n" }]
        }),
    );
    assert_eq!(
        client.server_text("file:///tmp/c.ex").1,
        "defmodule C do\nend\n# tail\n"
    );

    // A binary file and a 50 MB file: kept as text, no tree, and the server stays responsive.
    client.open("file:///tmp/binary.ex", "\u{0}\u{1}\u{2}garbage\u{0}");
    let binary = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": "file:///tmp/binary.ex" } }),
    );
    assert_eq!(binary["result"], json!([]), "{binary}");
    let huge = "# filler line that is long enough to matter for the size of the file\n"
        .repeat(50 * 1024 * 1024 / 70);
    client.open("file:///tmp/huge.ex", &huge);
    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": "file:///tmp/huge.ex" } }),
    );
    assert_eq!(symbols["result"], json!([]), "{symbols}");
    let folds = client.request(
        "textDocument/foldingRange",
        json!({ "textDocument": { "uri": "file:///tmp/huge.ex" } }),
    );
    assert_eq!(folds["result"], Value::Null, "{folds}");
    let small = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": "file:///tmp/c.ex" } }),
    );
    assert_eq!(small["result"][0]["name"], "C");
    assert!(client.shutdown().success());
}

#[test]
fn configuration_problems_are_shown_once_naming_key_and_source() {
    let mut client = LspClient::spawn(None);
    client.initialize(
        json!({}),
        json!({ "providers": { "local": { "kind": "ollama", "model": "m", "temprature": 0.2 } }, "featurs": {} }),
        None,
    );
    let message = client.notification("window/showMessage");
    let text = message["params"]["message"].as_str().expect("message");
    assert!(
        text.contains("`providers.local.temprature`") && text.contains("editor settings"),
        "{text}"
    );
    assert!(text.contains("`featurs`"), "{text}");
    assert_eq!(message["params"]["type"], 2, "a warning");
    // The same settings again: nothing new to say. A new problem: said once.
    client.notify(
        "workspace/didChangeConfiguration",
        json!({ "settings": { "aiex": { "featurs": {}, "checks": { "disabled": "all" } } } }),
    );
    let message = client.notification("window/showMessage");
    let text = message["params"]["message"].as_str().expect("message");
    assert!(
        text.contains("`checks.disabled`") && !text.contains("featurs"),
        "{text}"
    );
    assert!(client.shutdown().success());
}

const WITH_FINDINGS: &str = "defmodule Shop.Cart do\n  @moduledoc \"Carts.\"\n\n  @doc \"Totals the cart.\"\n  def total(items) do\n    items\n    |> Enum.map(& &1.price)\n    |> IO.inspect()\n    |> Enum.sum()\n  end\nend\n";

#[test]
fn findings_are_pushed_after_edits_with_quick_fixes_that_apply() {
    let (mut client, _) = started(None);
    let uri = file_uri(&sample_app().join("lib/shop/cart.ex"));
    client.open(&uri, WITH_FINDINGS);
    let published = client.wait_for(|m| {
        m["method"] == "textDocument/publishDiagnostics"
            && m["params"]["uri"] == uri.as_str()
            && !m["params"]["diagnostics"]
                .as_array()
                .is_none_or(|d| d.is_empty())
    });
    let diagnostics = published["params"]["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .clone();
    let inspect = diagnostics
        .iter()
        .find(|d| d["code"] == "debug/io-inspect")
        .expect("IO.inspect found");
    assert_eq!(inspect["source"], "aiex");
    assert_eq!(inspect["range"]["start"]["line"], 7);
    assert_eq!(published["params"]["version"], 1);

    // The quick fix removes the pipe step; applying it gives code without the finding.
    let actions = client.request(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": uri }, "range": inspect["range"], "context": { "diagnostics": [inspect] } }),
    );
    let actions = actions["result"].as_array().expect("actions").clone();
    let fix = actions
        .iter()
        .find(|a| a["isPreferred"] == true)
        .expect("a preferred quick fix");
    assert_eq!(fix["kind"], "quickfix");
    let edits = fix["edit"]["changes"][uri.as_str()]
        .as_array()
        .expect("edits")
        .clone();
    let mut fixed = WITH_FINDINGS.to_owned();
    for edit in edits.iter().rev() {
        let start = model_offset(
            &fixed,
            edit["range"]["start"]["line"].as_u64().expect("line") as u32,
            edit["range"]["start"]["character"].as_u64().expect("col") as u32,
            true,
        );
        let end = model_offset(
            &fixed,
            edit["range"]["end"]["line"].as_u64().expect("line") as u32,
            edit["range"]["end"]["character"].as_u64().expect("col") as u32,
            true,
        );
        fixed.replace_range(start..end, edit["newText"].as_str().expect("text"));
    }
    assert!(!fixed.contains("IO.inspect"), "{fixed}");
    assert!(actions
        .iter()
        .any(|a| a["title"] == "Disable debug/io-inspect for this line"));
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "text": fixed }] }),
    );
    let republished = client.wait_for(|m| {
        m["method"] == "textDocument/publishDiagnostics" && m["params"]["version"] == 2
    });
    let codes: Vec<&Value> = republished["params"]["diagnostics"]
        .as_array()
        .expect("list")
        .iter()
        .map(|d| &d["code"])
        .collect();
    assert!(!codes.contains(&&json!("debug/io-inspect")), "{codes:?}");

    // Hovering the finding explains the check.
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 3 }, "contentChanges": [{ "text": WITH_FINDINGS }] }),
    );
    let hover = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": uri }, "position": { "line": 7, "character": 10 } }),
    );
    let markdown = hover["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{hover}"));
    assert!(markdown.contains("debug/io-inspect"), "{markdown}");
    // Closing clears the document's diagnostics.
    client.notify(
        "textDocument/didClose",
        json!({ "textDocument": { "uri": uri } }),
    );
    let cleared = client.wait_for(|m| {
        m["method"] == "textDocument/publishDiagnostics"
            && m["params"]["uri"] == uri.as_str()
            && m["params"]["diagnostics"] == json!([])
            && m["params"].get("version").is_none_or(|v| v.is_null())
    });
    assert_eq!(cleared["params"]["diagnostics"], json!([]));
    assert!(client.shutdown().success());
}

#[test]
fn clients_that_pull_diagnostics_get_them_on_request_and_none_pushed() {
    let mut client = LspClient::spawn(None);
    let result = client.initialize(
        json!({ "textDocument": { "diagnostic": { "dynamicRegistration": false } } }),
        Value::Null,
        Some(&sample_app()),
    );
    assert_eq!(
        result["capabilities"]["diagnosticProvider"]["identifier"],
        "aiex"
    );
    let uri = file_uri(&sample_app().join("lib/shop/cart.ex"));
    client.open(&uri, WITH_FINDINGS);
    let report = client.request(
        "textDocument/diagnostic",
        json!({ "textDocument": { "uri": uri } }),
    );
    assert_eq!(report["result"]["kind"], "full");
    let items = report["result"]["items"].as_array().expect("items");
    assert!(
        items.iter().any(|d| d["code"] == "debug/io-inspect"),
        "{items:?}"
    );
    std::thread::sleep(Duration::from_millis(400));
    let _ = client.request(
        "aiex/documentText",
        json!({ "textDocument": { "uri": uri } }),
    );
    assert!(
        !client
            .notifications
            .iter()
            .any(|m| m["method"] == "textDocument/publishDiagnostics"),
        "nothing pushed"
    );
    assert!(client.shutdown().success());
}

/// Copies the sample project to a temporary directory, so tests can change files.
fn sample_copy() -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read_dir") {
            let entry = entry.expect("entry");
            let target = to.join(entry.file_name());
            if entry.file_type().expect("type").is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).expect("copy");
            }
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    copy(&sample_app(), dir.path());
    dir
}

#[test]
fn the_workspace_is_indexed_with_progress_and_kept_current() {
    let dir = sample_copy();
    let root = dir.path().canonicalize().expect("canonical");
    let mut client = LspClient::spawn(None);
    client.initialize(
        json!({
            "window": { "workDoneProgress": true },
            "workspace": { "didChangeWatchedFiles": { "dynamicRegistration": true } }
        }),
        Value::Null,
        Some(&root),
    );
    let registration = client.answer_server_request("client/registerCapability", Value::Null);
    assert_eq!(
        registration["params"]["registrations"][0]["method"],
        "workspace/didChangeWatchedFiles"
    );
    client.answer_server_request("window/workDoneProgress/create", Value::Null);
    let end =
        client.wait_for(|m| m["method"] == "$/progress" && m["params"]["value"]["kind"] == "end");
    let message = end["params"]["value"]["message"].as_str().expect("message");
    assert!(message.starts_with("8 files, 8 modules"), "{message}");

    // Hover resolves into a file that is not open, through the index.
    let accounts = root.join("lib/sample_app/accounts.ex");
    let text = std::fs::read_to_string(&accounts).expect("read");
    let uri = file_uri(&accounts);
    client.open(&uri, &text);
    let line = text
        .lines()
        .position(|l| l.contains("Mailer.deliver_welcome"))
        .expect("line") as u32;
    let column = text
        .lines()
        .nth(line as usize)
        .expect("line")
        .find("deliver_welcome")
        .expect("col") as u32;
    let hover = client.request("textDocument/hover", json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": column } }));
    let markdown = hover["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{hover}"));
    assert!(
        markdown.contains("Sends the welcome email to `user`."),
        "{markdown}"
    );
    // Once the file is open, its text as the editor holds it wins over the index's copy.
    let mailer = root.join("lib/sample_app/mailer.ex");
    let edited = std::fs::read_to_string(&mailer).expect("read").replace(
        "Sends the welcome email to `user`.",
        "Greets `user` by email.",
    );
    client.open(&file_uri(&mailer), &edited);
    let hover = client.request("textDocument/hover", json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": column } }));
    let markdown = hover["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{hover}"));
    assert!(
        markdown.contains("Greets `user` by email.") && !markdown.contains("Sends the welcome"),
        "{markdown}"
    );
    client.notify(
        "textDocument/didClose",
        json!({ "textDocument": { "uri": file_uri(&mailer) } }),
    );

    // Workspace symbols come from the index.
    let symbols = client.request("workspace/symbol", json!({ "query": "deliver_wel" }));
    let first = &symbols["result"][0];
    assert_eq!(first["name"], "deliver_welcome/1");
    assert_eq!(first["containerName"], "SampleApp.Mailer");
    assert_eq!(
        first["location"]["uri"],
        file_uri(&root.join("lib/sample_app/mailer.ex"))
    );
    assert_eq!(first["location"]["range"]["start"]["line"], 7);

    // A file created on disk is indexed when the client reports it, and forgotten when deleted.
    let extra = root.join("lib/sample_app/invoices.ex");
    std::fs::write(
        &extra,
        "defmodule SampleApp.Invoices do\n  def issue(order), do: order\nend\n",
    )
    .expect("write");
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": file_uri(&extra), "type": 1 }] }),
    );
    let found = client.request("workspace/symbol", json!({ "query": "SampleApp.Invoices" }));
    assert_eq!(found["result"][0]["name"], "SampleApp.Invoices", "{found}");
    std::fs::remove_file(&extra).expect("remove");
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": file_uri(&extra), "type": 3 }] }),
    );
    let gone = client.request("workspace/symbol", json!({ "query": "Invoices" }));
    assert_eq!(gone["result"], json!([]), "{gone}");

    // A file outside the workspace is never read, whatever the client says.
    let outside = tempfile::tempdir().expect("tempdir");
    let stray = outside.path().join("stray.ex");
    std::fs::write(&stray, "defmodule Stray do\nend\n").expect("write");
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": file_uri(&stray), "type": 1 }] }),
    );
    let stray_symbols = client.request("workspace/symbol", json!({ "query": "Stray" }));
    assert_eq!(stray_symbols["result"], json!([]));
    assert!(client.shutdown().success());
}

#[test]
fn with_no_provider_the_server_says_once_that_ai_is_off_and_stays_useful() {
    let (mut client, _) = started(None);
    let notice = client.notification("window/showMessage");
    let text = notice["params"]["message"].as_str().expect("message");
    assert!(
        text.contains("no local Ollama answers at http://127.0.0.1:11434"),
        "{text}"
    );
    assert_eq!(notice["params"]["type"], 3, "information, not an error");
    let (uri, text) = sample_file("lib/sample_app/repo.ex");
    client.open(&uri, &text);
    let started_at = Instant::now();
    let completion = client.request(
        "textDocument/completion",
        json!({ "textDocument": { "uri": uri }, "position": { "line": 5, "character": 2 } }),
    );
    assert_eq!(completion["result"]["items"], json!([]));
    let hover = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": uri }, "position": { "line": 5, "character": 7 } }),
    );
    assert!(
        hover["result"]["contents"]["value"]
            .as_str()
            .unwrap_or("")
            .contains("Inserts a record."),
        "{hover}"
    );
    assert!(
        started_at.elapsed() < Duration::from_millis(500),
        "no waiting on a missing model"
    );
    assert!(
        !client
            .notifications
            .iter()
            .any(|m| m["method"] == "window/showMessage"),
        "said once"
    );
    assert!(client.shutdown().success());
}
