//! Apache's config syntax: logical lines (a trailing backslash continues a line), `#` comments on
//! their own lines, `<Section args>` ... `</Section>`, and words split like `ap_getword_conf`.

/// One logical line, numbered by its first physical line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Statement {
    Directive { name: String, args: Vec<String> },
    Open { name: String, args: Vec<String> },
    Close { name: String },
}

/// Iterates the logical lines of a file. Stops at a NUL byte, which no text config contains.
pub(super) struct Lines<'a> {
    rest: &'a [u8],
    line: usize,
    /// Line of the NUL byte that stopped reading, if one did.
    pub nul_line: Option<usize>,
}

impl<'a> Lines<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Lines {
            rest: bytes,
            line: 0,
            nul_line: None,
        }
    }

    fn physical(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() || self.nul_line.is_some() {
            return None;
        }
        let end = self
            .rest
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(self.rest.len());
        let raw = &self.rest[..end];
        self.rest = self.rest.get(end + 1..).unwrap_or_default();
        self.line += 1;
        if raw.contains(&0) {
            self.nul_line = Some(self.line);
            return None;
        }
        Some(raw)
    }
}

impl Iterator for Lines<'_> {
    type Item = (usize, String);

    fn next(&mut self) -> Option<(usize, String)> {
        loop {
            let first = self.physical()?;
            let start = self.line;
            let mut text = String::from_utf8_lossy(first).trim_end().to_string();
            while text.ends_with('\\') {
                text.pop();
                match self.physical() {
                    Some(more) => text.push_str(String::from_utf8_lossy(more).trim_end()),
                    None => break,
                }
            }
            let trimmed = text.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            return Some((start, trimmed.to_string()));
        }
    }
}

/// Parses one logical line (already trimmed, not a comment).
pub(super) fn parse_statement(text: &str) -> Result<Statement, String> {
    if let Some(rest) = text.strip_prefix("</") {
        let inner = rest
            .strip_suffix('>')
            .ok_or_else(|| format!("</{}> directive missing closing '>'", first_word(rest)))?;
        return Ok(Statement::Close {
            name: inner.trim().to_string(),
        });
    }
    if let Some(rest) = text.strip_prefix('<') {
        let inner = rest
            .strip_suffix('>')
            .ok_or_else(|| format!("<{}> directive missing closing '>'", first_word(rest)))?;
        let mut words = split_words(inner).into_iter();
        let name = words.next().unwrap_or_default();
        return Ok(Statement::Open {
            name,
            args: words.collect(),
        });
    }
    let mut words = split_words(text).into_iter();
    let name = words.next().unwrap_or_default();
    Ok(Statement::Directive {
        name,
        args: words.collect(),
    })
}

fn first_word(s: &str) -> &str {
    s.split_whitespace()
        .next()
        .unwrap_or_default()
        .trim_end_matches('>')
}

/// Words as `ap_getword_conf` reads them: a word starting with a quote runs to the matching quote
/// (a backslash protects that quote or a backslash); other words run to whitespace.
pub(super) fn split_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else {
            return words;
        };
        let mut word = String::new();
        if first == '"' || first == '\'' {
            chars.next();
            while let Some(c) = chars.next() {
                if c == '\\' && matches!(chars.peek(), Some(&n) if n == first || n == '\\') {
                    word.extend(chars.next());
                } else if c == first {
                    break;
                } else {
                    word.push(c);
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                word.push(c);
            }
        }
        words.push(word);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn logical_lines_join_continuations_and_skip_comments() {
        let src = b"# comment\n  ProxyPass /a \\\n     http://b/\n\nServerName x\r\n";
        let got: Vec<_> = Lines::new(src).collect();
        assert_eq!(
            got,
            vec![
                (2, "ProxyPass /a      http://b/".to_string()),
                (5, "ServerName x".to_string())
            ]
        );
        let mut lines = Lines::new(b"A\nB\0\nC\n");
        assert_eq!(lines.next(), Some((1, "A".to_string())));
        assert_eq!(lines.next(), None);
        assert_eq!(lines.nul_line, Some(2));
    }

    #[test]
    fn statements() {
        let d = |name: &str, args: &[&str]| Statement::Directive {
            name: name.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(
            parse_statement(r#"LogFormat "%h \"%r\" %>s" combined"#),
            Ok(d("LogFormat", &["%h \"%r\" %>s", "combined"]))
        );
        assert_eq!(
            parse_statement(r#"<Proxy "balancer://app">"#),
            Ok(Statement::Open {
                name: "Proxy".into(),
                args: vec!["balancer://app".into()]
            })
        );
        assert_eq!(
            parse_statement("</Proxy>"),
            Ok(Statement::Close {
                name: "Proxy".into()
            })
        );
        assert_eq!(
            parse_statement("<VirtualHost *:80"),
            Err("<VirtualHost> directive missing closing '>'".into())
        );
        assert_eq!(
            parse_statement("</Location"),
            Err("</Location> directive missing closing '>'".into())
        );
        // An unterminated quote runs to the end of the line, as in Apache.
        assert_eq!(
            parse_statement("ErrorLog \"/var/log/x"),
            Ok(d("ErrorLog", &["/var/log/x"]))
        );
        assert_eq!(split_words(r#"'it\'s' a\b"#), vec!["it's", "a\\b"]);
    }
}
