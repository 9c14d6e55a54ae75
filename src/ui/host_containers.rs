//! The Host pane's containers: the proxies' containers and those their upstream names stand for,
//! with state, restarts, health and how long since each started. A table when there are rows to
//! spare, else one line naming them, troubled ones first; columns drop as the pane narrows.

use std::time::Duration;

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::format::{fit, uptime};
use super::status_style;
use crate::app::App;
use crate::containers::ContainerInfo;
use crate::model::containers::Involved;
use crate::status::Status;
use crate::theme::Theme;

/// What a container row says, in the order the columns drop when the pane narrows: the start
/// age first, the health last (then it shows in the state column when it is bad).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Up,
    Restarts,
    Health,
}

const STATE_WIDTH: usize = 11;
const RESTARTS_WIDTH: usize = 8;
const HEALTH_WIDTH: usize = 9;
const UP_WIDTH: usize = 8;
/// Names are cut to fit, but not below this: a name cut shorter says nothing.
const MIN_NAME: usize = 6;
const MAX_NAME: usize = 24;
/// The name column's title, and its width while there is room.
const HEADER_NAME: &str = "CONTAINER";

impl Column {
    fn width(self) -> usize {
        match self {
            Column::Up => UP_WIDTH,
            Column::Restarts => RESTARTS_WIDTH,
            Column::Health => HEALTH_WIDTH,
        }
    }
}

/// How many rows the section would fill, header included; 0 without containers.
pub(super) fn wanted_rows(app: &App) -> usize {
    match app.model.containers.involved.len() {
        0 => 0,
        n => n + 1,
    }
}

/// The section in at most `rows` lines of `width` columns: a header and a row per container when
/// two lines fit, else one line.
pub(super) fn lines(app: &App, width: usize, rows: usize, theme: &Theme) -> Vec<Line<'static>> {
    let involved = &app.model.containers.involved;
    if involved.is_empty() || rows == 0 {
        return Vec::new();
    }
    if rows == 1 {
        return vec![one_line(involved, width, theme)];
    }
    let now = crate::model::unix_seconds(app.now());
    let longest = involved
        .iter()
        .map(|i| i.name.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(HEADER_NAME.len(), MAX_NAME);
    let (columns, name_width) = layout(width, longest);
    let mut out = vec![header(&columns, name_width, theme)];
    let shown = rows - 1;
    let cut = involved.len() > shown;
    let take = if cut { shown - 1 } else { shown };
    out.extend(
        involved
            .iter()
            .take(take)
            .map(|i| row(i, &columns, name_width, now, theme)),
    );
    if cut {
        out.push(Line::from(Span::styled(
            format!("  +{} more containers", involved.len() - take),
            theme.dim,
        )));
    }
    out
}

/// The columns that fit beside a name of `longest` characters (cut down to [`MIN_NAME`] before
/// a column drops), and the name's width.
fn layout(width: usize, longest: usize) -> (Vec<Column>, usize) {
    let mut columns = vec![Column::Restarts, Column::Health, Column::Up];
    for drop in [Column::Up, Column::Restarts, Column::Health] {
        let rest: usize = STATE_WIDTH + 1 + columns.iter().map(|c| c.width() + 1).sum::<usize>();
        if width >= rest + MIN_NAME {
            return (columns, longest.min(width - rest));
        }
        columns.retain(|&c| c != drop);
    }
    let rest = STATE_WIDTH + 1;
    (columns, longest.min(width.saturating_sub(rest)).max(1))
}

fn header(columns: &[Column], name_width: usize, theme: &Theme) -> Line<'static> {
    let mut text = format!("{} {:<STATE_WIDTH$}", fit(HEADER_NAME, name_width), "STATE");
    for c in columns {
        match c {
            Column::Restarts => text.push_str(&format!(" {:>RESTARTS_WIDTH$}", "RESTARTS")),
            Column::Health => text.push_str(&format!(" {:<HEALTH_WIDTH$}", "HEALTH")),
            Column::Up => text.push_str(&format!(" {:>UP_WIDTH$}", "UP")),
        }
    }
    Line::from(Span::styled(text, theme.accent.reversed()))
}

fn row(
    involved: &Involved,
    columns: &[Column],
    name_width: usize,
    now: i64,
    theme: &Theme,
) -> Line<'static> {
    let name = Span::styled(format!("{} ", fit(&involved.name, name_width)), theme.text);
    let Some(c) = &involved.container else {
        return Line::from(vec![
            name,
            Span::styled(
                fit("not running", STATE_WIDTH),
                status_style(theme, Status::Critical),
            ),
        ]);
    };
    let health_shown = columns.contains(&Column::Health);
    // Without a health column a bad health is worth the state's place: "running" says less.
    let (state, style) = match health_of(c) {
        Some((h, s)) if !health_shown && s != Status::Ok => (h.to_owned(), status_style(theme, s)),
        _ => (c.state.clone(), state_style(c, theme)),
    };
    let mut spans = vec![name, Span::styled(fit(&state, STATE_WIDTH), style)];
    for column in columns {
        spans.push(Span::raw(" "));
        spans.push(match column {
            Column::Restarts => Span::styled(
                format!("{:>RESTARTS_WIDTH$}", c.restart_count),
                if c.restart_count > 0 {
                    theme.warning
                } else {
                    theme.text
                },
            ),
            Column::Health => match health_of(c) {
                Some((h, s)) => Span::styled(fit(h, HEALTH_WIDTH), status_style(theme, s)),
                None => Span::styled(fit("-", HEALTH_WIDTH), theme.dim),
            },
            Column::Up => Span::styled(format!("{:>UP_WIDTH$}", up(c, now)), theme.dim),
        });
    }
    Line::from(spans)
}

