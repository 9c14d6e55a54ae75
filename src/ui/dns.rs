//! The DNS pane: every upstream name through every nameserver, failing first; Enter shows each
//! nameserver's full answer and the history of changes.

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::format::fit;
use super::status_style;
use crate::app::App;
use crate::dns::{DnsResult, DnsRound, Nameserver, Source};
use crate::model::dns::NameHealth;
use crate::pane::PaneId;
use crate::status::Status;
use crate::theme::Theme;

pub fn decorate<'a>(block: Block<'a>, app: &App, theme: &Theme) -> Block<'a> {
    let Some(round) = &app.model.dns.round else {
        return block;
    };
    let servers: Vec<String> = round
        .nameservers
        .iter()
        .enumerate()
        .map(|(i, ns)| format!("{} {ns}", i + 1))
        .collect();
    block.title_bottom(Span::styled(
        format!(" nameservers: {} ", servers.join(" · ")),
        theme.dim,
    ))
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let v = &app.model.dns;
    let Some(round) = &v.round else {
        let text = if v.names.is_empty() {
            "no names to resolve: upstream host names and [dns] names are resolved here".to_string()
        } else {
            format!("resolving {} name(s)…", v.names.len())
        };
        let lines = vec![Line::default(), Line::from(Span::styled(text, theme.dim))];
        frame.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: true }).centered(),
            area,
        );
        return;
    };
    match app.dns_detail.and_then(|i| v.order.get(i)) {
        Some(name) => detail(frame, area, app, round, name, theme),
        None => table(frame, area, app, round, theme),
    }
}

fn health_mark(h: Option<NameHealth>, theme: &Theme) -> Span<'static> {
    match h {
        Some(NameHealth::AllFail) => Span::styled("✖ ", theme.critical),
        Some(NameHealth::SomeFail) => Span::styled("▲ ", theme.warning),
        Some(NameHealth::Ok) => Span::styled("● ", theme.ok),
        None => Span::styled("… ", theme.dim),
    }
}

/// Seconds left of the smallest TTL, counted from when the round finished.
fn ttl_left(r: &DnsResult, round: &DnsRound, now: SystemTime) -> Option<u64> {
    let ttl = u64::from(r.min_ttl()?);
    let spent = now
        .duration_since(round.finished_at)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Some(ttl.saturating_sub(spent))
}

fn addresses(r: &DnsResult) -> String {
    let list: Vec<String> = r.addresses().map(|a| a.to_string()).collect();
    if list.is_empty() {
        r.error.clone().unwrap_or_default()
    } else {
        list.join(" ")
    }
}

/// The table's columns at a width. Name and addresses are never cut (a list too long for its
/// column goes on under itself); latency gives way first, then the TTL. The nameservers' marks
/// stay: they are where a disagreement shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Columns {
    name: usize,
    addresses: usize,
    ttl: bool,
    latency: bool,
}

impl Columns {
    const TTL: usize = 7;
    const LATENCY: usize = 8;

    /// `widest`: the longest address list; `longest`: the longest single address.
    fn for_width(width: usize, name: usize, servers: usize, widest: usize, longest: usize) -> Self {
        let fixed = 2 + name + 1 + servers;
        let room = |ttl: bool, latency: bool| {
            let optional =
                if ttl { Self::TTL } else { 0 } + if latency { Self::LATENCY } else { 0 };
            width.saturating_sub(fixed + 1 + optional)
        };
        let (ttl, latency) = [(true, true), (true, false), (false, false)]
            .into_iter()
            .find(|&(t, l)| room(t, l) >= widest)
            .or_else(|| {
                [(true, true), (true, false)]
                    .into_iter()
                    .find(|&(t, l)| room(t, l) >= longest)
            })
            .unwrap_or((false, false));
        Columns {
            name,
            addresses: room(ttl, latency).max(8),
            ttl,
            latency,
        }
    }
}

/// An address list in lines of at most `width`, broken between addresses (an address longer
/// than the width is cut where it is drawn).
fn address_lines(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// The system's view is what nginx gets when it resolves at start or reload.
fn main_result<'a>(round: &'a DnsRound, name: &str) -> Option<&'a DnsResult> {
    let system = round
        .results
        .iter()
        .find(|r| r.name == name && r.nameserver == Nameserver::System);
    system.or_else(|| round.results.iter().find(|r| r.name == name))
}

