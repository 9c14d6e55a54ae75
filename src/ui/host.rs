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
pub fn decorate<'a>(block: Block<'a>, app: &App, theme: &Theme) -> Block<'a> {
    let Some(sample) = &app.model.host else {
        return block;
    };
    let shown = app.host.visible.len();
    let total = sample.processes.len();
    let mut text = if shown == total {
        format!(" {total} processes ")
    } else {
        format!(" {shown}/{total} processes ")
    };
    if let Some((PaneId::Host, editing)) = app.filter_input() {
        text.push_str(&format!("filter: {editing}█ "));
    } else if !app.host.filter.is_empty() {
        text.push_str(&format!("filter: {} ", app.host.filter));
    }
    block.title_bottom(Span::styled(text, theme.dim))
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(s) = &app.model.host else { return };
    let width = usize::from(area.width);
    let height = usize::from(area.height);
    let mut summary: Vec<Line> = vec![cpu_line(s, width, theme)];
    summary.push(load_line(s, width, theme));
    summary.push(memory_line(s, width, theme));
    summary.extend(wrap(tcp_chunks(s, width, theme), width));
    summary.extend(wrap(limit_chunks(s, theme), width));
    summary.extend(wrap(super::actions::service_chunks(app, theme), width));

    // Findings and per-core meters only take rows the process list can spare: on a small
    // terminal the header already names the worst finding and the CPU line has the total.
    const MIN_PROCESS_ROWS: usize = 3;
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
    lines.push(process_header(app, theme));
    let offset = app.scroll[PaneId::Host.index()];
    for p in app
        .host
        .visible_processes(app.model.host.as_ref())
        .skip(offset)
        .take(table_rows)
    {
        let user: String = if p.user.chars().count() > 8 {
            p.user.chars().take(7).chain(['+']).collect()
        } else {
            p.user.clone()
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{:>7} ", p.pid), theme.dim),
            Span::styled(format!("{user:<8} "), theme.text),
            Span::styled(
                format!("{:>5.1} ", p.cpu),
                level_style(theme, f64::from(p.cpu)),
            ),
            Span::styled(format!("{:>6} ", bytes(p.mem)), theme.text),
            Span::styled(p.command.clone(), theme.text),
        ]));
    }
    if app.host.visible.is_empty() && !app.host.filter.is_empty() {
        lines.push(Line::from(Span::styled(
            "  no process matches the filter",
            theme.dim,
        )));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// Lays out groups of spans that must stay together, as many per line as fit.
fn wrap(chunks: Vec<Vec<Span<'static>>>, width: usize) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let mut current: Vec<Span> = Vec::new();
    let mut used = 0;
    for chunk in chunks {
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
    let mut head = vec![Span::styled("TCP", theme.accent)];
    // Scans are budgeted (see host::collector): say so when the budget holds them back. A quiet
    // host rescans every SOCKET_SCAN_MAX_AGE, so younger figures carry no label (one ticking
    // every second would repaint the line at every sample).
    if let Some(age) = stale_age(s.sockets_age, SOCKET_SCAN_MAX_AGE) {
        head.push(Span::styled(format!(" ({age} ago)"), theme.dim));
    }
    let mut chunks = vec![head];
    let mut add = |label: &str, n: u32, style: Style| {
        chunks.push(vec![
            Span::styled(format!("{label} "), theme.dim),
            Span::styled(count(u64::from(n)), style),
        ]);
    };
    // A narrow pane keeps only the states that are present, besides the two that are always telling.
    let narrow = width < 60;
    for (state, label) in KEY {
        let n = states.counts.get(&state).copied().unwrap_or(0);
        if narrow && n == 0 && !matches!(state, TcpState::Established | TcpState::TimeWait) {
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

fn process_header(app: &App, theme: &Theme) -> Line<'static> {
    let (cpu, mem) = match app.host.sort() {
        ProcSort::Cpu => ("CPU%▼", "MEM "),
        ProcSort::Mem => ("CPU% ", "MEM▼"),
    };
    Line::from(Span::styled(
        format!("{:>7} {:<8} {cpu:>5} {mem:>6} COMMAND", "PID", "USER"),
        theme.accent.reversed(),
    ))
}
