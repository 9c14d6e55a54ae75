//! Classification throughput, lines per second on one core: `cargo bench --bench classify`.
//! A plain main (harness = false) rather than criterion, to keep the dependency tree small;
//! it prints one figure per corpus and the mixed total, then a `RESULT` line for scripts.

use std::hint::black_box;
use std::time::{Duration, Instant};

use gatewatch::logs::classify;

const CORPUS: &str = include_str!("../tests/fixtures/logs/causes.tsv");
const ACCESS: [&str; 4] = [
    r#"10.0.0.1 - - [01/May/2024:12:00:00 +0000] "GET /api/items?id=42 HTTP/1.1" 200 5123 "https://shop.example/" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36""#,
    r#"10.0.0.2 - - [01/May/2024:12:00:00 +0000] "POST /api/cart HTTP/1.1" 502 157 "-" "curl/8.5.0" us=502 ua=127.0.0.1:8080 rt=0.002"#,
    r#"10.0.0.3 - bob [01/May/2024:12:00:01 +0000] "GET /static/app.js HTTP/2.0" 304 0 "https://shop.example/" "Mozilla/5.0""#,
    r#"10.0.0.4 - - [01/May/2024:12:00:01 +0000] "GET /slow HTTP/1.1" 504 167 "-" "k6/0.49" 127.0.0.1:8080 504 60.001"#,
];

fn corpus_lines() -> Vec<&'static str> {
    CORPUS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.splitn(3, '\t').nth(2))
        .collect()
}

/// Classifies `lines` round-robin for about `budget`; returns lines per second.
fn rate(lines: &[&str], budget: Duration) -> f64 {
    let started = Instant::now();
    let mut done = 0u64;
    let mut causes = 0u64;
    while started.elapsed() < budget {
        for line in lines {
            let c = classify(black_box(line), None);
            causes += u64::from(c.cause.is_some());
        }
        done += lines.len() as u64;
    }
    black_box(causes);
    done as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let errors = corpus_lines();
    let mixed: Vec<&str> = errors.iter().copied().chain(ACCESS).collect();
    let budget = Duration::from_secs(2);
    let _ = rate(&mixed, Duration::from_millis(300)); // warm up
    let mut rates = Vec::new();
    for (name, lines) in [
        ("error/haproxy corpus", errors.as_slice()),
        ("access lines", &ACCESS[..]),
        ("mixed", mixed.as_slice()),
    ] {
        let r = rate(lines, budget);
        println!("classify {name:<22} {:>12.0} lines/s", r);
        rates.push(r);
    }
    // The last line is for scripts (benches/all.sh).
    println!(
        "RESULT classify error_lines_per_s={:.0} access_lines_per_s={:.0} mixed_lines_per_s={:.0}",
        rates[0], rates[1], rates[2]
    );
}
