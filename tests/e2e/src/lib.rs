//! Helpers for end-to-end tests: start the real `weir` binary and find its endpoints.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `weir up`, killed when dropped.
pub struct Weir {
    child: Child,
    /// The Kinesis endpoint, e.g. `http://127.0.0.1:41213`.
    pub kinesis_url: String,
    /// The REST endpoint.
    pub rest_url: String,
}

/// The binary under test: `$WEIR_BIN`, else `target/debug/weir` of this workspace.
pub fn weir_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("WEIR_BIN") {
        return bin.into();
    }
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/weir");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p weir` first (tests/run.sh does)",
        bin.display()
    );
    bin
}

impl Weir {
    /// Starts `weir up` on `data_dir` with ephemeral ports and waits until it is ready.
    pub fn start(data_dir: &Path) -> Self {
        let mut child = Command::new(weir_bin())
            .args([
                "up",
                "--kinesis-addr",
                "127.0.0.1:0",
                "--rest-addr",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start weir");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let (mut kinesis_url, mut rest_url) = (String::new(), String::new());
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("weir up did not print Ready. within 30 s"));
            if let Some(url) = line.strip_prefix("Kinesis endpoint:") {
                kinesis_url = url.trim().to_string();
            } else if let Some(url) = line.strip_prefix("REST endpoint:") {
                rest_url = url.trim().to_string();
            } else if line.trim() == "Ready." {
                break;
            }
        }
        Self {
            child,
            kinesis_url,
            rest_url,
        }
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Weir {
    fn drop(&mut self) {
        self.kill();
    }
}
