//! The real `rampart` binary, run in a directory with only the given
//! variables, and a served instance whose JSON log lines are collected.

use std::{
    io::{BufRead as _, BufReader},
    path::Path,
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    time::Duration,
};

/// `rampart ARGS` in `dir` with only `vars` in its environment.
pub(crate) fn rampart(dir: &Path, vars: &[(&str, &str)], args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rampart"));
    cmd.env_clear().current_dir(dir).args(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

/// A serving process: its API address and every log line so far.
pub(crate) struct Served {
    child: Child,
    pub addr: String,
    pub lines: Vec<String>,
    rx: mpsc::Receiver<String>,
}

impl Served {
    /// Spawns `cmd` (which should bind port 0) and waits for its
    /// `listening` line.
    pub(crate) fn start(mut cmd: Command) -> Self {
        let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        let addr = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no 'listening' line in {lines:?}"));
            let json: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
            lines.push(line);
            if json["message"] == "listening" {
                break json["api"].as_str().unwrap().to_owned();
            }
        };
        Self {
            child,
            addr,
            lines,
            rx,
        }
    }

    /// SIGTERM, then the exit status and every log line.
    pub(crate) fn stop(mut self) -> (ExitStatus, Vec<String>) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        self.lines.extend(self.rx.try_iter());
        (status, self.lines)
    }
}
