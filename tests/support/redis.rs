//! A real `redis-server` for team-mode tests: started on a free port in a temporary directory,
//! stopped when dropped. Missing, it is reported and, under `AIEX_REQUIRE_REDIS=1` (CI), the
//! test fails; it never passes silently.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Redis.
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// Arguments after the defaults (`--requirepass`...).
    extra: Vec<String>,
}

impl RedisServer {
    /// Starts one, or says why not: `None` when `redis-server` is missing and not required.
    pub fn start(test: &str) -> Option<Self> {
        Self::start_with(test, &[])
    }

    /// [`Self::start`], with `extra` arguments for `redis-server` (`--requirepass`, ...).
    pub fn start_with(test: &str, extra: &[&str]) -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            let message = format!(
                "{test}: SKIPPED, redis-server is not installed (apt-get install redis-server; \
                 .ci/run installs it and sets AIEX_REQUIRE_REDIS=1)"
            );
            if std::env::var_os("AIEX_REQUIRE_REDIS").is_some_and(|v| v == "1") {
                panic!("{message}");
            }
            // Past the test harness's capture, so the skip is seen.
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "{message}");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut server = Self {
            port,
            dir: tempfile::tempdir().expect("tempdir"),
            child: None,
            extra: extra.iter().map(|a| (*a).to_owned()).collect(),
        };
        server.restart();
        Some(server)
    }

    /// `redis://127.0.0.1:<port>/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills it at once (SIGKILL): connections drop as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (empty: nothing is persisted).
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.cli(&["PING"]).trim() != "PONG" {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it without closing anything (SIGSTOP): connections stay open and hang, as with a
    /// Redis stuck in a long command or behind a dead network path.
    pub fn hang(&self) {
        self.signal("-STOP");
    }

    /// Lets a hung Redis go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("redis-server runs");
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal} redis-server");
    }

    /// Runs a `redis-cli` command and returns its output (authenticated when the server was
    /// started with `--requirepass`).
    pub fn cli(&self, args: &[&str]) -> String {
        let password = self
            .extra
            .iter()
            .position(|a| a == "--requirepass")
            .and_then(|at| self.extra.get(at + 1));
        let mut command = Command::new("redis-cli");
        if let Some(password) = password {
            command.env("REDISCLI_AUTH", password);
        }
        command
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// The directory it runs in.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