fn table(frame: &mut Frame, area: Rect, app: &App, round: &DnsRound, theme: &Theme) {
    let v = &app.model.dns;
    let width = usize::from(area.width);
    let servers = round.nameservers.len();
    let name_w = v
        .order
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 28);
    let main_of = |name: &'_ str| main_result(round, name);
    let lists: Vec<String> = v
        .order
        .iter()
        .filter_map(|n| main_of(n))
        .filter(|r| r.is_ok())
        .map(addresses)
        .collect();
    let widest = lists.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let longest = lists
        .iter()
        .flat_map(|l| l.split(' '))
        .map(|a| a.chars().count())
        .max()
        .unwrap_or(0);
    let cols = Columns::for_width(width, name_w, servers, widest, longest);
    let addr_w = cols.addresses;
    let mut header = format!(
        "  {} {} {}",
        fit("NAME", name_w),
        fit("ADDRESSES", addr_w),
        fit("NS", servers),
    );
    if cols.ttl {
        header = format!(
            "  {} {} {:>6} {}",
            fit("NAME", name_w),
            fit("ADDRESSES", addr_w),
            "TTL",
            fit("NS", servers)
        );
    }
    if cols.latency {
        header.push_str(&format!(" {:>7}", "LAT"));
    }
    let mut lines = vec![Line::from(Span::styled(
        fit(&header, width),
        theme.accent.reversed(),
    ))];
    let now = app.now();
    let cursor = app.scroll[PaneId::Dns.index()];
    let rows = usize::from(area.height).saturating_sub(1);
    let offset = cursor.saturating_sub(rows.saturating_sub(1));
    for (pos, name) in v.order.iter().enumerate().skip(offset) {
        if lines.len() > rows {
            break;
        }
        let results: Vec<&DnsResult> = round.for_name(name).collect();
        let main = main_of(name);
        let health = NameHealth::of(results.iter().copied());
        let mut spans = vec![
            health_mark(health, theme),
            Span::styled(format!("{} ", fit(name, name_w)), theme.text),
        ];
        let (addr_text, ttl, latency) = match main {
            Some(r) => {
                let ttl = match (r.source, ttl_left(r, round, now)) {
                    (Source::Hosts, _) => "hosts".to_string(),
                    (_, Some(t)) => format!("{t}s"),
                    (_, None) => "-".to_string(),
                };
                let max = results.iter().map(|r| r.latency).max().unwrap_or_default();
                (
                    addresses(r),
                    ttl,
                    format!("{:.0}ms", max.as_secs_f64() * 1000.0),
                )
            }
            None => (String::new(), "-".into(), "-".into()),
        };
        let addr_style = if main.is_some_and(|r| r.is_ok()) {
            theme.text
        } else {
            theme.critical
        };
        let mut addr_lines = if main.is_some_and(|r| r.is_ok()) {
            address_lines(&addr_text, addr_w)
        } else {
            vec![addr_text]
        }
        .into_iter();
        let first = addr_lines.next().unwrap_or_default();
        spans.push(Span::styled(
            format!("{} ", fit(&first, addr_w)),
            addr_style,
        ));
        if cols.ttl {
            spans.push(Span::styled(format!("{ttl:>6} "), theme.dim));
        }
        let main_addrs: Vec<_> = main.map(|r| r.addresses().collect()).unwrap_or_default();
        for ns in &round.nameservers {
            let mark = match results.iter().find(|r| &r.nameserver == ns) {
                None => Span::styled("·", theme.dim),
                Some(r) if !r.is_ok() => Span::styled("✖", theme.critical),
                Some(r) if r.addresses().collect::<Vec<_>>() != main_addrs => {
                    Span::styled("≠", theme.warning)
                }
                Some(_) => Span::styled("✓", theme.ok),
            };
            spans.push(mark);
        }
        if cols.latency {
            spans.push(Span::styled(format!(" {latency:>7}"), theme.text));
        }
        let selected = app.focus == PaneId::Dns && pos == cursor;
        let mut line = Line::from(spans);
        if selected {
            line = line.style(theme.selection);
        }
        lines.push(line);
        for more in addr_lines {
            let mut line = Line::from(Span::styled(
                format!("{}{}", " ".repeat(2 + name_w + 1), fit(&more, addr_w)),
                addr_style,
            ));
            if selected {
                line = line.style(theme.selection);
            }
            lines.push(line);
        }
    }
    lines.truncate(rows + 1);
    let left = usize::from(area.height).saturating_sub(lines.len());
    for f in app.model.dns.findings.iter().take(left) {
        let mark = if f.status == Status::Critical {
            "✖ "
        } else {
            "▲ "
        };
        lines.push(Line::from(Span::styled(
            format!("{mark}{}", f.message),
            status_style(theme, f.status),
        )));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

fn detail(frame: &mut Frame, area: Rect, app: &App, round: &DnsRound, name: &str, theme: &Theme) {
    let results: Vec<&DnsResult> = round.for_name(name).collect();
    let health = NameHealth::of(results.iter().copied());
    let mut lines = vec![Line::from(vec![
        health_mark(health, theme),
        Span::styled(name.to_string(), theme.title_focused),
    ])];
    lines.push(used_by(app, name, theme));
    for r in &results {
        let rcode = r.rcode.map_or("-".to_string(), |c| c.to_string());
        let via = if r.source == Source::Hosts {
            " (hosts file)"
        } else {
            ""
        };
        let answer = if r.answers.is_empty() {
            String::new()
        } else {
            r.answers
                .iter()
                .map(|a| match a.ttl {
                    Some(t) => format!("{} ttl {t}", a.addr),
                    None => a.addr.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let style = if r.is_ok() {
            theme.text
        } else {
            theme.critical
        };
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<22}", r.nameserver.to_string()), theme.accent),
            Span::styled(
                format!("{rcode:<9}{:>6.1}ms  ", r.latency.as_secs_f64() * 1000.0),
                theme.dim,
            ),
            Span::styled(format!("{answer}{via}"), style),
        ]));
        if !r.cname_chain.is_empty() {
            lines.push(Line::from(Span::styled(
                format!("      via CNAME {}", r.cname_chain.join(" → ")),
                theme.dim,
            )));
        }
        if let Some(e) = &r.error {
            lines.push(Line::from(Span::styled(
                format!("      {e}"),
                theme.critical,
            )));
        }
    }
    lines.push(Line::default());
    let changes: Vec<_> = app.model.dns.drift.history(name).collect();
    if changes.is_empty() {
        lines.push(Line::from(Span::styled(
            "  no change since gatewatch first resolved it",
            theme.dim,
        )));
    } else {
        lines.push(Line::from(Span::styled(
            "  changes (nginx keeps the address it resolved at start or reload):",
            theme.accent,
        )));
        for c in changes.iter().rev() {
            let at = jiff::Timestamp::try_from(c.at)
                .map(|t| {
                    t.to_zoned(app.clock.time_zone().clone())
                        .strftime("%H:%M:%S")
                        .to_string()
                })
                .unwrap_or_default();
            let list = |a: &[std::net::IpAddr]| {
                a.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            lines.push(Line::from(Span::styled(
                format!(
                    "  {at}  {}  {} → {}",
                    c.nameserver,
                    list(&c.before),
                    list(&c.after)
                ),
                theme.warning,
            )));
        }
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}

/// The upstreams written with `name` (`U` shows them in the Upstreams pane).
fn used_by(app: &App, name: &str, theme: &Theme) -> Line<'static> {
    let rows = &app.model.upstreams.rows;
    let names: Vec<String> = app
        .model
        .upstreams_using_name(name)
        .into_iter()
        .map(|i| crate::sanitize::sanitize(&rows[i].entry.upstream.name).into_owned())
        .collect();
    if names.is_empty() {
        return Line::from(Span::styled("  used by no upstream", theme.dim));
    }
    let mut spans = vec![
        Span::styled("  used by ", theme.dim),
        Span::styled(names.join(", "), theme.text),
    ];
    // The key as the key table has it, so the hint cannot name a key that does something else.
    let key = crate::keymap::BINDINGS
        .iter()
        .find(|b| b.action == crate::keymap::Action::ShowNameUpstreams);
    if let Some(b) = key {
        spans.push(Span::styled(
            format!("  ({} shows them)", b.keys_label()),
            theme.dim,
        ));
    }
    Line::from(spans)
}
