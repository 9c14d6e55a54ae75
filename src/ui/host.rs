//! The Host pane, like htop: CPU, load against cores, memory, sockets, ports, file handles, the
//! containers involved, then the processes. The summary lines come first because they are what
//! causes 502s; the process list takes whatever height is left.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::bars::{self, level_style};
use super::format::{bytes, count, percent, stale_age, uptime};
use super::status_style;
use crate::app::{App, ProcSort};
use crate::host::{HostSample, SOCKET_SCAN_MAX_AGE, TcpState};
use crate::pane::PaneId;
use crate::status::Status;
use crate::theme::Theme;

/// Per-core meters are this wide ("12 [||||  42%]").
const CORE_CELL: usize = 16;

/// The filter and the process count live in the bottom border, out of the content's way.
pub fn decorate<'a>(block: Block<'a>, area: Rect, app: &App, theme: &Theme) -> Block<'a> {
    let Some(sample) = &app.model.host else {
        return block;
    };
    let inner = block.inner(area);
    let short = summary(
        app,
        sample,
        usize::from(inner.width),
        usize::from(inner.height),
        theme,
    );
    let shown = app.host.visible.len();
    let total = sample.processes.len();
    let mut text = if shown == total {
        format!(" {total} processes ")
    } else {
        format!(" {shown}/{total} processes ")
    };
    // Scans are budgeted (see host::collector): say so when the budget holds them back. A quiet
    // host rescans every SOCKET_SCAN_MAX_AGE, so younger figures carry no label (one ticking
    // every second would repaint the line at every sample). In the border, where its coming
    // and going moves no row of the pane.
    if let Some(age) = stale_age(sample.sockets_age, SOCKET_SCAN_MAX_AGE) {
        text.push_str(&format!("· TCP counts {age} old "));
    }
    if let Some((PaneId::Host, editing)) = app.filter_input() {
        text.push_str(&format!("filter: {editing}█ "));
    } else if !app.host.filter.is_empty() {
        text.push_str(&format!("filter: {} ", app.host.filter));
    }
    if short.left_out > 0 && !app.zoomed {
        text.push_str("· z: all ");
    }
    block.title_bottom(Span::styled(text, theme.dim))
}

/// The process list keeps this many rows however short the pane: it is what says whether the
/// proxy's workers run and what else eats the CPU.
const MIN_PROCESS_ROWS: usize = 3;

/// Summary lines in the order drawn, each with when it gives way to the process list on a
/// short pane (lowest first); `None` never does.
struct Summary {
    lines: Vec<(Line<'static>, Option<u8>)>,
    /// Lines left out for the process list's rows: zoom shows them.
    left_out: usize,
}

/// The summary that fits `height` rows with the process list's least: first the CPU meter
/// gives its row to the load, then groups of lines that report nothing wrong (no warning or
/// critical figure; the header and the verdict name what is wrong) leave whole, healthy
/// services first, then memory, then ports and files. What is wrong always stays, even if the
/// process list gets fewer rows for it.
fn summary(app: &App, s: &HostSample, width: usize, height: usize, theme: &Theme) -> Summary {
    let budget = height.saturating_sub(1 + MIN_PROCESS_ROWS);
    let services = super::actions::service_chunks(app, theme);
    let tail = |lines: &mut Vec<(Line<'static>, Option<u8>)>, compact: bool| {
        lines.push((memory_line(s, width, theme), Some(1)));
        // TCP stays whole: CLOSE_WAIT is what a 502 from a hung-up upstream leaves.
        for line in wrap(tcp_chunks(s, width, theme), width) {
            lines.push((line, None));
        }
        for line in wrap(limit_chunks(s, theme), width) {
            lines.push((line, Some(2)));
        }
        // Compact, a troubled service is a group of its own, so the healthy ones can leave.
        let (troubled, healthy): (Vec<_>, Vec<_>) = services
            .iter()
            .skip(1)
            .cloned()
            .partition(|chunk| compact && concerns(chunk, theme));
        let label = services.first().cloned().into_iter();
        let any_healthy = !healthy.is_empty();
        let healthy_label = label.clone().filter(|_| any_healthy);
        let troubled_label = label.filter(|_| !any_healthy);
        for line in wrap(healthy_label.chain(healthy).collect(), width) {
            lines.push((line, Some(0)));
        }
        for line in wrap(troubled_label.chain(troubled).collect(), width) {
            lines.push((line, None));
        }
    };
    let mut lines = vec![
        (cpu_line(s, width, theme), None),
        (load_line(s, width, theme), None),
    ];
    tail(&mut lines, false);
    if lines.len() <= budget {
        return Summary { lines, left_out: 0 };
    }
    lines = wrap(cpu_load_chunks(s, width, theme), width)
        .into_iter()
        .map(|line| (line, None))
        .collect();
    tail(&mut lines, true);
    let mut left_out = 0;
    for rank in 0..=2 {
        let group = |r: &Option<u8>| *r == Some(rank);
        let troubled = lines
            .iter()
            .any(|(line, r)| group(r) && concerns(&line.spans, theme));
        if lines.len() <= budget || troubled {
            continue;
        }
        let before = lines.len();
        lines.retain(|(_, r)| !group(r));
        left_out += before - lines.len();
    }
    Summary { lines, left_out }
}

/// Whether spans show a warning or a critical figure.
fn concerns(spans: &[Span], theme: &Theme) -> bool {
    spans
        .iter()
        .any(|sp| sp.style == theme.warning || sp.style == theme.critical)
}

/// CPU and load on one line, the meter left out, for a short pane; "/ 4" for "/ 4 cores"
/// where the word does not fit.
fn cpu_load_chunks(s: &HostSample, width: usize, theme: &Theme) -> Vec<Vec<Span<'static>>> {
    let cpu = vec![
        Span::styled("CPU ", theme.accent),
        Span::styled(
            format!("{:.1}%", s.cpu_total),
            level_style(theme, f64::from(s.cpu_total)),
        ),
    ];
    let mut load = load_line(s, 0, theme).spans;
    let used: usize = cpu.iter().chain(&load).map(Span::width).sum();
    if used + 1 > width
        && let Some(cores) = load.last_mut()
    {
        *cores = Span::styled(format!(" / {}", s.cores), theme.dim);
    }
    vec![cpu, load]
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(s) = &app.model.host else { return };
    let width = usize::from(area.width);
    let height = usize::from(area.height);
    let mut summary: Vec<Line> = summary(app, s, width, height, theme)
        .lines
        .into_iter()
        .map(|(line, _)| line)
        .collect();