/// Every container on one line, those in trouble first and marked as findings are: with what
/// is wrong when that fits for all of them, else the marks alone; a count of any left over.
fn one_line(involved: &[Involved], width: usize, theme: &Theme) -> Line<'static> {
    let mut order: Vec<&Involved> = involved.iter().collect();
    order.sort_by_key(|i| std::cmp::Reverse(trouble(i).map_or(0, |(_, s)| s.severity())));
    let worded = one_line_with(&order, width, true, theme);
    match worded {
        (line, true) => line,
        (_, false) => one_line_with(&order, width, false, theme).0,
    }
}

/// The line, and whether every container fit on it.
fn one_line_with(
    order: &[&Involved],
    width: usize,
    words: bool,
    theme: &Theme,
) -> (Line<'static>, bool) {
    const TITLE: &str = "Containers";
    let mut spans = vec![Span::styled(TITLE, theme.accent)];
    let mut used = TITLE.len();
    for (n, i) in order.iter().enumerate() {
        let mut chunk = vec![Span::raw(" ")];
        match trouble(i) {
            Some((what, status)) => {
                let style = status_style(theme, status);
                let mark = if status == Status::Critical {
                    "✖"
                } else {
                    "▲"
                };
                chunk.push(Span::styled(format!("{mark}{}", i.name), style));
                if words {
                    chunk.push(Span::styled(format!(" {what}"), style));
                }
            }
            None => chunk.push(Span::styled(i.name.clone(), theme.text)),
        }
        let len: usize = chunk.iter().map(|s| s.width()).sum();
        let left = order.len() - n;
        // Room for this one and, unless it is the last, for the count of those after it.
        let after = if left > 1 {
            format!(" +{}", left - 1).len()
        } else {
            0
        };
        if used + len + after > width {
            spans.push(Span::styled(format!(" +{left}"), theme.dim));
            return (Line::from(spans), false);
        }
        used += len;
        spans.extend(chunk);
    }
    (Line::from(spans), true)
}

/// What is wrong with a container, worst first: not running, a state other than running, bad
/// health, restarts.
fn trouble(i: &Involved) -> Option<(String, Status)> {
    let Some(c) = &i.container else {
        return Some(("not running".into(), Status::Critical));
    };
    if c.state != "running" {
        return Some((c.state.clone(), state_status(c)));
    }
    if let Some((h, s)) = health_of(c).filter(|(_, s)| *s != Status::Ok) {
        return Some((h.to_owned(), s));
    }
    (c.restart_count > 0).then(|| (format!("↻{}", c.restart_count), Status::Warning))
}

fn state_status(c: &ContainerInfo) -> Status {
    match c.state.as_str() {
        "running" => Status::Ok,
        "restarting" | "paused" | "created" => Status::Warning,
        _ => Status::Critical,
    }
}

fn state_style(c: &ContainerInfo, theme: &Theme) -> Style {
    match state_status(c) {
        Status::Ok => theme.text,
        s => status_style(theme, s),
    }
}

fn health_of(c: &ContainerInfo) -> Option<(&str, Status)> {
    let h = c.health.as_deref()?;
    let status = match h {
        "healthy" => Status::Ok,
        "unhealthy" => Status::Critical,
        _ => Status::Warning,
    };
    Some((h, status))
}

/// Time since the container started, to the minute ("3m", "4h 12m"); "-" when not known.
fn up(c: &ContainerInfo, now: i64) -> String {
    match c.started_at {
        Some(at) => uptime(Duration::from_secs(
            u64::try_from(now.saturating_sub(at)).unwrap_or(0),
        )),
        None => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_drop_start_age_first_then_restarts_then_health() {
        use Column::{Health, Restarts, Up};
        assert_eq!(layout(120, 9), (vec![Restarts, Health, Up], 9));
        assert_eq!(layout(46, 9), (vec![Restarts, Health, Up], 6));
        assert_eq!(layout(45, 9), (vec![Restarts, Health], 9));
        assert_eq!(layout(30, 9), (vec![Health], 8));
        assert_eq!(layout(20, 9), (vec![], 8));
        assert_eq!(layout(3, 9), (vec![], 1));
    }
}
