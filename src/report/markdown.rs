//! The incident snapshot as Markdown. Everything in it may come from an attacker (log lines,
//! DNS answers, upstream error text): it is sanitised, inline text is escaped, and log lines sit
//! in code fences longer than any backtick run they contain, so no line can close its block.

use super::Snapshot;
use crate::sanitize::sanitize;
use crate::status::Status;

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
    if !v.next_step.is_empty() {
        let _ = writeln!(out, "- next step: {}", text(&v.next_step));
    }
    if !v.evidence.is_empty() {
        let _ = writeln!(out, "\nEvidence:\n");
        for e in &v.evidence {
            let _ = writeln!(out, "- {}: {}", code(&e.source), text(&e.text));
        }
    }

    if let Some(since) = &v.since {
        let _ = writeln!(out, "- since: {}", text(since));
    }

    let _ = writeln!(out, "\n## Timeline\n");
    let t = &s.timeline;
    match (&t.onset, t.state) {
        (_, crate::timeline::OnsetState::None) => {
            let _ = writeln!(out, "- no failure in the logs read");
        }
        (Some(at), state) => {
            let _ = writeln!(out, "- {}: since {}", state.name(), code(at));
        }
        (None, state) => {
            let _ = writeln!(out, "- {}: began before the logs read", state.name());
        }
    }
    if let Some(story) = &t.story {
        let _ = writeln!(out, "- {}", text(story));
    }
    if let Some(from) = &t.covered_from {
        let _ = writeln!(
            out,
            "- the logs were read back to {} (scan budget)",
            code(from)
        );
    }
    if s.timeline_lines.is_empty() {
        let _ = writeln!(out, "\nNo events recorded.");
    } else {
        let _ = writeln!(
            out,
            "\nThe newest {} of {} events, newest first:\n",
            s.timeline_lines.len(),
            t.events.len()
        );
        for line in &s.timeline_lines {
            let _ = writeln!(out, "- {}", text(line));
        }
    }

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
        if let Some(p) = &u.proxy_view {
            let _ = writeln!(out, "  - the proxy's own view: {}", text(&p.summary));
        }
    }
    for api in &s.proxy_apis {
        let _ = writeln!(out, "- proxy's own view from {}", text(api));
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
}
