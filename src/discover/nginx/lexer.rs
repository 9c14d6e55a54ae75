//! nginx's config tokenizer, following `ngx_conf_read_token`.
//!
//! Words are separated by whitespace and end at `;` or `{`; a `}` or `#` inside a word is part of
//! it, and `{` right after `$` is part of a `${var}`. `#` starts a comment only where a word could
//! start. Quoted words may span lines and must be followed by whitespace, `;`, `{` or `)`. The
//! escapes `\" \' \\ \t \r \n` are decoded in every word; any other backslash is kept.

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Token {
    Word(String),
    Semicolon,
    OpenBrace,
    CloseBrace,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum LexError {
    #[error("unterminated quoted string")]
    Unterminated,
    #[error("unexpected NUL byte: binary data, not a config file")]
    Nul,
    /// The character is not quoted: this may be a file that is no config (see `known`).
    #[error("unexpected character after a quoted string")]
    AfterQuote,
}

pub(super) struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(src: &'a [u8]) -> Self {
        Lexer {
            src,
            pos: 0,
            line: 1,
        }
    }

    /// The line the lexer has reached.
    pub(super) fn line(&self) -> usize {
        self.line
    }

    /// The next token and the line it starts on; `Ok(None)` at the end of input. After an error
    /// the rest of the input should be abandoned.
    pub(super) fn next_token(&mut self) -> Result<Option<(Token, usize)>, (LexError, usize)> {
        loop {
            let Some(&b) = self.src.get(self.pos) else {
                return Ok(None);
            };
            let line = self.line;
            match b {
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'#' => {
                    let rest = &self.src[self.pos..];
                    self.pos += rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
                }
                0 => return Err((LexError::Nul, line)),
                b';' | b'{' | b'}' => {
                    self.pos += 1;
                    let token = match b {
                        b';' => Token::Semicolon,
                        b'{' => Token::OpenBrace,
                        _ => Token::CloseBrace,
                    };
                    return Ok(Some((token, line)));
                }
                b'"' | b'\'' => return self.quoted(b).map(|w| Some((Token::Word(w), line))),
                _ => return self.bare().map(|w| Some((Token::Word(w), line))),
            }
        }
    }

    fn quoted(&mut self, quote: u8) -> Result<String, (LexError, usize)> {
        let start_line = self.line;
        self.pos += 1;
        let start = self.pos;
        loop {
            let Some(&b) = self.src.get(self.pos) else {
                return Err((LexError::Unterminated, start_line));
            };
            match b {
                b'\\' => self.skip_escaped(),
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                }
                0 => return Err((LexError::Nul, self.line)),
                _ if b == quote => break,
                _ => self.pos += 1,
            }
        }
        let word = unescape(&self.src[start..self.pos]);
        self.pos += 1;
        match self.src.get(self.pos) {
            None | Some(b' ' | b'\t' | b'\r' | b'\n' | b';' | b'{' | b')') => Ok(word),
            Some(_) => Err((LexError::AfterQuote, self.line)),
        }
    }

    fn bare(&mut self) -> Result<String, (LexError, usize)> {
        let start = self.pos;
        while let Some(&b) = self.src.get(self.pos) {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'{' => break,
                b'\\' => self.skip_escaped(),
                b'$' if self.src.get(self.pos + 1) == Some(&b'{') => self.pos += 2,
                0 => return Err((LexError::Nul, self.line)),
                _ => self.pos += 1,
            }
        }
        Ok(unescape(&self.src[start..self.pos]))
    }

    /// Steps over a backslash and the byte it protects, counting an escaped newline.
    fn skip_escaped(&mut self) {
        self.pos += 1;
        match self.src.get(self.pos) {
            Some(b'\n') => {
                self.line += 1;
                self.pos += 1;
            }
            Some(0) | None => {}
            Some(_) => self.pos += 1,
        }
    }
}

/// What broke a `*_by_lua_block` body, and the line it starts on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum LuaError {
    #[error("unterminated Lua string at line {0}")]
    String(usize),
    #[error("unterminated Lua long string or comment at line {0}")]
    Long(usize),
    #[error("unexpected NUL byte at line {0}")]
    Nul(usize),
    #[error("no matching \"}}\" before the end of the file")]
    Unclosed,
}

