//! Frame render time at 200x60: a busy App (300 processes, 40 upstreams with full histories, 20 DNS
//! names through 3 nameservers, two logs with 2000 classified lines each) drawn by `ui::draw` into
//! ratatui's TestBackend, the way the dashboard draws a frame (the diff against the previous
//! frame included). Between frames the state changes a little, as it does live: a probe result,
//! a log line. Prints mean, p50, p99 and max per frame for the overview and for each pane zoomed.
//!
//! The Logs pane is measured also with a regex search, and with a filter and a search, over
//! `--log-lines` lines per log (10,000 fills the ring).
//!
//! `cargo bench --bench render -- [--frames N] [--log-lines N]`

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use gatewatch::app::{App, Event};
use gatewatch::config::{HttpMethod, StatusRange, Target, Upstream};
use gatewatch::dns::{Answer, DnsResult, DnsRound, Nameserver, Rcode, Source};
use gatewatch::host::{EphemeralPorts, FileHandles, HostSample, ProcessRow, TcpState, TcpStates};
use gatewatch::logs::{LogBatch, LogLine, SourceSpec, SourceStatus, classify};
use gatewatch::model::upstreams::Upstreams;
use gatewatch::theme::{self, ColorDepth};
use gatewatch::upstream::catalog::{Catalog, Entry};
use gatewatch::upstream::{Outcome, ProbeResult};

const W: u16 = 200;
const H: u16 = 60;
const NOW: i64 = 1_800_000_000;
const UPSTREAMS: usize = 40;
const NAMES: usize = 20;
/// Lines per log before the first frame, unless `--log-lines` says otherwise.
const LOG_LINES: usize = 2000;

fn clock() -> jiff::Zoned {
    jiff::Timestamp::from_second(NOW)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC))
        .unwrap_or_else(|_| jiff::Zoned::now())
}

fn at(secs_ago: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs((NOW - secs_ago) as u64)
}

fn host_sample() -> HostSample {
    let commands = [
        "nginx: worker process",
        "php-fpm: pool www",
        "postgres: 15/main: walwriter",
        "/usr/bin/java -Xmx2g -jar /opt/search/search.jar --port 9200",
        "node /srv/shop/server.js",
        "[kworker/1:2-events]",
    ];
    HostSample {
        hostname: "proxy-eu-1".into(),
        uptime: Duration::from_secs(9 * 86_400),
        cores: 8,
        cpu_total: 61.5,
        cpu_per_core: (0..8).map(|i| (i * 13 % 100) as f32).collect(),
        load: [7.1, 5.4, 3.9],
        mem_used: 11 << 30,
        mem_total: 16 << 30,
        swap_used: 1 << 30,
        swap_total: 4 << 30,
        processes: (0..300u32)
            .map(|i| ProcessRow {
                pid: 100 + i * 7,
                user: ["www-data", "root", "postgres"][(i % 3) as usize].into(),
                cpu: (i * 37 % 1000) as f32 / 10.0,
                mem: (u64::from(i) * 3) << 20,
                command: commands[i as usize % commands.len()].into(),
            })
            .collect(),
        sockets: Ok(TcpStates {
            counts: [
                (TcpState::Established, 2412),
                (TcpState::TimeWait, 18_391),
                (TcpState::CloseWait, 31),
                (TcpState::Listen, 12),
            ]
            .into_iter()
            .collect(),
            malformed_lines: 0,
        }),
        ports: Ok(EphemeralPorts {
            low: 32768,
            high: 60999,
            in_use: 19_950,
            ..Default::default()
        }),
        sockets_age: Duration::ZERO,
        files: Ok(FileHandles {
            used: 9184,
            max: 1 << 20,
        }),
    }
}

fn upstreams() -> anyhow::Result<Upstreams> {
    let mut entries = Vec::new();
    for i in 0..UPSTREAMS {
        let url = format!("http://10.0.{}.{}:8080/health", i / 10, i % 250);
        entries.push(Entry {
            upstream: Upstream {
                name: format!("backend-{i:02}"),
                url: url.parse::<Target>().map_err(|e| anyhow::anyhow!("{e}"))?,
                timeout: Duration::from_secs(2),
                interval: Duration::from_secs(2),
                expect: StatusRange::DEFAULT,
                method: HttpMethod::Get,
                host: None,
                tls_verify: true,
                slow: Duration::from_millis(500),
                from: None,
            },
            group: Some(format!("pool-{}", i % 4)),
            source: format!("/etc/nginx/sites-enabled/shop:{}", 10 + i),
            flags: vec!["max_fails=3".into()],
            notes: Vec::new(),
            limits: None,
        });
    }
    let catalog = Catalog {
        entries,
        read_from: vec!["nginx /etc/nginx/nginx.conf (7 files)".into()],
        ..Catalog::default()
    };
    let mut view = Upstreams::new(&catalog);
    let mut seq = 0;
    for round in 0..60u64 {
        for i in 0..UPSTREAMS {
            seq += 1;
            view.apply(probe(i, seq, round));
        }
    }
    Ok(view)
}

