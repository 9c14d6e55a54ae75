//! The incident snapshot: a Markdown file to paste into a ticket or a chat, with the time, the
//! host, the verdict and the checklist, the upstreams, DNS, the firewall, the last log lines
//! that matter and the actions taken.
//!
//! Built from a [`Snapshot`], which both `gatewatch report` (one `check` run) and the dashboard
//! (`App::snapshot`) fill. Everything in it may come from an attacker (log lines, DNS answers,
//! upstream error text): it is sanitised, inline text is escaped, and log lines sit in code
//! fences longer than any backtick run they contain, so no line can close its block.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use jiff::tz::TimeZone;

use crate::check::{HostReport, Report, UpstreamReport};
use crate::diagnosis::Diagnosis;
use crate::dns::DnsRow;
use crate::logs::{self, LogLine, Origin, ReverseLines, SourceSpec, TimeParser};
use crate::sanitize::sanitize;
use crate::status::{Finding, Status};

/// Log lines a report carries at most.
pub const LOG_LINES: usize = 50;
/// A log line longer than this is cut (with the follower's visible marker).
pub const MAX_LINE_BYTES: usize = 4096;

/// One log line worth showing: a 502 cause or a 5xx answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportLine {
    /// The source's label (its path, or the command).
    pub source: String,
    /// Sanitised.
    pub text: String,
    /// Unix seconds from the line's own timestamp, for ordering across sources.
    pub time: Option<i64>,
}

/// Everything a report shows, plain data.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub time: jiff::Zoned,
    pub hostname: String,
    pub status: Status,
    pub diagnosis: Diagnosis,
    pub findings: Vec<Finding>,
    pub host: Option<HostReport>,
    pub upstreams: Vec<UpstreamReport>,
    pub dns: Vec<DnsRow>,
    /// What each firewall tool said, then the rules in an upstream's way.
    pub firewall: Vec<String>,
    /// Oldest first, at most [`LOG_LINES`].
    pub log_lines: Vec<ReportLine>,
    /// Pre-formatted, oldest first: "14:02:11 restart web: exit 0 in 1.2 s".
    pub actions: Vec<String>,
}

impl Snapshot {
    /// From one `check` run and the log lines read for it.
    pub fn from_report(report: &Report, log_lines: Vec<ReportLine>, time: jiff::Zoned) -> Self {
        let mut firewall: Vec<String> = report
            .firewall
            .tools
            .iter()
            .map(|t| t.note.clone())
            .collect();
        firewall.extend(report.firewall.matches.iter().map(|m| {
            format!(
                "{} {}: {} (upstream {}, {})",
                m.tool.name(),
                m.chain,
                m.rule,
                m.upstream,
                match m.path {
                    crate::firewall::PathKind::Outbound => "outbound",
                    crate::firewall::PathKind::Reply => "reply path",
                }
            )
        }));
        Snapshot {
            time,
            hostname: report.host.hostname.clone(),
            status: report.status,
            diagnosis: Diagnosis {
                steps: report.diagnosis.clone(),
                verdict: report.verdict.clone(),
            },
            findings: report.findings.clone(),
            host: Some(report.host.clone()),
            upstreams: report.upstreams.clone(),
            dns: report.dns.clone(),
            firewall,
            log_lines,
            actions: Vec::new(),
        }
    }
}

/// Whether a line belongs in a report: a 502 cause, or a 5xx answer.
pub fn relevant(line: &LogLine) -> bool {
    line.cause.is_some() || line.status.is_some_and(|s| (500..=599).contains(&s))
}

/// Keeps the newest `n` of `lines` (from any number of sources), oldest first: ordered by the
/// lines' own time, each source's order kept for equal times.
pub fn newest(mut lines: Vec<ReportLine>, n: usize) -> Vec<ReportLine> {
    lines.sort_by_key(|l| l.time.unwrap_or(i64::MIN));
    let skip = lines.len().saturating_sub(n);
    lines.split_off(skip)
}

