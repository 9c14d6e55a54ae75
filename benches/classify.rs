//! Classification throughput, lines per second on one core: `cargo bench --bench classify`.
//! A plain main (harness = false) rather than criterion, to keep the dependency tree small;
//! it prints one figure per corpus and the mixed total, then the rate at which the follower
//! counts the lines of a flood it does not keep (`count_lines`, splitting included), then a
//! `RESULT` line for scripts.

use std::hint::black_box;
use std::time::{Duration, Instant};

use gatewatch::logs::{Skipped, TimeParser, classify, count_lines};

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

/// 64 KiB of the flood `examples/follow_flood.rs` writes (one 502 in 50), as the follower reads it.
fn flood_block() -> (Vec<u8>, u64) {
    let mut block = Vec::new();
    let mut lines = 0;
    while block.len() < 64 * 1024 {
        let status = if lines % 50 == 0 { 502 } else { 200 };
        block.extend_from_slice(
            format!(
                "10.0.{}.{} - - [01/May/2024:12:00:00 +0000] \"GET /api/items/{lines} HTTP/1.1\" {status} 512 \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\" us={status} ua=127.0.0.1:8080\n",
                (lines / 250) % 250,
                lines % 250
            )
            .as_bytes(),
        );
        lines += 1;
    }
    (block, lines)
}

/// Counts `block` (of `lines` lines) over and over in rounds of about `round`; returns the best
/// round's lines per second (the machine may be busy with other work).
fn count_rate(block: &[u8], lines: u64, round: Duration, rounds: usize) -> f64 {
    let mut times = TimeParser::default();
    let mut best: f64 = 0.0;
    for _ in 0..rounds {
        let started = Instant::now();
        let mut done = 0u64;
        while started.elapsed() < round {
            let mut skipped = Skipped::default();
            count_lines(black_box(block), 16 * 1024, None, &mut times, &mut skipped);
            assert_eq!(black_box(skipped).lines(), lines);
            done += lines;
        }
        best = best.max(done as f64 / started.elapsed().as_secs_f64());
    }
    best
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
    let (block, lines) = flood_block();
    let r = count_rate(&block, lines, Duration::from_millis(100), 20);
    println!(
        "count  {:<22} {:>12.0} lines/s ({:.1} ns/line, best of 20 rounds)",
        "flood (follower)",
        r,
        1e9 / r
    );
    // The last line is for scripts (benches/all.sh).
    println!(
        "RESULT classify error_lines_per_s={:.0} access_lines_per_s={:.0} mixed_lines_per_s={:.0} flood_count_lines_per_s={r:.0}",
        rates[0], rates[1], rates[2]
    );
}