fn probe(i: usize, seq: u64, round: u64) -> ProbeResult {
    let failing = i.is_multiple_of(7) && !round.is_multiple_of(3);
    let (outcome, code, detail) = if failing {
        (
            Outcome::Refused,
            None,
            "connection refused: tcp connect error: Connection refused (os error 111)",
        )
    } else {
        (Outcome::Ok, Some(200), "HTTP 200 OK")
    };
    ProbeResult {
        target_index: i,
        seq,
        at: at(120 - round as i64 * 2),
        outcome,
        status_code: code,
        latency: (!failing).then(|| Duration::from_micros(800 + (seq * 97 % 5000))),
        elapsed: Duration::from_millis(1),
        detail: detail.into(),
        addr: Some(format!("10.0.{}.{}:8080", i / 10, i % 250)),
        cert_not_after: None,
        phases: gatewatch::upstream::Phases::default(),
    }
}

fn dns_round(seq: u64) -> DnsRound {
    let servers = [
        Nameserver::System,
        Nameserver::Addr(std::net::SocketAddr::from(([10, 0, 0, 2], 53))),
        Nameserver::Addr(std::net::SocketAddr::from(([10, 0, 0, 3], 53))),
    ];
    let mut results = Vec::new();
    for n in 0..NAMES {
        for (s, ns) in servers.iter().enumerate() {
            let failing = n.is_multiple_of(9);
            results.push(DnsResult {
                name: format!("svc-{n:02}.internal"),
                nameserver: *ns,
                answers: if failing {
                    vec![]
                } else {
                    (0..2)
                        .map(|k| Answer {
                            addr: std::net::IpAddr::from([10, 1, n as u8, (k + s) as u8]),
                            ttl: Some(300),
                        })
                        .collect()
                },
                cname_chain: vec![],
                rcode: Some(if failing {
                    Rcode::NxDomain
                } else {
                    Rcode::NoError
                }),
                latency: Duration::from_millis(2 + s as u64),
                error: failing.then(|| "NXDOMAIN: no such name".to_string()),
                source: Source::Dns,
            });
        }
    }
    DnsRound {
        seq,
        finished_at: at(3),
        elapsed: Duration::from_millis(12),
        nameservers: servers.to_vec(),
        results,
        problems: vec![],
        family: vec![],
    }
}

fn log_line(n: usize, access: bool) -> LogLine {
    let text = if access {
        let status = [200, 200, 200, 502, 504, 304][n % 6];
        format!(
            "203.0.113.{} - - [15/Jan/2027:07:5{}:{:02} +0000] \"GET /api/items?id={n} HTTP/1.1\" \
             {status} 157 \"-\" \"Mozilla/5.0\" us={status} ua=10.0.0.{}:8080 rt=0.004",
            n % 250,
            n % 10,
            n % 60,
            n % 40
        )
    } else {
        let message = [
            "connect() failed (111: Connection refused) while connecting to upstream",
            "upstream timed out (110: Connection timed out) while reading response header from upstream",
            "recv() failed (104: Connection reset by peer) while reading response header from upstream",
            "upstream prematurely closed connection while reading response header from upstream",
        ][n % 4];
        format!(
            "2027/01/15 07:5{}:{:02} [error] 812#812: *{n} {message}, client: 203.0.113.{}, server: \
             shop, request: \"GET /api HTTP/1.1\", upstream: \"http://10.0.0.{}:8080/api\", host: \"shop\"",
            n % 10,
            n % 60,
            n % 250,
            n % 40
        )
    };
    let c = classify(&text, None);
    LogLine {
        format: c.format,
        cause: c.cause,
        status: c.status,
        upstream: c.upstream.map(str::to_owned),
        time: Some(NOW - 600 + (n % 600) as i64),
        text,
    }
}