/// The newest relevant lines of every log file, read backwards from each file's end (at most
/// [`logs::DEFAULT_MAX_LINES`] lines and [`logs::SCAN_MAX_BYTES`] per file). Command sources
/// cannot be read after the fact and are skipped; unreadable files are skipped (the checklist
/// says why).
pub fn recent_lines(sources: &[SourceSpec], n: usize) -> Vec<ReportLine> {
    let mut all = Vec::new();
    for spec in sources {
        let Origin::File(path) = &spec.origin else {
            continue;
        };
        match tail_of(path, spec, n) {
            Ok(lines) => all.extend(lines),
            Err(e) => tracing::debug!(path = %path.display(), "report skips a log: {e}"),
        }
    }
    newest(all, n)
}

fn tail_of(path: &Path, spec: &SourceSpec, n: usize) -> io::Result<Vec<ReportLine>> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut reader = ReverseLines::new(&file, len, MAX_LINE_BYTES, logs::SCAN_MAX_BYTES);
    let mut times = TimeParser::new(TimeZone::system());
    let label = spec.label();
    let mut raw = Vec::new();
    let mut found = Vec::new();
    let mut read = 0;
    while found.len() < n && read < logs::DEFAULT_MAX_LINES {
        let Some(at) = reader.next_line(&mut raw)? else {
            break;
        };
        read += 1;
        let line = logs::make_line(&raw, at.cut, spec.kind, &mut times);
        if relevant(&line) {
            found.push(ReportLine {
                source: label.clone(),
                text: line.text,
                time: line.time,
            });
        }
    }
    found.reverse();
    Ok(found)
}

