//! What the Logs pane shows of finding: the search with its counter ("/refused 3/41") and the
//! filters in the title, matches highlighted (the current one apart), the prompt and its hint
//! in the footer, and the "▼ N new lines" marker while paused.

use ratatui::style::{Modifier, Style};
use ratatui::text::Span;

use crate::app::App;
use crate::app::log_search::Pattern;
use crate::app::log_search_input::PromptKind;
use crate::pane::PaneId;
use crate::theme::Theme;

/// Visible index of the pane's bottom line.
pub fn bottom(app: &App) -> usize {
    app.logs
        .visible_len(&app.model.logs)
        .saturating_sub(1)
        .saturating_sub(app.scroll[PaneId::Logs.index()])
}

/// The top border's right: the prompt being typed or the search with its counter ("/refused
/// 3/41"), then the filters ("& 5xx · x health").
pub fn title(app: &App, theme: &Theme) -> Vec<Span<'static>> {
    let v = &app.logs;
    let mut spans = Vec::new();
    if let Some(p) = app.log_prompt() {
        spans.push(Span::styled(
            format!(" {}{}█", p.kind.lead(), p.text),
            theme.text,
        ));
        if let Err(why) = &p.preview {
            spans.push(Span::styled(format!(" {why}"), theme.critical));
        }
    } else if let Some(search) = v.find.search() {
        spans.push(Span::styled(format!(" /{}", search.text()), theme.text));
        if let Some(c) = v.counter(&app.model.logs, bottom(app)) {
            spans.push(Span::styled(
                format!(" {}/{}", c.current, c.total),
                theme.accent,
            ));
        }
    }
    for f in v.find.filters() {
        let sep = if spans.is_empty() { " " } else { " · " };
        spans.push(Span::styled(format!("{sep}{}", f.label()), theme.accent));
    }
    if !spans.is_empty() {
        spans.push(Span::raw(" "));
    }
    spans
}

/// The footer's hint while the Logs prompt is open: what the text may be, and what it would do.
pub fn prompt_hint(app: &App, theme: &Theme) -> Vec<Span<'static>> {
    let Some(p) = app.log_prompt() else {
        return vec![];
    };
    let what = match p.kind {
        PromptKind::GotoTime => "HH:MM, HH:MM:SS, -5m, -90s",
        _ => "regex, smartcase",
    };
    let mut spans = vec![Span::styled(format!(" · {what} "), theme.footer_text)];
    match &p.preview {
        Ok(s) if s.is_empty() => {}
        Ok(s) => spans.push(Span::styled(format!("· {s} "), theme.footer_key)),
        Err(why) => spans.push(Span::styled(format!("· {why} "), theme.critical)),
    }
    spans
}

/// Styles of the matches: the current one stands apart by more than colour.
pub fn match_style(line: Style, current: bool, theme: &Theme) -> Style {
    if current {
        theme
            .accent
            .reversed()
            .add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    } else {
        line.reversed()
    }
}

/// `text` cut into spans with every match of `search` styled as one.
pub fn highlighted(
    text: &str,
    search: Option<&Pattern>,
    style: Style,
    current: bool,
    theme: &Theme,
) -> Vec<Span<'static>> {
    let Some(search) = search else {
        return vec![Span::styled(text.to_string(), style)];
    };
    let hit = match_style(style, current, theme);
    let mut spans = Vec::new();
    let mut at = 0;
    for r in search.ranges(text) {
        spans.push(Span::styled(text[at..r.start].to_string(), style));
        spans.push(Span::styled(text[r.clone()].to_string(), hit));
        at = r.end;
    }
    spans.push(Span::styled(text[at..].to_string(), style));
    spans
}

/// "▼ 12 new lines (f follows)" while paused and lines arrived, else nothing.
pub fn new_lines_marker(app: &App, theme: &Theme) -> Option<Span<'static>> {
    let n = app.logs.unseen;
    (!app.logs.follow && n > 0).then(|| {
        let s = if n == 1 { "" } else { "s" };
        Span::styled(
            format!("▼ {n} new line{s} (f follows)"),
            theme.accent.reversed(),
        )
    })
}
