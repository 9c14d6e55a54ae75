//! Wrapping a styled line into rows of a pane's width, by display width: the Logs pane counts the
//! rows it fills from exactly what it draws, so a long line, combining marks or wide characters
//! neither cut off the newest line nor leave blank rows.

use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

/// `line` cut into rows at most `width` columns wide, each keeping its spans' styles. A
/// zero-width character (a combining mark) stays on the row of the character it marks; a
/// character wider than the whole row gets a row of its own. An empty line is one empty row.
pub fn rows(line: &Line<'_>, width: usize) -> Vec<Line<'static>> {
    let width = width.max(1);
    let mut rows: Vec<Line<'static>> = Vec::new();
    let mut row: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    for span in &line.spans {
        let mut piece = String::new();
        for c in span.content.chars() {
            let w = c.width().unwrap_or(0);
            if w > 0 && used + w > width && used > 0 {
                if !piece.is_empty() {
                    row.push(Span::styled(std::mem::take(&mut piece), span.style));
                }
                rows.push(Line::from(std::mem::take(&mut row)).style(line.style));
                used = 0;
            }
            piece.push(c);
            used += w;
        }
        if !piece.is_empty() {
            row.push(Span::styled(piece, span.style));
        }
    }
    if !row.is_empty() || rows.is_empty() {
        rows.push(Line::from(row).style(line.style));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Style;

    fn texts(rows: &[Line<'_>]) -> Vec<String> {
        rows.iter().map(|r| r.to_string()).collect()
    }

    #[test]
    fn rows_are_cut_by_display_width_keeping_styles() {
        let bold = Style::default().bold();
        let line = Line::from(vec![
            Span::styled("[refused] ", bold),
            Span::raw("abcdefghij"),
        ]);
        let rows = rows(&line, 8);
        assert_eq!(texts(&rows), ["[refused", "] abcdef", "ghij"]);
        assert_eq!(rows[1].spans[0].style, bold);
        assert_eq!(rows[1].spans[0].content, "] ");
        assert_eq!(rows[1].spans[1].content, "abcdef");
        assert_eq!(rows[1].spans[1].style, Style::default());
    }

    #[test]
    fn combining_marks_add_no_width_and_wide_characters_two() {
        // 6 letters each with a combining acute accent: 6 columns, one row of 6.
        let marked: String = "abcdef".chars().flat_map(|c| [c, '\u{301}']).collect();
        assert_eq!(rows(&Line::raw(marked.clone()), 6).len(), 1);
        assert_eq!(texts(&rows(&Line::raw(marked), 3)).len(), 2);
        // Wide characters take two columns: 5 of them need 10.
        assert_eq!(
            texts(&rows(&Line::raw("日本語日本"), 4)),
            ["日本", "語日", "本"]
        );
        // A character wider than the row still gets a row.
        assert_eq!(texts(&rows(&Line::raw("日"), 1)), ["日"]);
    }

    #[test]
    fn a_long_line_fills_exactly_the_rows_it_needs() {
        let line = Line::raw("x".repeat(4000));
        let rows = rows(&line, 120);
        assert_eq!(rows.len(), 34);
        assert_eq!(rows[33].width(), 4000 - 33 * 120);
        assert_eq!(texts(&super::rows(&Line::raw(""), 10)), [""]);
    }
}