fn logs_batch(source: usize, from: usize, count: usize) -> LogBatch {
    LogBatch {
        source,
        skipped: Default::default(),
        lines: (from..from + count)
            .map(|n| log_line(n, source == 1))
            .collect(),
        status: SourceStatus::Following,
        events: vec![],
    }
}

fn app(log_lines: usize) -> anyhow::Result<App> {
    let mut app = App::new(clock(), (W, H));
    app.hostname = "proxy-eu-1".into();
    app.update(Event::Host(Box::new(host_sample())));
    app.model.upstreams = upstreams()?;
    app.model.dns = gatewatch::model::dns::Dns::new(
        (0..NAMES).map(|n| format!("svc-{n:02}.internal")).collect(),
        &Default::default(),
    );
    app.update(Event::Dns(Box::new(dns_round(1))));
    app.model.logs = gatewatch::logs::LogBook::new(
        &[
            SourceSpec::file("/var/log/nginx/error.log", None),
            SourceSpec::file("/var/log/nginx/access.log", None),
        ],
        gatewatch::logs::RingLimits::default(),
    );
    for source in 0..2 {
        for chunk in 0..(log_lines / 500) {
            app.update(Event::Log(Box::new(logs_batch(source, chunk * 500, 500))));
        }
    }
    Ok(app)
}

/// A typed character; a newline is Enter.
fn key(app: &mut App, c: char) {
    let code = if c == '\n' {
        KeyCode::Enter
    } else {
        KeyCode::Char(c)
    };
    app.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

struct Stats {
    mean: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

/// Draws `frames` frames, changing the state a little before each (not timed).
fn measure(app: &mut App, frames: usize, log_lines: usize) -> anyhow::Result<Stats> {
    let theme = theme::load("default", None, ColorDepth::TrueColor)?;
    let mut term = Terminal::new(TestBackend::new(W, H))?;
    let mut times = Vec::with_capacity(frames);
    let mut seq = 1_000_000;
    for f in 0..frames + 20 {
        seq += 1;
        app.update(Event::Probes(vec![probe(f % UPSTREAMS, seq, 60)]));
        app.update(Event::Log(Box::new(logs_batch(f % 2, log_lines + f, 1))));
        // The judgement is made before the frame, as the event loop does: drawing only reads it.
        app.settle();
        let started = Instant::now();
        term.draw(|frame| gatewatch::ui::draw(frame, black_box(app), &theme))?;
        let took = started.elapsed();
        if f >= 20 {
            times.push(took); // the first frames warm caches and allocations
        }
    }
    times.sort();
    let n = times.len().max(1);
    let pick = |p: f64| times[((n as f64 * p) as usize).min(n - 1)];
    Ok(Stats {
        mean: times.iter().sum::<Duration>() / n as u32,
        p50: pick(0.50),
        p99: pick(0.99),
        max: times.last().copied().unwrap_or_default(),
    })
}

fn main() -> anyhow::Result<()> {
    let mut frames = 500usize;
    let mut log_lines = LOG_LINES;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--frames" => frames = args.next().context("--frames needs a value")?.parse()?,
            "--log-lines" => {
                log_lines = args.next().context("--log-lines needs a value")?.parse()?;
            }
            "--bench" => {} // cargo bench passes this
            other => bail!("unknown argument {other:?}"),
        }
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mut overall = Vec::new();
    for (name, keys) in [
        ("overview", ""),
        ("host zoomed", "1z"),
        ("upstreams zoomed", "2z"),
        ("dns zoomed", "3z"),
        ("logs zoomed", "4z"),
        ("logs merged", "4zm"),
        ("logs search", "4z/upstream\n"),
        ("logs filter+search", "4z&refused|timed\n/upstream\n"),
    ] {
        let mut app = app(log_lines)?;
        for c in keys.chars() {
            key(&mut app, c);
        }
        let s = measure(&mut app, frames, log_lines)?;
        println!(
            "render {W}x{H} {name:<18} mean {:>7.0} us  p50 {:>7.0} us  p99 {:>7.0} us  max {:>7.0} us  ({frames} frames)",
            us(s.mean),
            us(s.p50),
            us(s.p99),
            us(s.max)
        );
        if name == "overview" {
            overall.push(s);
        }
    }
    // The last line is for scripts (benches/all.sh): the overview, the frame users see most.
    if let Some(s) = overall.first() {
        println!(
            "RESULT render size={W}x{H} mean_us={:.0} p50_us={:.0} p99_us={:.0}",
            us(s.mean),
            us(s.p50),
            us(s.p99)
        );
    }
    Ok(())
}
