//! The Caddyfile tokenizer, following Caddy's own lexer (caddyconfig/caddyfile/lexer.go).
//!
//! Tokens are separated by whitespace; a newline ends a statement unless it is escaped with `\`.
//! `"..."` strings take `\"` escapes and may span lines; `` `...` `` strings are raw; `<<MARKER`
//! starts a heredoc ending at a line holding only MARKER, whose indentation is removed from
//! every line. `#` starts a comment only where a token could start. `{$VAR}` and
//! `{$VAR:default}` are replaced before tokenizing, as Caddy does.

use std::path::Path;
use std::sync::Arc;

/// One token, where it starts, and whether a statement begins with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Token {
    pub text: String,
    /// Quoted tokens are never braces or directive names' syntax.
    pub quoted: bool,
    pub file: Arc<Path>,
    pub line: usize,
    /// An unescaped newline came between the previous token and this one.
    pub starts_line: bool,
}

impl Token {
    pub(super) fn is(&self, text: &str) -> bool {
        !self.quoted && self.text == text
    }
}

/// Why tokenizing stopped, and on which line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct LexError {
    pub line: usize,
    pub message: String,
}

/// Most tokens read from one file (a real Caddyfile has a few thousand): a 16 MiB file of
/// one-letter words would otherwise take gigabytes as tokens.
pub(super) const MAX_FILE_TOKENS: usize = 500_000;

/// Longest heredoc marker Caddy accepts is not documented; real ones are a word.
const MAX_MARKER: usize = 64;

/// Tokenizes a whole file. On an error, the tokens read before it are returned with it.
pub(super) fn tokenize(file: &Arc<Path>, src: &[u8]) -> (Vec<Token>, Option<LexError>) {
    if let Some(at) = src.iter().position(|&b| b == 0) {
        let line = 1 + src[..at].iter().filter(|&&b| b == b'\n').count();
        let (tokens, err) = tokenize(file, &src[..at]);
        let nul = LexError {
            line,
            message: "unexpected NUL byte: binary data, not a config file".into(),
        };
        return (tokens, err.or(Some(nul)));
    }
    let text = String::from_utf8_lossy(src);
    let text = replace_env(&text, |name| std::env::var(name).ok());
    Lexer {
        src: text.chars().collect(),
        pos: 0,
        line: 1,
        file: file.clone(),
        out: Vec::new(),
    }
    .run()
}