impl Lexer<'_> {
    /// Skips the Lua body of a `*_by_lua_block`, the lexer standing just after its `{`, up to and
    /// including the matching `}`. Lua's strings, comments and long brackets may hold braces.
    ///
    /// When the Lua does not scan, the error is returned with `recovered` true if a plain count
    /// of braces still found the end of the block (the lexer is then past it), false if not (the
    /// lexer is then at the end of the input).
    pub(super) fn skip_lua_block(&mut self) -> Result<(), (LuaError, bool)> {
        let (start, start_line) = (self.pos, self.line);
        let Err(e) = self.scan_lua() else {
            return Ok(());
        };
        self.pos = start;
        self.line = start_line;
        let recovered = self.scan_braces();
        Err((e, recovered))
    }

    fn scan_lua(&mut self) -> Result<(), LuaError> {
        let mut depth = 1usize;
        while let Some(&b) = self.src.get(self.pos) {
            match b {
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                }
                0 => return Err(LuaError::Nul(self.line)),
                b'"' | b'\'' => self.lua_string(b)?,
                b'-' if self.src.get(self.pos + 1) == Some(&b'-') => {
                    self.pos += 2;
                    if let Some(level) = self.long_bracket() {
                        self.long(level)?;
                    } else {
                        let rest = &self.src[self.pos..];
                        self.pos += rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
                    }
                }
                b'[' => match self.long_bracket() {
                    Some(level) => self.long(level)?,
                    None => self.pos += 1,
                },
                b'{' => {
                    depth += 1;
                    self.pos += 1;
                }
                b'}' => {
                    depth -= 1;
                    self.pos += 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                _ => self.pos += 1,
            }
        }
        Err(LuaError::Unclosed)
    }

    /// A '...' or "..." string: a backslash protects the next byte (a newline too); an
    /// unprotected newline ends the line before the string, as in Lua.
    fn lua_string(&mut self, quote: u8) -> Result<(), LuaError> {
        let line = self.line;
        self.pos += 1;
        loop {
            match self.src.get(self.pos) {
                None | Some(b'\n') => return Err(LuaError::String(line)),
                Some(0) => return Err(LuaError::Nul(self.line)),
                Some(b'\\') => self.skip_escaped(),
                Some(&b) => {
                    self.pos += 1;
                    if b == quote {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// At `[`, `[[` or `[==[` opens a long bracket: steps past it and returns its level (the
    /// number of `=`). Anything else is left alone.
    fn long_bracket(&mut self) -> Option<usize> {
        let rest = self.src.get(self.pos..)?;
        if rest.first() != Some(&b'[') {
            return None;
        }
        let level = rest[1..].iter().take_while(|&&c| c == b'=').count();
        if rest.get(1 + level) != Some(&b'[') {
            return None;
        }
        self.pos += level + 2;
        Some(level)
    }

    /// The body of a long string or comment, through its `]==]` of the same level.
    fn long(&mut self, level: usize) -> Result<(), LuaError> {
        let line = self.line;
        while let Some(&b) = self.src.get(self.pos) {
            self.pos += 1;
            match b {
                b'\n' => self.line += 1,
                0 => return Err(LuaError::Nul(self.line)),
                b']' => {
                    let rest = &self.src[self.pos..];
                    let eq = rest.iter().take_while(|&&c| c == b'=').count();
                    if eq == level && rest.get(eq) == Some(&b']') {
                        self.pos += eq + 1;
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
        Err(LuaError::Long(line))
    }

    /// Counts braces only, for finding the end of a block whose Lua is broken.
    fn scan_braces(&mut self) -> bool {
        let mut depth = 1usize;
        while let Some(&b) = self.src.get(self.pos) {
            self.pos += 1;
            match b {
                b'\n' => self.line += 1,
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        return true;
                    }
                }
                _ => {}
            }
        }
        false
    }
}

fn unescape(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' {
            match raw.get(i + 1) {
                Some(&c @ (b'"' | b'\'' | b'\\')) => {
                    out.push(c);
                    i += 2;
                    continue;
                }
                Some(b't') => {
                    out.push(b'\t');
                    i += 2;
                    continue;
                }
                Some(b'r') => {
                    out.push(b'\r');
                    i += 2;
                    continue;
                }
                Some(b'n') => {
                    out.push(b'\n');
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn lex(src: &str) -> Result<Vec<(Token, usize)>, (LexError, usize)> {
        let mut lexer = Lexer::new(src.as_bytes());
        let mut out = Vec::new();
        while let Some(t) = lexer.next_token()? {
            out.push(t);
        }
        Ok(out)
    }

    fn w(s: &str) -> Token {
        Token::Word(s.into())
    }

    #[test]
    fn directives_blocks_and_lines() {
        let got = lex("http {\n  server_name a.example b;\n}\n").unwrap();
        assert_eq!(
            got,
            vec![
                (w("http"), 1),
                (Token::OpenBrace, 1),
                (w("server_name"), 2),
                (w("a.example"), 2),
                (w("b"), 2),
                (Token::Semicolon, 2),
                (Token::CloseBrace, 3),
            ]
        );
    }

    #[test]
    fn comments_only_where_a_word_starts() {
        let got = lex("# proxy_pass http://x;\nlog_format a#b; # tail\nx;").unwrap();
        assert_eq!(
            got,
            vec![
                (w("log_format"), 2),
                (w("a#b"), 2),
                (Token::Semicolon, 2),
                (w("x"), 3),
                (Token::Semicolon, 3)
            ]
        );
    }

    #[test]
    fn quotes_keep_separators_and_decode_escapes() {
        let got = lex(r#"add_header X "a; {b} #c" 'it\'s' "q\"\\\t\x";"#).unwrap();
        let words: Vec<_> = got.into_iter().map(|(t, _)| t).collect();
        assert_eq!(
            words,
            vec![
                w("add_header"),
                w("X"),
                w("a; {b} #c"),
                w("it's"),
                w("q\"\\\t\\x"),
                Token::Semicolon
            ]
        );
    }

    #[test]
    fn variables_and_braces_inside_words() {
        let got = lex("set $a ${host}x; a} b;").unwrap();
        let words: Vec<_> = got.into_iter().map(|(t, _)| t).collect();
        assert_eq!(
            words,
            vec![
                w("set"),
                w("$a"),
                w("${host}x"),
                Token::Semicolon,
                w("a}"),
                w("b"),
                Token::Semicolon
            ]
        );
    }

    #[test]
    fn multi_line_quotes_count_lines() {
        let got = lex("a \"x\ny\"\n;").unwrap();
        assert_eq!(
            got,
            vec![(w("a"), 1), (w("x\ny"), 1), (Token::Semicolon, 3)]
        );
    }

    #[test]
    fn errors_carry_lines() {
        assert_eq!(lex("a;\nb \"open;\n\n"), Err((LexError::Unterminated, 2)));
        assert_eq!(lex("a;\nb \"x\"y;"), Err((LexError::AfterQuote, 2)));
        assert_eq!(lex("a;\n\nb\0;"), Err((LexError::Nul, 3)));
        assert_eq!(lex("if ($a = \"b\") {").map(|t| t.len()), Ok(6));
        // A trailing backslash at the end of input must not run past it.
        assert_eq!(lex("a\\").map(|t| t.len()), Ok(1));
    }

    type Skipped = Result<(), (LuaError, bool)>;

    fn lua(src: &str) -> (Skipped, Vec<(Token, usize)>) {
        // The lexer stands after "x {", as the parser leaves it.
        let mut lexer = Lexer::new(src.as_bytes());
        assert_eq!(lexer.next_token().unwrap(), Some((w("x"), 1)));
        assert_eq!(lexer.next_token().unwrap(), Some((Token::OpenBrace, 1)));
        let skipped = lexer.skip_lua_block();
        let mut rest = Vec::new();
        while let Ok(Some(t)) = lexer.next_token() {
            rest.push(t);
        }
        (skipped, rest)
    }

    #[test]
    fn lua_bodies_are_skipped_to_their_own_brace() {
        let src = "x {\n  local t = { a = \"}, {\", b = 'it\\'s }' }\n  -- a comment with } and \"\n  \
                   --[[ long\n comment } ]] ngx.say([==[ ]] } ]=] ]==])\n  if t[ [[k]] ] then end\n}\nafter;\n";
        let (skipped, rest) = lua(src);
        assert_eq!(skipped, Ok(()));
        assert_eq!(rest, vec![(w("after"), 8), (Token::Semicolon, 8)]);
    }

    #[test]
    fn broken_lua_is_an_error_with_its_line_and_recovers_when_braces_allow() {
        let (skipped, rest) = lua("x {\n ngx.say(\"open)\n}\nafter;");
        assert_eq!(skipped, Err((LuaError::String(2), true)));
        assert_eq!(rest, vec![(w("after"), 4), (Token::Semicolon, 4)]);

        let (skipped, rest) = lua("x {\n s = [[ never closed }\n\n");
        assert_eq!(skipped, Err((LuaError::Long(2), true)));
        assert!(rest.is_empty());

        let (skipped, _) = lua("x {\n if a then { \n");
        assert_eq!(skipped, Err((LuaError::Unclosed, false)));
    }
}
