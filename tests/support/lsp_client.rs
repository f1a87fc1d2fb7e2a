//! A minimal LSP client for end-to-end tests: spawns the real `aiex` binary and speaks
//! JSON-RPC over its stdin/stdout, with a timeout on every wait so a broken server fails the
//! test instead of hanging it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Counts clients, to give each its own cache directory.
static CLIENTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How long any single wait may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// How to start the server beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct SpawnOptions {
    /// Environment variables to set, after the defaults.
    pub env: Vec<(String, String)>,
    /// A program and its arguments to run the binary under (`strace -f -o LOG`).
    pub wrapper: Vec<String>,
    /// Arguments to the binary (`--log-file PATH`).
    pub args: Vec<String>,
}

/// A running `aiex` with pipes to it.
pub struct LspClient {
    child: Child,
    stdin: Option<ChildStdin>,
    messages: Receiver<Value>,
    /// Notifications and server requests seen while waiting for responses.
    pub notifications: Vec<Value>,
    next_id: i64,
    /// The server's cache directory (index cache, audit log), private to this client.
    pub cache_dir: std::path::PathBuf,
}

impl LspClient {
    /// Starts the binary in `workspace` (or the current directory).
    pub fn spawn(workspace: Option<&Path>) -> Self {
        Self::spawn_with(workspace, &SpawnOptions::default())
    }

    /// Starts the binary in `workspace` with extra environment variables (set after the
    /// defaults, so they can replace them) and, optionally, under a wrapper such as strace.
    pub fn spawn_with(workspace: Option<&Path>, options: &SpawnOptions) -> Self {
        // AIEX_TEST_LOG=debug shows the server's logs while debugging a test.
        let log = std::env::var("AIEX_TEST_LOG").ok();
        // AIEX_TEST_BINARY runs another build of the server: a benchmark compares two builds
        // in turn, each kept outside the target directory that the next build replaces.
        let binary = std::env::var("AIEX_TEST_BINARY")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_aiex").to_owned());
        let mut command = match options.wrapper.split_first() {
            Some((program, arguments)) => {
                let mut command = Command::new(program);
                command.args(arguments).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        command
            .args(&options.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if log.is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            });
        // No user configuration from the machine running the tests.
        command.env(
            "XDG_CONFIG_HOME",
            std::env::temp_dir().join("aiex-test-no-config"),
        );
        command.env("AIEX_LOG", log.as_deref().unwrap_or("warn"));
        // Index caches go to a directory of this client's own, never the user's cache.
        let cache = std::env::temp_dir().join(format!(
            "aiex-test-cache-{}-{}",
            std::process::id(),
            CLIENTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        // A process id comes back: what an earlier test run left under the same name (an audit
        // log, an index cache) must not be read as this client's.
        let _ = std::fs::remove_dir_all(&cache);
        command.env("AIEX_DATA_DIR", cache.join("data"));
        command.env("AIEX_CACHE_DIR", &cache);
        if let Some(dir) = workspace {
            command.current_dir(dir);
        }
        command.envs(options.env.iter().map(|(k, v)| (k, v)));
        let mut child = command.spawn().expect("spawn aiex");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take();
        let (sender, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(message) = read_message(&mut reader) {
                if sender.send(message).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            stdin,
            messages,
            notifications: Vec::new(),
            next_id: 1,
            cache_dir: cache,
        }
    }

    /// Initializes with the given capabilities and options, and sends `initialized`.
    pub fn initialize(
        &mut self,
        capabilities: Value,
        options: Value,
        root: Option<&Path>,
    ) -> Value {
        let root_uri = root.map(file_uri);
        let result = self.request(
            "initialize",
            json!({
                "processId": null,
                "rootUri": root_uri,
                "capabilities": capabilities,
                "initializationOptions": options,
            }),
        );
        self.notify("initialized", json!({}));
        result["result"].clone()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes raw bytes to the server.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write");
        stdin.flush().expect("flush");
    }

    /// Sends a JSON-RPC message with the proper header.
    pub fn send(&mut self, message: &Value) {
        let body = message.to_string();
        let framed = format!("Content-Length: {}\r\n\r\n{}", body.len(), body);
        self.send_raw(framed.as_bytes());
    }

    /// Sends a notification.
    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// Sends a request without waiting; returns its id.
    pub fn send_request(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        id
    }

    /// Sends a request and waits for its response (the whole message, `result` or `error`).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send_request(method, params);
        self.response(id)
    }

    /// Waits for the response with `id`, keeping notifications aside.
    pub fn response(&mut self, id: i64) -> Value {
        self.response_within(id, TIMEOUT)
    }

    /// Waits up to `timeout` for the response with `id` (a real model may take longer than
    /// [`TIMEOUT`]).
    pub fn response_within(&mut self, id: i64, timeout: Duration) -> Value {
        self.wait_for_within(
            |m| m.get("id") == Some(&json!(id)) && m.get("method").is_none(),
            timeout,
        )
    }

    /// Waits for the first message matching `predicate`; others that are notifications or
    /// server requests are kept in `notifications`.
    pub fn wait_for(&mut self, predicate: impl Fn(&Value) -> bool) -> Value {
        self.wait_for_within(predicate, TIMEOUT)
    }

    /// [`Self::wait_for`], failing after `timeout`.
    pub fn wait_for_within(
        &mut self,
        predicate: impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Value {
        if let Some(index) = self.notifications.iter().position(&predicate) {
            return self.notifications.remove(index);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(message) if predicate(&message) => return message,
                Ok(message) => self.notifications.push(message),
                Err(RecvTimeoutError::Timeout) => panic!(
                    "no matching message within {timeout:?}; seen: {:#?}",
                    self.notifications
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the server closed stdout; seen: {:#?}", self.notifications)
                }
            }
        }
    }

    /// Waits for a request from the server with `method` and answers it with `result`.
    pub fn answer_server_request(&mut self, method: &str, result: Value) -> Value {
        let request =
            self.wait_for(|m| m.get("method") == Some(&json!(method)) && m.get("id").is_some());
        self.send(&json!({ "jsonrpc": "2.0", "id": request["id"], "result": result }));
        request
    }

    /// Runs `command` (`{command, arguments}`), accepting the edit it has the server send
    /// (`aiex.undoLastAiEdit`, an AI action): the `workspace/applyEdit` request and the
    /// command's response.
    pub fn execute_applying_edit(&mut self, command: Value) -> (Value, Value) {
        let id = self.send_request("workspace/executeCommand", command);
        let apply = self.answer_server_request("workspace/applyEdit", json!({ "applied": true }));
        (apply, self.response(id))
    }

    /// Waits for a notification with `method`.
    pub fn notification(&mut self, method: &str) -> Value {
        self.wait_for(|m| m.get("method") == Some(&json!(method)) && m.get("id").is_none())
    }

    /// Opens a document.
    pub fn open(&mut self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "elixir", "version": 1, "text": text } }),
        );
    }