/// Replaces `{$NAME}` and `{$NAME:default}`. An unset variable without a default stays as it is
/// written, so it reads as a placeholder (unprobeable) rather than as nothing.
pub(super) fn replace_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{$") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after
            .find('}')
            .filter(|&e| !after[..e].contains(['\n', '{']))
        else {
            out.push_str("{$");
            rest = after;
            continue;
        };
        let inner = &after[..end];
        let (name, default) = match inner.split_once(':') {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        match lookup(name).or_else(|| default.map(str::to_string)) {
            Some(value) => out.push_str(&value),
            None => out.push_str(&rest[start..start + 2 + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

struct Lexer {
    src: Vec<char>,
    pos: usize,
    line: usize,
    file: Arc<Path>,
    out: Vec<Token>,
}

impl Lexer {
    fn run(mut self) -> (Vec<Token>, Option<LexError>) {
        let mut starts_line = true;
        loop {
            let Some(&c) = self.src.get(self.pos) else {
                return (self.out, None);
            };
            match c {
                '\n' => {
                    self.line += 1;
                    self.pos += 1;
                    starts_line = true;
                }
                c if c.is_whitespace() => self.pos += 1,
                '\\' if self.src.get(self.pos + 1) == Some(&'\n') => {
                    // An escaped newline continues the statement.
                    self.pos += 2;
                    self.line += 1;
                }
                '#' => {
                    while self.src.get(self.pos).is_some_and(|&c| c != '\n') {
                        self.pos += 1;
                    }
                }
                _ if self.out.len() >= MAX_FILE_TOKENS => {
                    let message = format!(
                        "more than {MAX_FILE_TOKENS} words in one file; the rest is not read"
                    );
                    let err = LexError {
                        line: self.line,
                        message,
                    };
                    return (self.out, Some(err));
                }
                _ => {
                    let line = self.line;
                    let token = match c {
                        '"' => self.quoted(),
                        '`' => self.backtick(),
                        '<' if self.heredoc_marker().is_some() => self.heredoc(),
                        _ => Ok(self.bare()),
                    };
                    match token {
                        Ok((text, quoted)) => self.out.push(Token {
                            text,
                            quoted,
                            file: self.file.clone(),
                            line,
                            starts_line,
                        }),
                        Err(message) => {
                            let err = LexError { line, message };
                            return (self.out, Some(err));
                        }
                    }
                    starts_line = false;
                }
            }
        }
    }

    /// A bare word: up to whitespace. A backslash keeps the next character (`\ ` is a space).
    fn bare(&mut self) -> (String, bool) {
        let mut text = String::new();
        while let Some(&c) = self.src.get(self.pos) {
            if c.is_whitespace() {
                break;
            }
            if c == '\\'
                && self
                    .src
                    .get(self.pos + 1)
                    .is_some_and(|n| !n.is_whitespace())
            {
                text.push('\\');
                text.push(self.src[self.pos + 1]);
                self.pos += 2;
                continue;
            }
            text.push(c);
            self.pos += 1;
        }
        (text, false)
    }

    fn quoted(&mut self) -> Result<(String, bool), String> {
        self.pos += 1;
        let mut text = String::new();
        while let Some(&c) = self.src.get(self.pos) {
            self.pos += 1;
            match c {
                '"' => return Ok((text, true)),
                '\\' if self.src.get(self.pos) == Some(&'"') => {
                    text.push('"');
                    self.pos += 1;
                }
                '\n' => {
                    self.line += 1;
                    text.push(c);
                }
                _ => text.push(c),
            }
        }
        Err("unterminated quoted string".into())
    }

    fn backtick(&mut self) -> Result<(String, bool), String> {
        self.pos += 1;
        let mut text = String::new();
        while let Some(&c) = self.src.get(self.pos) {
            self.pos += 1;
            if c == '`' {
                return Ok((text, true));
            }
            if c == '\n' {
                self.line += 1;
            }
            text.push(c);
        }
        Err("unterminated backtick string".into())
    }

    /// `<<MARKER` followed by the end of the line.
    fn heredoc_marker(&self) -> Option<String> {
        if self.src.get(self.pos + 1) != Some(&'<') {
            return None;
        }
        let mut marker = String::new();
        let mut i = self.pos + 2;
        while let Some(&c) = self.src.get(i) {
            if c == '\n' || c == '\r' {
                break;
            }
            if !(c.is_ascii_alphanumeric() || c == '_' || c == '-') || marker.len() >= MAX_MARKER {
                return None;
            }
            marker.push(c);
            i += 1;
        }
        (!marker.is_empty()).then_some(marker)
    }

    fn heredoc(&mut self) -> Result<(String, bool), String> {
        let marker = self.heredoc_marker().unwrap_or_default();
        self.pos += 2 + marker.chars().count();
        let mut lines: Vec<String> = Vec::new();
        let mut current = String::new();
        // Skip the rest of the opening line (a "\r" at most).
        while let Some(&c) = self.src.get(self.pos) {
            self.pos += 1;
            if c == '\n' {
                break;
            }
        }
        self.line += 1;
        loop {
            let Some(&c) = self.src.get(self.pos) else {
                return Err(format!("heredoc <<{marker} is never closed"));
            };
            self.pos += 1;
            if c != '\n' {
                current.push(c);
                if current.trim() == marker
                    && self.src.get(self.pos).is_none_or(|c| c.is_whitespace())
                {
                    let indent = current.len() - current.trim_start().len();
                    let indent = &current[..indent];
                    let body: Vec<&str> = lines
                        .iter()
                        .map(|l| l.strip_prefix(indent).unwrap_or(l))
                        .collect();
                    return Ok((body.join("\n"), true));
                }
                continue;
            }
            self.line += 1;
            lines.push(
                std::mem::take(&mut current)
                    .trim_end_matches('\r')
                    .to_string(),
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn lex(src: &str) -> Vec<(String, usize, bool)> {
        let file: Arc<Path> = Arc::from(Path::new("Caddyfile"));
        let (tokens, err) = tokenize(&file, src.as_bytes());
        assert_eq!(err, None);
        tokens
            .into_iter()
            .map(|t| (t.text, t.line, t.starts_line))
            .collect()
    }

    fn words(src: &str) -> Vec<String> {
        lex(src).into_iter().map(|t| t.0).collect()
    }

    #[test]
    fn words_quotes_comments_and_lines() {
        let got = lex("a.com {\n  reverse_proxy \"x y\" `raw \\\"` # note\n}\n");
        assert_eq!(
            got,
            vec![
                ("a.com".into(), 1, true),
                ("{".into(), 1, false),
                ("reverse_proxy".into(), 2, true),
                ("x y".into(), 2, false),
                ("raw \\\"".into(), 2, false),
                ("}".into(), 3, true),
            ]
        );
        // "#" inside a word is part of it.
        assert_eq!(words("a#b c"), ["a#b", "c"]);
        assert_eq!(words(r#""say \"hi\"""#), [r#"say "hi""#]);
    }

    #[test]
    fn an_escaped_newline_continues_the_statement() {
        let got = lex("reverse_proxy a:1 \\\n  b:2\nnext");
        assert_eq!(got[2], ("b:2".into(), 2, false));
        assert_eq!(got[3], ("next".into(), 3, true));
    }

    #[test]
    fn heredocs_strip_the_closing_indent_and_count_lines() {
        let got = lex("respond <<EOF\n    one\n      two\n    EOF 200\nnext\n");
        assert_eq!(got[1], ("one\n  two".into(), 1, false));
        assert_eq!(got[2], ("200".into(), 4, false));
        assert_eq!(got[3], ("next".into(), 5, true));
        // "<<" not followed by a marker is a plain word.
        assert_eq!(words("a << b"), ["a", "<<", "b"]);
    }

    #[test]
    fn errors_name_the_line() {
        let file: Arc<Path> = Arc::from(Path::new("Caddyfile"));
        let (tokens, err) = tokenize(&file, b"a\n\"open\n\n");
        assert_eq!(tokens.len(), 1);
        assert_eq!(err.unwrap().line, 2);
        let (_, err) = tokenize(&file, b"a <<END\nb\n");
        assert!(err.unwrap().message.contains("never closed"));
        let (tokens, err) = tokenize(&file, b"a\nb\0c");
        assert_eq!(tokens.len(), 2);
        assert_eq!(err.unwrap().line, 2);
        let huge = "a ".repeat(MAX_FILE_TOKENS + 10);
        let (tokens, err) = tokenize(&file, huge.as_bytes());
        assert_eq!(tokens.len(), MAX_FILE_TOKENS);
        assert!(err.unwrap().message.contains("the rest is not read"));
    }

    #[test]
    fn environment_placeholders() {
        let env = |n: &str| (n == "UP").then(|| "10.0.0.1:80".to_string());
        assert_eq!(replace_env("to {$UP} x", env), "to 10.0.0.1:80 x");
        assert_eq!(replace_env("{$NOPE:127.0.0.1:9}", env), "127.0.0.1:9");
        assert_eq!(replace_env("{$NOPE}", env), "{$NOPE}");
        assert_eq!(replace_env("{$open", env), "{$open");
        assert_eq!(replace_env("é{$UP}é", env), "é10.0.0.1:80é");
    }
}
