//! The corpus: every fixture config with the targets, logs and errors discovery must find in it,
//! and every fixture log line with the cause it must be read as, scored in one table.
//!
//! Config cases are directories `tests/corpus/configs/<proxy>-<case>/` holding the proxy's main
//! file and an `expect` file; log cases are `tests/corpus/logs/*.txt` files of
//! `EXPECT<TAB>RAW LINE`. docs/testing.md ("Adding a corpus case") describes both formats.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use gatewatch::discover::target::Target;
use gatewatch::discover::{self, ApiKind, Discovery, LogKindHint};
use gatewatch::logs::{TimeParser, make_line};

/// One scored expectation: a row of the table.
#[derive(Debug)]
struct Row {
    case: String,
    expected: String,
    got: String,
    ok: bool,
}

impl Row {
    fn new(case: &str, expected: &str, got: impl Into<String>, ok: bool) -> Row {
        Row {
            case: case.to_string(),
            expected: expected.to_string(),
            got: got.into(),
            ok,
        }
    }
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// The main file of each proxy, by the case directory's prefix.
const MAIN_FILES: &[(&str, &[&str])] = &[
    ("nginx", &["nginx.conf"]),
    ("haproxy", &["haproxy.cfg"]),
    ("apache", &["apache2.conf", "httpd.conf"]),
    ("caddy", &["Caddyfile", "caddy.json"]),
];

/// Runs the discovery a case directory's prefix names, or says why it cannot.
fn discover_case(dir: &Path, proxy: &str) -> Result<Discovery, String> {
    let files = MAIN_FILES
        .iter()
        .find(|(p, _)| *p == proxy)
        .map(|(_, f)| *f)
        .ok_or_else(|| format!("unknown proxy \"{proxy}\" (nginx, haproxy, apache, caddy)"))?;
    let main = files
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("no {} in the case directory", files.join(" or ")))?;
    match proxy {
        "nginx" => Ok(discover::nginx(&main)),
        "haproxy" => Ok(discover::haproxy(&main)),
        "apache" => Ok(discover::apache(&main)),
        _ => Ok(discover::caddy(&main)),
    }
}

/// "host:port" (brackets around IPv6) or "unix:/path", as `expect` files write targets.
fn target_text(t: &Target) -> String {
    match t {
        Target::Unix { path } => format!("unix:{}", path.display()),
        _ => {
            let host = t.host().unwrap_or_default();
            let port = t.port().unwrap_or_default();
            if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            }
        }
    }
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

/// Scores one `expect` line against a discovery; `dir` anchors relative log paths.
fn check_expectation(case: &str, line: &str, d: &Discovery, dir: &Path) -> Row {
    let (keyword, arg) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let arg = arg.trim();
    let targets = || list(d.targets.iter().map(|t| target_text(&t.target)));
    let (got, ok) = match keyword {
        "target" | "not-target" => {
            let found = d.targets.iter().any(|t| target_text(&t.target) == arg);
            let want = keyword == "target";
            let got = if found {
                format!("a target ({})", arg)
            } else {
                format!("not a target; targets: {}", targets())
            };
            (got, found == want)
        }
        "unprobeable" => {
            let hit = d
                .unprobeable
                .iter()
                .find(|u| u.name.contains(arg) || u.reason.contains(arg));
            match hit {
                Some(u) => (format!("{}: {}", u.name, u.reason), !arg.is_empty()),
                None => (
                    format!(
                        "no match; unprobeable: {}",
                        list(d.unprobeable.iter().map(|u| u.name.clone()))
                    ),
                    false,
                ),
            }
        }
        "unused" => {
            let found = d.unused.iter().any(|u| u.name == arg);
            let got = list(d.unused.iter().map(|u| u.name.clone()));
            (format!("unused: {got}"), found)
        }
        "log" => {
            let (kind, path) = arg.split_once(char::is_whitespace).unwrap_or((arg, ""));
            let kind = match kind {
                "error" => Some(LogKindHint::Error),
                "access" => Some(LogKindHint::Access),
                _ => None,
            };
            let path = dir.join(path.trim());
            let found = d
                .logs
                .iter()
                .any(|l| Some(l.kind) == kind && l.path == path);
            let got = list(d.logs.iter().map(|l| {
                let kind = if l.kind == LogKindHint::Error {
                    "error"
                } else {
                    "access"
                };
                format!("{kind} {}", l.path.display())
            }));
            (format!("logs: {got}"), kind.is_some() && found)
        }
        "resolver" => {
            let want: Option<SocketAddr> = arg.parse().ok();
            let found = want.is_some_and(|w| d.resolvers.contains(&w));
            let got = list(d.resolvers.iter().map(SocketAddr::to_string));
            (format!("resolvers: {got}"), found)
        }
        "api" => {
            let (kind, at) = arg.split_once(char::is_whitespace).unwrap_or((arg, ""));
            let kind = match kind {
                "haproxy" => Some(ApiKind::HaproxyStats),
                "caddy" => Some(ApiKind::CaddyAdmin),
                "envoy" => Some(ApiKind::EnvoyAdmin),
                _ => None,
            };
            let found = d
                .apis
                .iter()
                .any(|a| Some(a.kind) == kind && target_text(&a.at) == at.trim());
            let got = list(
                d.apis
                    .iter()
                    .map(|a| format!("{:?} {}", a.kind, target_text(&a.at))),
            );
            (format!("apis: {got}"), found)
        }
        "errors" => {
            let errors = list(d.errors.iter().map(|e| e.to_string()));
            let ok = arg.parse::<usize>().is_ok_and(|n| n == d.errors.len());
            (format!("{} errors: {errors}", d.errors.len()), ok)
        }
        _ => ("unreadable expectation".to_string(), false),
    };
    Row::new(case, line, got, ok)
}