    /// The server's copy of a document.
    pub fn server_text(&mut self, uri: &str) -> (i64, String) {
        let response = self.request(
            "aiex/documentText",
            json!({ "textDocument": { "uri": uri } }),
        );
        let result = &response["result"];
        (
            result["version"].as_i64().expect("version"),
            result["text"].as_str().expect("text").to_owned(),
        )
    }

    /// Closes stdin and waits for the process, failing after `within`.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("aiex did not exit within {within:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The code action running `command` offered at (`line`, `character`) of `uri`; fails
    /// the test when there is none.
    pub fn code_action(&mut self, uri: &str, line: u32, character: u32, command: &str) -> Value {
        let position = json!({ "line": line, "character": character });
        let actions = self.request(
            "textDocument/codeAction",
            json!({ "textDocument": { "uri": uri }, "range": { "start": position, "end": position }, "context": { "diagnostics": [] } }),
        );
        actions["result"]
            .as_array()
            .expect("actions")
            .iter()
            .find(|a| a["command"]["command"] == command)
            .cloned()
            .unwrap_or_else(|| panic!("no {command} in {actions}"))
    }

    /// Sends shutdown and exit, and returns the exit status.
    pub fn shutdown(&mut self) -> ExitStatus {
        let response = self.request("shutdown", Value::Null);
        assert_eq!(response["result"], Value::Null, "{response}");
        self.notify("exit", Value::Null);
        self.wait_exit(Duration::from_secs(5))
    }
}

impl Drop for LspClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `file://` URI for a path.
pub fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// The byte offset of an LSP position (`{line, character}`) in `text`. Columns are taken as
/// bytes: for ASCII texts only.
pub fn byte_offset(text: &str, position: &Value) -> usize {
    let line = position["line"].as_u64().expect("line") as usize;
    let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
    start + position["character"].as_u64().expect("character") as usize
}

/// `text` with the edits of a versioned workspace edit's first document applied (ASCII texts).
pub fn apply_workspace_edit(text: &str, edit: &Value) -> String {
    let mut result = text.to_owned();
    let mut edits: Vec<Value> = edit["documentChanges"][0]["edits"]
        .as_array()
        .expect("edits")
        .clone();
    // From the end, so that earlier positions stay valid.
    edits.sort_by_key(|e| {
        std::cmp::Reverse((
            e["range"]["start"]["line"].as_u64(),
            e["range"]["start"]["character"].as_u64(),
        ))
    });
    for e in edits {
        let from = byte_offset(&result, &e["range"]["start"]);
        let to = byte_offset(&result, &e["range"]["end"]);
        result.replace_range(from..to, e["newText"].as_str().expect("newText"));
    }
    result
}

/// Reads one framed message; `None` at end of stream.
fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("Content-Length:") {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}
