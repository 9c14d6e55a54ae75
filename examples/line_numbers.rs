//! How long numbering a line at the end of a big log costs, against `wc -l` on the same file:
//! `check` numbers its examples by counting newlines from the file's start
//! ([`gatewatch::logs::line_numbers`]), within `LINE_NUMBER_MAX_BYTES`.
//!
//! `cargo run --release --example line_numbers -- FILE`

use std::process::Command;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: line_numbers FILE"))?;
    let file = std::fs::File::open(&path)?;
    let len = file.metadata()?.len();
    for _ in 0..3 {
        let started = Instant::now();
        let numbers = gatewatch::logs::line_numbers(&file, &[len], u64::MAX)?;
        let ours = started.elapsed();
        let started = Instant::now();
        let wc = Command::new("wc").arg("-l").arg(&path).output()?;
        let theirs = started.elapsed();
        println!(
            "line_numbers {:?} in {:.3} s; wc -l {} in {:.3} s; ratio {:.2}",
            numbers[0],
            ours.as_secs_f64(),
            String::from_utf8_lossy(&wc.stdout).trim(),
            theirs.as_secs_f64(),
            ours.as_secs_f64() / theirs.as_secs_f64()
        );
    }
    Ok(())
}