    // Findings and per-core meters only take rows the process list can spare: on a small
    // terminal the header already names the worst finding and the CPU line has the total.
    let mut room = height.saturating_sub(summary.len() + 1 + MIN_PROCESS_ROWS);
    // The containers the proxies involve come before findings and meters: they are what a
    // stale address is about. Without room for their table they take one line of the list's.
    let container_rows = match super::host_containers::wanted_rows(app) {
        0 => 0,
        wanted => wanted.min(room).max(1),
    };
    room = room.saturating_sub(container_rows);
    let containers = super::host_containers::lines(app, width, container_rows, theme);
    let findings: Vec<Line> = app
        .model
        .host_findings
        .iter()
        .take(room)
        .map(|f| {
            let mark = if f.status == Status::Critical {
                "✖ "
            } else {
                "▲ "
            };
            Line::from(Span::styled(
                format!("{mark}{}", f.message),
                status_style(theme, f.status),
            ))
        })
        .collect();
    room -= findings.len();
    let max_core_rows = if app.zoomed {
        room.min(16)
    } else {
        room.min(2)
    };
    let cores = core_lines(s, width, max_core_rows, theme);

    let mut lines = findings;
    lines.push(summary.remove(0));
    lines.extend(cores);
    lines.extend(summary);
    lines.extend(containers);
    let table_rows = height.saturating_sub(lines.len() + 1);
    let columns = Columns::for_width(width, app.host.sort());
    lines.push(process_header(columns, app, theme));
    let offset = app.scroll[PaneId::Host.index()];
    for p in app
        .host
        .visible_processes(app.model.host.as_ref())
        .skip(offset)
        .take(table_rows)
    {
        let mut spans = vec![Span::styled(format!("{:>7} ", p.pid), theme.dim)];
        if columns.user {
            let user: String = if p.user.chars().count() > 8 {
                p.user.chars().take(7).chain(['+']).collect()
            } else {
                p.user.clone()
            };
            spans.push(Span::styled(format!("{user:<8} "), theme.text));
        }
        if columns.cpu {
            spans.push(Span::styled(
                format!("{:>5.1} ", p.cpu),
                level_style(theme, f64::from(p.cpu)),
            ));
        }
        if columns.mem {
            spans.push(Span::styled(format!("{:>6} ", bytes(p.mem)), theme.text));
        }
        spans.push(Span::styled(p.command.clone(), theme.text));
        lines.push(Line::from(spans));
    }
    if app.host.visible.is_empty() && !app.host.filter.is_empty() {
        lines.push(Line::from(Span::styled(
            "  no process matches the filter",
            theme.dim,
        )));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// A group wider than the pane, word by word (each word keeping its style), so it wraps
/// instead of being cut at the border: a stopped service's reason, a long socket error.
fn split_wide(chunk: Vec<Span<'static>>, width: usize) -> Vec<Vec<Span<'static>>> {
    let len: usize = chunk.iter().map(Span::width).sum();
    if len <= width {
        return vec![chunk];
    }
    chunk
        .into_iter()
        .flat_map(|span| {
            let style = span.style;
            span.content
                .split_whitespace()
                .map(|word| vec![Span::styled(word.to_string(), style)])
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Lays out groups of spans that must stay together, as many per line as fit.
fn wrap(chunks: Vec<Vec<Span<'static>>>, width: usize) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let mut current: Vec<Span> = Vec::new();
    let mut used = 0;
    for chunk in chunks.into_iter().flat_map(|c| split_wide(c, width)) {
        let len: usize = chunk.iter().map(|s| s.width()).sum();
        if used > 0 && used + 1 + len > width {
            lines.push(Line::from(std::mem::take(&mut current)));
            used = 0;
        }
        if used > 0 {
            current.push(Span::raw(" "));
            used += 1;
        }
        current.extend(chunk);
        used += len;
    }
    if !current.is_empty() {
        lines.push(Line::from(current));
    }
    lines
}

fn cpu_line(s: &HostSample, width: usize, theme: &Theme) -> Line<'static> {
    let mut spans = vec![Span::styled("CPU ", theme.accent)];
    let meter = width.saturating_sub(4).clamp(8, 40);
    spans.extend(bars::meter(
        theme,
        f64::from(s.cpu_total),
        meter,
        &format!("{:.1}%", s.cpu_total),
    ));
    Line::from(spans)
}

/// Load against cores (the first thing to check), then uptime when there is room for it.
fn load_line(s: &HostSample, width: usize, theme: &Theme) -> Line<'static> {
    let cores = s.cores.max(1) as f64;
    let load_style = match s.load[0] {
        l if l > 2.0 * cores => theme.critical,
        l if l > cores => theme.warning,
        _ => theme.text,
    };
    let mut spans = vec![
        Span::styled("Load ", theme.accent),
        Span::styled(format!("{:.2}", s.load[0]), load_style),
        Span::styled(format!(" {:.2} {:.2}", s.load[1], s.load[2]), theme.text),
        Span::styled(format!(" / {} cores", s.cores), theme.dim),
    ];
    let up = format!("  Up {}", uptime(s.uptime));
    let used: usize = spans.iter().map(|s| s.width()).sum();
    if used + up.len() <= width {
        spans.push(Span::styled(up, theme.dim));
    }
    Line::from(spans)
}

/// Meters side by side while they fit in `max_rows`; beyond that one bar glyph per core.
fn core_lines(s: &HostSample, width: usize, max_rows: usize, theme: &Theme) -> Vec<Line<'static>> {
    let per_row = (width / CORE_CELL).max(1);
    let rows = s.cpu_per_core.len().div_ceil(per_row);
    if rows <= max_rows {
        return s
            .cpu_per_core
            .chunks(per_row)
            .enumerate()
            .map(|(row, chunk)| {
                let mut spans = Vec::new();
                for (i, pct) in chunk.iter().enumerate() {
                    let core = row * per_row + i;
                    spans.push(Span::styled(format!("{core:>3} "), theme.dim));
                    spans.extend(bars::meter(
                        theme,
                        f64::from(*pct),
                        CORE_CELL - 5,
                        &format!("{pct:.0}%"),
                    ));
                    spans.push(Span::raw(" "));
                }
                Line::from(spans)
            })
            .collect();
    }
    let per_row = width.saturating_sub(6).max(1);
    s.cpu_per_core
        .chunks(per_row)
        .take(max_rows)
        .enumerate()
        .map(|(i, chunk)| {
            let label = if i == 0 { "cores " } else { "      " };
            let mut spans = vec![Span::styled(label, theme.dim)];
            spans.extend(chunk.iter().map(|p| {
                Span::styled(
                    bars::mini(f64::from(*p)).to_string(),
                    level_style(theme, f64::from(*p)),
                )
            }));
            Line::from(spans)
        })
        .collect()
}

fn memory_line(s: &HostSample, width: usize, theme: &Theme) -> Line<'static> {
    let mem_pct = percent(s.mem_used as f64, s.mem_total as f64);
    let swap_pct = percent(s.swap_used as f64, s.swap_total as f64);
    let mem_label = format!("{}/{}", bytes(s.mem_used), bytes(s.mem_total));
    let swap_label = format!("{}/{}", bytes(s.swap_used), bytes(s.swap_total));
    let meter = (width.saturating_sub(9) / 2).clamp(mem_label.len().max(swap_label.len()) + 2, 40);
    let mut spans = vec![Span::styled("Mem ", theme.accent)];
    spans.extend(bars::meter(theme, mem_pct, meter, &mem_label));
    spans.push(Span::styled(" Swp ", theme.accent));
    spans.extend(bars::meter(theme, swap_pct, meter, &swap_label));
    Line::from(spans)
}

fn tcp_chunks(s: &HostSample, width: usize, theme: &Theme) -> Vec<Vec<Span<'static>>> {
    let states = match &s.sockets {
        Ok(t) => t,
        Err(e) => {
            return vec![vec![
                Span::styled("TCP ", theme.accent),
                Span::styled(e.clone(), theme.unknown),
            ]];
        }
    };
    // The states that tell a 502 story are always shown, even at zero; others only when present.
    const KEY: [(TcpState, &str); 5] = [
        (TcpState::Established, "ESTAB"),
        (TcpState::TimeWait, "TIME_WAIT"),
        (TcpState::CloseWait, "CLOSE_WAIT"),
        (TcpState::SynSent, "SYN_SENT"),
        (TcpState::Listen, "LISTEN"),
    ];
    let mut chunks = vec![vec![Span::styled("TCP", theme.accent)]];
    let mut add = |label: &str, n: u32, style: Style| {
        chunks.push(vec![
            Span::styled(format!("{label} "), theme.dim),
            Span::styled(count(u64::from(n)), style),
        ]);
    };
    // A narrow pane keeps only the states that are present, besides the three that are always
    // telling: CLOSE_WAIT is an upstream that closed while the proxy still holds the socket.
    let narrow = width < 60;
    for (state, label) in KEY {
        let n = states.counts.get(&state).copied().unwrap_or(0);
        let telling = matches!(
            state,
            TcpState::Established | TcpState::TimeWait | TcpState::CloseWait
        );
        if narrow && n == 0 && !telling {
            continue;
        }
        let style = if n > 0 && matches!(state, TcpState::CloseWait | TcpState::SynSent) {
            theme.warning
        } else {
            theme.text
        };
        add(label, n, style);
    }
    for (state, n) in &states.counts {
        if *n > 0 && !KEY.iter().any(|(k, _)| k == state) {
            add(state.name(), *n, theme.text);
        }
    }
    chunks
}

fn usage_style(theme: &Theme, pct: f64, warn: f64, crit: f64) -> Style {
    if pct > crit {
        theme.critical
    } else if pct > warn {
        theme.warning
    } else {
        theme.text
    }
}

fn limit_chunks(s: &HostSample, theme: &Theme) -> Vec<Vec<Span<'static>>> {
    let ports = match &s.ports {
        Ok(p) => {
            let pct = percent(f64::from(p.in_use), f64::from(p.total()));
            Span::styled(
                format!(
                    "{}/{} {pct:.0}%",
                    count(u64::from(p.in_use)),
                    count(u64::from(p.total()))
                ),
                usage_style(theme, pct, 70.0, 90.0),
            )
        }
        Err(e) => Span::styled(e.clone(), theme.unknown),
    };
    let files = match &s.files {
        Ok(f) => {
            let pct = percent(f.used as f64, f.max as f64);
            Span::styled(
                format!("{}/{} {pct:.0}%", count(f.used), count(f.max)),
                usage_style(theme, pct, 80.0, 95.0),
            )
        }
        Err(e) => Span::styled(e.clone(), theme.unknown),
    };
    vec![
        vec![Span::styled("Ports ", theme.accent), ports],
        vec![Span::styled(" Files ", theme.accent), files],
    ]
}

/// The process table's columns at a width: the command is what names a process, so on a
/// narrow pane the user goes first, then whichever of CPU and memory the list is not sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Columns {
    user: bool,
    cpu: bool,
    mem: bool,
}

impl Columns {
    fn for_width(width: usize, sort: ProcSort) -> Self {
        let roomy = width >= 40;
        Columns {
            user: width >= 50,
            cpu: roomy || sort == ProcSort::Cpu,
            mem: roomy || sort == ProcSort::Mem,
        }
    }
}

fn process_header(columns: Columns, app: &App, theme: &Theme) -> Line<'static> {
    let (cpu, mem) = match app.host.sort() {
        ProcSort::Cpu => ("CPU%▼", "MEM "),
        ProcSort::Mem => ("CPU% ", "MEM▼"),
    };
    let mut text = format!("{:>7} ", "PID");
    if columns.user {
        text.push_str(&format!("{:<8} ", "USER"));
    }
    if columns.cpu {
        text.push_str(&format!("{cpu:>5} "));
    }
    if columns.mem {
        text.push_str(&format!("{mem:>6} "));
    }
    text.push_str("COMMAND");
    Line::from(Span::styled(text, theme.accent.reversed()))
}
