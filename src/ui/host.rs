//! The Host pane, like htop: CPU, load against cores, memory, sockets, ports, file handles, then
//! the processes. The summary lines come first because they are what causes 502s; the process list
//! takes whatever height is left.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::bars::{self, level_style};
use super::format::{bytes, count, percent, uptime};
use super::status_style;
use crate::app::{App, ProcSort};
use crate::host::{HostSample, TcpState};
use crate::pane::PaneId;
use crate::status::Status;
use crate::theme::Theme;

/// Per-core meters are this wide ("12 [||||  42%]").
const CORE_CELL: usize = 16;

/// The filter and the process count live in the bottom border, out of the content's way.
pub fn decorate<'a>(block: Block<'a>, app: &App, theme: &Theme) -> Block<'a> {
    let Some(sample) = &app.host.sample else { return block };
    let shown = app.host.visible.len();
    let total = sample.processes.len();
    let mut text = if shown == total { format!(" {total} processes ") } else { format!(" {shown}/{total} processes ") };
    if let Some(editing) = &app.filter_input {
        text.push_str(&format!("filter: {editing}█ "));
    } else if !app.host.filter.is_empty() {
        text.push_str(&format!("filter: {} ", app.host.filter));
    }
    block.title_bottom(Span::styled(text, theme.dim))
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(s) = &app.host.sample else { return };
    let width = usize::from(area.width);
    let zoomed = app.zoomed;
    let mut lines: Vec<Line> = Vec::new();
    for f in &app.host.findings {
        let mark = if f.status == Status::Critical { "✖ " } else { "▲ " };
        lines.push(Line::from(Span::styled(format!("{mark}{}", f.message), status_style(theme, f.status))));
    }
    lines.push(cpu_line(s, width, theme));
    lines.extend(core_lines(s, width, if zoomed { 16 } else { 2 }, theme));
    lines.push(memory_line(s, width, theme));
    lines.push(tcp_line(s, theme));
    lines.push(limits_line(s, theme));
    let summary_height = lines.len().min(usize::from(area.height));
    let table_rows = usize::from(area.height).saturating_sub(summary_height + 1);
    lines.push(process_header(app, theme));
    let offset = app.scroll[PaneId::Host.index()];
    for p in app.host.visible_processes().skip(offset).take(table_rows) {
        let user: String = if p.user.chars().count() > 8 {
            p.user.chars().take(7).chain(['+']).collect()
        } else {
            p.user.clone()
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{:>7} ", p.pid), theme.dim),
            Span::styled(format!("{user:<8} "), theme.text),
            Span::styled(format!("{:>5.1} ", p.cpu), level_style(theme, f64::from(p.cpu))),
            Span::styled(format!("{:>6} ", bytes(p.mem)), theme.text),
            Span::styled(p.command.clone(), theme.text),
        ]));
    }
    if app.host.visible.is_empty() {
        lines.push(Line::from(Span::styled("  no process matches the filter", theme.dim)));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

fn cpu_line(s: &HostSample, width: usize, theme: &Theme) -> Line<'static> {
    let cores = s.cores.max(1) as f64;
    let load_style = match s.load[0] {
        l if l > 2.0 * cores => theme.critical,
        l if l > cores => theme.warning,
        _ => theme.text,
    };
    let load = format!(" load {:.2} {:.2} {:.2}", s.load[0], s.load[1], s.load[2]);
    let tail = format!(" / {} cores", s.cores);
    let meter_width = width.saturating_sub(4 + load.len() + tail.len()).clamp(8, 30);
    let mut spans = vec![Span::styled("CPU ", theme.accent)];
    spans.extend(bars::meter(theme, f64::from(s.cpu_total), meter_width, &format!("{:.1}%", s.cpu_total)));
    spans.push(Span::styled(load, load_style));
    spans.push(Span::styled(tail, theme.dim));
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
                    spans.extend(bars::meter(theme, f64::from(*pct), CORE_CELL - 5, &format!("{pct:.0}%")));
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
                Span::styled(bars::mini(f64::from(*p)).to_string(), level_style(theme, f64::from(*p)))
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
    let up = format!("  up {}", uptime(s.uptime));
    let meter = width.saturating_sub(8 + up.len()) / 2;
    let meter = meter.clamp(mem_label.len().max(swap_label.len()) + 2, 28);
    let mut spans = vec![Span::styled("Mem ", theme.accent)];
    spans.extend(bars::meter(theme, mem_pct, meter, &mem_label));
    spans.push(Span::styled(" Swp ", theme.accent));
    spans.extend(bars::meter(theme, swap_pct, meter, &swap_label));
    spans.push(Span::styled(up, theme.dim));
    Line::from(spans)
}

fn tcp_line(s: &HostSample, theme: &Theme) -> Line<'static> {
    let states = match &s.sockets {
        Ok(t) => t,
        Err(e) => return Line::from(Span::styled(format!("TCP  {e}"), theme.unknown)),
    };
    // The states that tell a 502 story are always shown, even at zero; others only when present.
    const KEY: [(TcpState, &str); 5] = [
        (TcpState::Established, "ESTAB"),
        (TcpState::TimeWait, "TIME_WAIT"),
        (TcpState::CloseWait, "CLOSE_WAIT"),
        (TcpState::SynSent, "SYN_SENT"),
        (TcpState::Listen, "LISTEN"),
    ];
    let mut spans = vec![Span::styled("TCP ", theme.accent)];
    for (state, label) in KEY {
        let n = states.counts.get(&state).copied().unwrap_or(0);
        let style = if n > 0 && matches!(state, TcpState::CloseWait | TcpState::SynSent) {
            theme.warning
        } else {
            theme.text
        };
        spans.push(Span::styled(format!(" {label} "), theme.dim));
        spans.push(Span::styled(count(u64::from(n)), style));
    }
    for (state, n) in &states.counts {
        if *n > 0 && !KEY.iter().any(|(k, _)| k == state) {
            spans.push(Span::styled(format!(" {} ", state.name()), theme.dim));
            spans.push(Span::styled(count(u64::from(*n)), theme.text));
        }
    }
    Line::from(spans)
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

fn limits_line(s: &HostSample, theme: &Theme) -> Line<'static> {
    let mut spans = vec![Span::styled("Ports ", theme.accent)];
    match &s.ports {
        Ok(p) => {
            let pct = percent(f64::from(p.in_use), f64::from(p.total()));
            spans.push(Span::styled(
                format!("{}/{} ({pct:.1}%)", count(u64::from(p.in_use)), count(u64::from(p.total()))),
                usage_style(theme, pct, 70.0, 90.0),
            ));
            spans.push(Span::styled(format!(" {}-{}", p.low, p.high), theme.dim));
        }
        Err(e) => spans.push(Span::styled(e.clone(), theme.unknown)),
    }
    spans.push(Span::styled("  Files ", theme.accent));
    match &s.files {
        Ok(f) => {
            let pct = percent(f.used as f64, f.max as f64);
            spans.push(Span::styled(
                format!("{}/{} ({pct:.1}%)", count(f.used), count(f.max)),
                usage_style(theme, pct, 80.0, 95.0),
            ));
        }
        Err(e) => spans.push(Span::styled(e.clone(), theme.unknown)),
    }
    Line::from(spans)
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
