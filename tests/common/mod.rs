//! Starting the real `distillguard serve` for the tests that talk to it over HTTP.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Starts `distillguard serve` on a port the system picks, logging at `log` to standard error;
/// returns the process and the base URL its `listening on` line gives.
pub fn spawn_serve<'a>(
    data_dir: &Path,
    log: &str,
    env: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_distillguard"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", log)
        .envs(env)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start distillguard serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, url)
}