/// Inline Markdown text: sanitised, and every character that could start markup escaped.
pub fn text(s: &str) -> String {
    let safe = sanitize(s);
    let mut out = String::with_capacity(safe.len() + 8);
    for c in safe.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '#' | '!' | '&'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An inline code span that no backtick in `s` can end early.
pub fn code(s: &str) -> String {
    let safe = sanitize(s);
    let fence = "`".repeat(longest_backtick_run(&safe) + 1);
    // A span that starts or ends with a backtick needs a space inside the fence.
    let pad = if safe.starts_with('`') || safe.ends_with('`') || safe.is_empty() {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{safe}{pad}{fence}")
}

fn longest_backtick_run(s: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// A fenced block of `lines`, its fence longer than any backtick run in them (and at least 3).
pub fn code_block(lines: &[&str]) -> String {
    let safe: Vec<String> = lines.iter().map(|l| sanitize(l).into_owned()).collect();
    let longest = safe
        .iter()
        .map(|l| longest_backtick_run(l))
        .max()
        .unwrap_or(0);
    let fence = "`".repeat((longest + 1).max(3));
    let mut out = format!("{fence}text\n");
    for l in &safe {
        out.push_str(l);
        out.push('\n');
    }
    out.push_str(&fence);
    out.push('\n');
    out
}

fn label(status: Status) -> String {
    format!("**{}**", status.label())
}

/// The report as Markdown.
pub fn markdown(s: &Snapshot) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let local = s.time.strftime("%Y-%m-%d %H:%M:%S %Z").to_string();
    let utc = s
        .time
        .timestamp()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let _ = writeln!(out, "# gatewatch incident report: {}\n", text(&s.hostname));
    let _ = writeln!(out, "- time: {} ({})", text(&local), text(&utc));
    let _ = writeln!(out, "- host: {}", code(&s.hostname));
    let _ = writeln!(out, "- status: {}", label(s.status));

    let v = &s.diagnosis.verdict;
    let _ = writeln!(out, "\n## Verdict\n");
    let _ = writeln!(out, "{} {}", label(v.status), text(&v.text));
    let _ = writeln!(out, "\n- cause: {}", code(v.cause.name()));

    let _ = writeln!(out, "\n## Checklist\n");
    for (i, step) in s.diagnosis.steps.iter().enumerate() {
        let _ = writeln!(
            out,
            "{}. {} {}: {}",
            i + 1,
            label(step.status),
            text(step.step.title()),
            text(&step.evidence)
        );
    }

    let _ = writeln!(out, "\n## Findings\n");
    if s.findings.is_empty() {
        let _ = writeln!(out, "None.");
    }
    for f in &s.findings {
        let _ = writeln!(out, "- {} {}", label(f.status), text(&f.message));
    }

    if let Some(h) = &s.host {
        let _ = writeln!(out, "\n## Host\n");
        let _ = writeln!(
            out,
            "- CPU {:.1}%, load {:.2} {:.2} {:.2} on {} cores",
            h.cpu_percent, h.load[0], h.load[1], h.load[2], h.cores
        );
        let _ = writeln!(
            out,
            "- memory {:.1}% used, swap {:.1}% used, up {}",
            h.mem_used_percent,
            h.swap_used_percent,
            crate::upstream::format_age(std::time::Duration::from_secs(h.uptime_seconds))
        );
        if let (Some(u), Some(m)) = (h.file_handles_used, h.file_handles_max) {
            let _ = writeln!(out, "- file handles {u} of {m}");
        }
        if let (Some(u), Some(t)) = (h.ephemeral_ports_in_use, h.ephemeral_ports_total) {
            let _ = writeln!(out, "- ephemeral ports {u} of {t} in use");
        }
        if let Some(states) = &h.tcp_states {
            let list: Vec<String> = states.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(out, "- TCP sockets: {}", text(&list.join(", ")));
        }
    }

    let _ = writeln!(out, "\n## Upstreams\n");
    if s.upstreams.is_empty() {
        let _ = writeln!(out, "None configured or discovered.");
    }
    for u in &s.upstreams {
        let result = match u.status_code {
            Some(code) => code.to_string(),
            None => u.outcome.to_string(),
        };
        let latency = u.latency_ms.map_or(String::new(), |l| format!(", {l} ms"));
        let _ = writeln!(
            out,
            "- **{}** {} {}: {}{latency}",
            u.state,
            code(&u.name),
            code(&u.target),
            text(&result)
        );
        if u.state != "up" && !u.detail.is_empty() {
            let _ = writeln!(out, "  - {}", text(&u.detail));
        }
    }

    let _ = writeln!(out, "\n## DNS\n");
    if s.dns.is_empty() {
        let _ = writeln!(out, "No names resolved.");
    }
    for row in &s.dns {
        let answer = match &row.error {
            Some(e) => format!("error: {e}"),
            None => row.answers.join(", "),
        };
        let _ = writeln!(
            out,
            "- {} via {}: {} ({} ms)",
            code(&row.name),
            code(&row.nameserver),
            text(&answer),
            row.latency_ms
        );
    }

    let _ = writeln!(out, "\n## Firewall\n");
    if s.firewall.is_empty() {
        let _ = writeln!(out, "Not read.");
    }
    for line in &s.firewall {
        let _ = writeln!(out, "- {}", text(line));
    }

    let _ = writeln!(
        out,
        "\n## Recent log lines\n\nThe newest {} lines with a 502 cause or a 5xx status, oldest first.\n",
        s.log_lines.len()
    );
    if s.log_lines.is_empty() {
        let _ = writeln!(out, "None found.");
    }
    // One block per run of lines from the same source.
    let mut i = 0;
    while i < s.log_lines.len() {
        let source = &s.log_lines[i].source;
        let run: Vec<&str> = s.log_lines[i..]
            .iter()
            .take_while(|l| &l.source == source)
            .map(|l| l.text.as_str())
            .collect();
        let _ = writeln!(out, "{}:\n", code(source));
        out.push_str(&code_block(&run));
        out.push('\n');
        i += run.len();
    }

    let _ = writeln!(out, "## Actions taken\n");
    if s.actions.is_empty() {
        let _ = writeln!(out, "None.");
    }
    for a in &s.actions {
        let _ = writeln!(out, "- {}", text(a));
    }
    out
}

/// Writes a new file, readable by its owner only (logs may hold secrets). Never overwrites: an
/// existing file or a symlink at `path` (even a dangling one) is an error, so a report cannot be
/// redirected onto another file.
pub fn write_new(path: &Path, contents: &str) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// Writes `report-<time>.md` into `$XDG_STATE_HOME/gatewatch` (or `~/.local/state/gatewatch`);
/// returns its path. What `e` in the dashboard does.
pub fn write_to_state_dir(s: &Snapshot) -> anyhow::Result<PathBuf> {
    let dir = crate::diagnostics::state_dir()
        .context("no XDG_STATE_HOME or HOME to write the report under")?;
    write_into(&dir, s)
}

/// Writes `report-<time>.md` into `dir` (created owner-only when missing), `-2`, `-3`... when
/// one was written the same second; returns its path.
pub fn write_into(dir: &Path, s: &Snapshot) -> anyhow::Result<PathBuf> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let stamp = s.time.strftime("%Y%m%d-%H%M%S").to_string();
    let contents = markdown(s);
    for n in 1..=100 {
        let name = match n {
            1 => format!("report-{stamp}.md"),
            n => format!("report-{stamp}-{n}.md"),
        };
        let path = dir.join(name);
        match write_new(&path, &contents) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot write {}", path.display())),
        }
    }
    anyhow::bail!("{}: 100 reports this second already", dir.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_text_cannot_start_markup() {
        assert_eq!(
            text("**bold** [link](http://x) <script> `code` a|b #h !img ~~s~~ &amp;"),
            "\\*\\*bold\\*\\* \\[link\\](http://x) \\<script\\> \\`code\\` a\\|b \\#h \\!img \\~\\~s\\~\\~ \\&amp;"
        );
        assert_eq!(text("a\u{1b}[2Jb\nc"), "a\\\\x1b\\[2Jb\\\\x0ac");
    }

    #[test]
    fn code_spans_and_blocks_outlast_any_backtick_run() {
        assert_eq!(code("plain"), "`plain`");
        assert_eq!(code("a `b` c"), "``a `b` c``");
        assert_eq!(code("``x"), "``` ``x ```");
        let block = code_block(&["GET /```\n", "ok ````` done"]);
        assert!(block.starts_with("``````text\n"), "{block}");
        assert!(block.ends_with("\n``````\n"));
        assert!(
            block.contains("GET /```\\x0a\n"),
            "newlines cannot end the line early"
        );
        assert!(code_block(&["x"]).starts_with("```text\n"));
    }

    fn snapshot() -> Snapshot {
        let time = jiff::Timestamp::from_second(1_800_000_000)
            .unwrap()
            .to_zoned(TimeZone::UTC);
        let diagnosis = crate::diagnosis::diagnose(&crate::diagnosis::Inputs::default());
        Snapshot {
            time,
            hostname: "proxy-1".into(),
            status: Status::Unknown,
            diagnosis,
            findings: vec![],
            host: None,
            upstreams: vec![],
            dns: vec![],
            firewall: vec![],
            log_lines: vec![],
            actions: vec!["14:02:11 restart web: exit 0 in 1.2 s".into()],
        }
    }

    #[test]
    fn reports_land_in_a_private_dir_without_overwriting_each_other() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state/gatewatch");
        let first = write_into(&dir, &snapshot()).expect("written");
        assert_eq!(first, dir.join("report-20270115-080000.md"));
        let second = write_into(&dir, &snapshot()).expect("written");
        assert_eq!(second, dir.join("report-20270115-080000-2.md"));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&first), 0o600);
        assert_eq!(mode(&dir), 0o700);
        let text = fs::read_to_string(&second).unwrap();
        assert!(
            text.contains("## Actions taken\n\n- 14:02:11 restart web: exit 0 in 1.2 s\n"),
            "{text}"
        );
        assert!(
            text.contains("- time: 2027-01-15 08:00:00 UTC (2027-01-15T08:00:00Z)\n"),
            "{text}"
        );
    }

    #[test]
    fn newest_lines_across_sources_are_ordered_by_their_time() {
        let line = |source: &str, text: &str, time| ReportLine {
            source: source.into(),
            text: text.into(),
            time: Some(time),
        };
        let lines = vec![
            line("a", "a1", 10),
            line("a", "a2", 30),
            line("b", "b1", 20),
            line("b", "b2", 40),
        ];
        let kept: Vec<String> = newest(lines, 3).into_iter().map(|l| l.text).collect();
        assert_eq!(kept, ["b1", "a2", "b2"]);
    }
}