/// Every expectation of one config case directory, scored.
fn check_config_case(dir: &Path) -> Vec<Row> {
    let case = dir.file_name().unwrap().to_string_lossy().into_owned();
    let proxy = case.split('-').next().unwrap_or_default();
    let expect = match fs::read_to_string(dir.join("expect")) {
        Ok(text) => text,
        Err(e) => return vec![Row::new(&case, "an expect file", e.to_string(), false)],
    };
    let lines: Vec<&str> = expect
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    if lines.is_empty() {
        return vec![Row::new(
            &case,
            "expectations",
            "the expect file has none",
            false,
        )];
    }
    match discover_case(dir, proxy) {
        Ok(d) => lines
            .iter()
            .map(|line| check_expectation(&case, line, &d, dir))
            .collect(),
        Err(reason) => vec![Row::new(&case, "a discovery", reason, false)],
    }
}

/// Scores one `EXPECT<TAB>RAW` log line, read as the follower reads a line (format detected
/// from the line itself, no configured kind).
fn check_log_line(case: &str, line: &str) -> Row {
    let Some((expected, raw)) = line.split_once('\t') else {
        return Row::new(case, line, "no tab between EXPECT and the raw line", false);
    };
    let read = make_line(raw.as_bytes(), 0, None, &mut TimeParser::default());
    let cause = read.cause.map_or("none", |c| c.name());
    let (got, ok) = match expected.strip_prefix("status=") {
        Some(status) => {
            let got = read
                .status
                .map_or_else(|| "no status".to_string(), |s| format!("status={s}"));
            let ok = status
                .parse::<u16>()
                .ok()
                .is_some_and(|s| read.status == Some(s));
            (got, ok)
        }
        None => (cause.to_string(), cause == expected),
    };
    // Long raw lines are shortened in the table; the case names the file and line.
    let shown: String = raw.chars().take(60).collect();
    Row::new(case, &format!("{expected}  {shown}"), got, ok)
}

/// Every line of one log case file, scored.
fn check_log_file(path: &Path) -> Vec<Row> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => return vec![Row::new(&name, "a readable file", e.to_string(), false)],
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, l)| check_log_line(&format!("{name}:{}", i + 1), l))
        .collect()
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}

fn table(rows: &[Row]) -> String {
    let width = |f: fn(&Row) -> &str, title: &str| {
        rows.iter()
            .map(|r| f(r).chars().count())
            .chain([title.len()])
            .max()
            .unwrap_or(0)
            .min(70)
    };
    let (wc, we) = (
        width(|r| &r.case, "case"),
        width(|r| &r.expected, "expected"),
    );
    let wg = width(|r| &r.got, "got");
    let mut out = format!("{:wc$}  {:we$}  {:wg$}  ok\n", "case", "expected", "got");
    for r in rows {
        let ok = if r.ok { "ok" } else { "FAIL" };
        writeln!(
            out,
            "{:wc$}  {:we$}  {:wg$}  {ok}",
            r.case, r.expected, r.got
        )
        .unwrap();
    }
    out
}

