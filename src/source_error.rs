//! Compiler-style error reports for the TOML files a user edits (config and themes).
//!
//! One place formats `path:line:col: message` plus a caret snippet, so both file kinds read alike.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::sanitize::sanitize;

/// An error at a place in a source file, rendered like a compiler diagnostic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceError {
    pub path: PathBuf,
    /// 1-based line and column (in characters); `None` when the error has no known position.
    pub position: Option<(usize, usize)>,
    pub message: String,
    snippet: Option<Snippet>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Snippet {
    /// The source line, already made safe for a terminal.
    line: String,
    caret_offset: usize,
    caret_len: usize,
}

impl SourceError {
    /// An error at byte range `span` of `text`, the contents of `path`.
    pub fn new(
        path: &Path,
        text: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Self {
        let (position, snippet) = match span {
            Some(span) => {
                let (position, snippet) = locate(text, span);
                (Some(position), Some(snippet))
            }
            None => (None, None),
        };
        SourceError {
            path: path.to_path_buf(),
            position,
            message: message.into(),
            snippet,
        }
    }

    /// Converts a TOML syntax or type error, keeping toml's own message and position.
    pub fn from_toml(path: &Path, text: &str, err: &toml::de::Error) -> Self {
        SourceError::new(path, text, err.span(), err.message().trim_end())
    }

    pub fn line(&self) -> Option<usize> {
        self.position.map(|(line, _)| line)
    }

    pub fn column(&self) -> Option<usize> {
        self.position.map(|(_, column)| column)
    }
}

impl std::error::Error for SourceError {}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = sanitize(&self.path.to_string_lossy()).into_owned();
        let message = sanitize(&self.message).into_owned();
        let (Some((line, column)), Some(snippet)) = (self.position, &self.snippet) else {
            return write!(f, "{path}: {message}");
        };
        let number = line.to_string();
        let gutter = " ".repeat(number.len());
        write!(
            f,
            "{path}:{line}:{column}: {message}\n{gutter} |\n{number} | {}\n{gutter} | {}{}",
            snippet.line,
            " ".repeat(snippet.caret_offset),
            "^".repeat(snippet.caret_len)
        )
    }
}

/// Finds the line and column of `span.start` and the caret under the part of `span` on that line.
fn locate(text: &str, span: Range<usize>) -> ((usize, usize), Snippet) {
    let start = text.floor_char_boundary(span.start.min(text.len()));
    let end = text.floor_char_boundary(span.end.clamp(start, text.len()));
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let raw_line = text[line_start..line_end].trim_end_matches('\r');
    let before = &text[line_start..start];
    let under = &text[start..end.min(line_start + raw_line.len()).max(start)];

    let line = text[..line_start].matches('\n').count() + 1;
    let column = before.chars().count() + 1;
    // Measure after sanitising: an escaped control character is wider than one column.
    let snippet = Snippet {
        line: sanitize(raw_line).into_owned(),
        caret_offset: sanitize(before).chars().count(),
        caret_len: sanitize(under).chars().count().max(1),
    };
    ((line, column), snippet)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str, span: Range<usize>) -> String {
        SourceError::new(Path::new("/c.toml"), text, Some(span), "bad").to_string()
    }

    #[test]
    fn points_at_the_span_on_its_line() {
        let text = "a = 1\nrefrsh = \"2s\"\n";
        assert_eq!(
            render(text, 6..12),
            "/c.toml:2:1: bad\n  |\n2 | refrsh = \"2s\"\n  | ^^^^^^"
        );
    }

    #[test]
    fn wide_line_numbers_widen_the_gutter() {
        let text = format!("{}x = 1\n", "\n".repeat(11));
        assert_eq!(
            render(&text, 15..16),
            "/c.toml:12:5: bad\n   |\n12 | x = 1\n   |     ^"
        );
    }

    #[test]
    fn multi_line_span_is_cut_at_the_end_of_its_first_line() {
        let text = "k = [\n  1,\n]\n";
        assert_eq!(
            render(text, 4..12),
            "/c.toml:1:5: bad\n  |\n1 | k = [\n  |     ^"
        );
    }

    #[test]
    fn span_at_end_of_file_gets_one_caret() {
        let text = "k = \"abc";
        assert_eq!(
            render(text, 8..8),
            "/c.toml:1:9: bad\n  |\n1 | k = \"abc\n  |         ^"
        );
    }

    #[test]
    fn control_characters_are_escaped_and_carets_still_line_up() {
        let text = "k\x1b = 1";
        assert_eq!(
            render(text, 5..6),
            "/c.toml:1:6: bad\n  |\n1 | k\\x1b = 1\n  |         ^"
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "é = x";
        let err = SourceError::new(Path::new("/c.toml"), text, Some(5..6), "bad");
        assert_eq!(err.position, Some((1, 5)));
    }

    #[test]
    fn without_a_span_there_is_no_position() {
        let err = SourceError::new(Path::new("/c.toml"), "", None, "bad");
        assert_eq!(err.to_string(), "/c.toml: bad");
        assert_eq!(err.line(), None);
    }

    #[test]
    fn crlf_line_endings_are_not_shown() {
        let text = "a = 1\r\nb = ?\r\n";
        assert_eq!(
            render(text, 11..12),
            "/c.toml:2:5: bad\n  |\n2 | b = ?\n  |     ^"
        );
    }
}
