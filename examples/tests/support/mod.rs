//! What the tests that start the example binaries share: a server process, started with
//! its stdout read up to the line that names its `http://…` address, killed when dropped.

#![allow(dead_code)] // each test file uses what it needs

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

/// A started server process; killed (and waited for) when dropped.
pub struct Process {
    child: Child,
    /// The address it printed, without the final `/` (`http://localhost:PORT`).
    pub base: String,
    /// The line it printed it in.
    pub line: String,
}

impl Process {
    /// Starts `command` (with its stderr as the caller set it) and waits for the first line
    /// it prints, which names its address.
    pub fn start(command: &mut Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .trim_end_matches('/')
            .to_owned();
        Self { child, base, line }
    }

    /// The `host:port` of [`base`](Self::base), for a raw TCP connection.
    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// Stops the process and returns what it wrote to its stderr (when the caller piped it).
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut logged = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            let _ = stderr.read_to_string(&mut logged);
        }
        logged
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