#[test]
fn corpus() {
    let root = corpus_dir();
    let mut config_rows = Vec::new();
    for dir in sorted_entries(&root.join("configs")) {
        if dir.is_dir() {
            config_rows.extend(check_config_case(&dir));
        }
    }
    let mut log_rows = Vec::new();
    for file in sorted_entries(&root.join("logs")) {
        if file.extension().is_some_and(|e| e == "txt") {
            log_rows.extend(check_log_file(&file));
        }
    }
    let score = |rows: &[Row]| (rows.iter().filter(|r| r.ok).count(), rows.len());
    let (config_ok, config_all) = score(&config_rows);
    let (log_ok, log_all) = score(&log_rows);
    let all: Vec<Row> = config_rows.into_iter().chain(log_rows).collect();
    let summary = format!(
        "corpus: {config_ok}/{config_all} configs expectations, {log_ok}/{log_all} log lines"
    );
    // Written past the test harness's capture (which takes print! and eprint! only), so the
    // table is in the output of a passing run too.
    let mut err = std::io::stderr().lock();
    writeln!(err, "\n{}{summary}", table(&all)).unwrap();
    drop(err);
    let failures: Vec<String> = all
        .iter()
        .filter(|r| !r.ok)
        .map(|r| format!("{}: expected {:?}, got {:?}", r.case, r.expected, r.got))
        .collect();
    assert!(
        config_all >= 1 && log_all >= 1,
        "the corpus is empty: {summary}"
    );
    assert!(
        failures.is_empty(),
        "{summary}\n{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The runner can fail: a wrong expectation of each kind is reported as a mismatch, a right one
/// is not.
#[test]
fn wrong_expectations_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("haproxy-selftest");
    fs::create_dir(&case).unwrap();
    fs::write(
        case.join("haproxy.cfg"),
        "defaults\n    mode tcp\nbackend be\n    server s1 127.0.0.1:5432\n",
    )
    .unwrap();
    fs::write(
        case.join("expect"),
        "target 127.0.0.1:5432\ntarget 127.0.0.1:9999\nnot-target 127.0.0.1:5432\n\
         unprobeable s1\nunused be\nlog error /nonexistent/x.log\nresolver 10.0.0.2:53\n\
         api haproxy unix:/nonexistent/s\nerrors 1\nbogus 1\n",
    )
    .unwrap();
    let rows = check_config_case(&case);
    let oks: Vec<bool> = rows.iter().map(|r| r.ok).collect();
    assert_eq!(
        oks,
        [
            true, false, false, false, false, false, false, false, false, false
        ],
        "{rows:#?}"
    );
    assert!(rows[1].got.contains("127.0.0.1:5432"), "{:?}", rows[1]);

    let refused = "2024/05/01 12:00:00 [error] 7#7: *1 connect() failed (111: Connection refused) \
                   while connecting to upstream, client: 127.0.0.1, server: _, request: \
                   \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:8080/\", host: \"x\"";
    assert!(check_log_line("t", &format!("refused\t{refused}")).ok);
    let wrong = check_log_line("t", &format!("timeout\t{refused}"));
    assert!(!wrong.ok && wrong.got == "refused", "{wrong:?}");
    assert!(!check_log_line("t", &format!("none\t{refused}")).ok);
    assert!(!check_log_line("t", "refused without a tab").ok);
    let access =
        r#"127.0.0.1 - - [01/May/2024:12:00:00 +0000] "GET / HTTP/1.1" 502 157 "-" "curl/8""#;
    assert!(check_log_line("t", &format!("status=502\t{access}")).ok);
    assert!(!check_log_line("t", &format!("status=504\t{access}")).ok);

    // A case directory of an unknown proxy fails, naming why.
    let other = dir.path().join("squid-selftest");
    fs::create_dir(&other).unwrap();
    fs::write(
        other.join("squid.conf"),
        "cache_peer 127.0.0.1 parent 8080 0\n",
    )
    .unwrap();
    fs::write(other.join("expect"), "target 127.0.0.1:8080\n").unwrap();
    let rows = check_config_case(&other);
    assert!(
        rows.len() == 1 && !rows[0].ok && rows[0].got.contains("unknown proxy"),
        "{rows:?}"
    );
    let table = table(&rows);
    assert!(table.contains("FAIL"), "{table}");
}
