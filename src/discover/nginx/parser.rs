//! Groups tokens into statements: `name args;`, `name args {`, and `}`.

use super::known::known;
use super::lexer::{Lexer, Token};
use crate::discover::limits::MAX_ARGS;

/// One directive. `block` is true when it opens a `{ }` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Directive {
    pub name: String,
    pub args: Vec<String>,
    pub line: usize,
    pub block: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Statement {
    Directive(Directive),
    BlockEnd { line: usize },
}

/// A syntax error. After a fatal one the rest of the file cannot be read reliably.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SyntaxError {
    pub line: usize,
    pub message: String,
    pub fatal: bool,
}

pub(super) struct Parser<'a> {
    lexer: Lexer<'a>,
    /// A statement to return after the error just reported (a `}` that ended a statement early,
    /// a `{` with no directive name).
    pending: Option<Statement>,
}

impl<'a> Parser<'a> {
    pub(super) fn new(src: &'a [u8]) -> Self {
        Parser {
            lexer: Lexer::new(src),
            pending: None,
        }
    }

    /// The line reached, for errors at the end of the file.
    pub(super) fn line(&self) -> usize {
        self.lexer.line()
    }

    /// The next statement; `Ok(None)` at the end of the file. After a non-fatal error, parsing can
    /// continue with the next call.
    pub(super) fn next_statement(&mut self) -> Result<Option<Statement>, SyntaxError> {
        if let Some(statement) = self.pending.take() {
            return Ok(Some(statement));
        }
        let mut words: Vec<String> = Vec::new();
        let mut first_line = 0;
        loop {
            let token = self.lexer.next_token().map_err(|(e, line)| SyntaxError {
                line,
                message: e.to_string(),
                fatal: true,
            })?;
            let Some((token, line)) = token else {
                if words.is_empty() {
                    return Ok(None);
                }
                return Err(SyntaxError {
                    line: first_line,
                    message: unparsed(
                        first_line,
                        &words[0],
                        "unexpected end of file",
                        ", expecting \";\" or \"}\"",
                    ),
                    fatal: true,
                });
            };
            match token {
                Token::Word(w) => {
                    if words.is_empty() {
                        first_line = line;
                    }
                    if words.len() >= MAX_ARGS {
                        return Err(SyntaxError {
                            line: first_line,
                            message: unparsed(
                                first_line,
                                &words[0],
                                &format!("more than {MAX_ARGS} arguments"),
                                "",
                            ),
                            fatal: true,
                        });
                    }
                    words.push(w);
                }
                Token::Semicolon if words.is_empty() => {
                    return Err(SyntaxError {
                        line,
                        message: "unexpected \";\"".into(),
                        fatal: false,
                    });
                }
                Token::OpenBrace if words.is_empty() => {
                    // Still opened, so that its "}" stays balanced.
                    let anonymous = Directive {
                        name: String::new(),
                        args: Vec::new(),
                        line,
                        block: true,
                    };
                    self.pending = Some(Statement::Directive(anonymous));
                    return Err(SyntaxError {
                        line,
                        message: "unexpected \"{\"".into(),
                        fatal: false,
                    });
                }
                Token::OpenBrace if words[0].ends_with("_by_lua_block") => {
                    return self.lua_block(words, first_line);
                }
                Token::Semicolon | Token::OpenBrace => {
                    let block = token == Token::OpenBrace;
                    let mut args = words.into_iter();
                    let name = args.next().unwrap_or_default();
                    return Ok(Some(Statement::Directive(Directive {
                        name,
                        args: args.collect(),
                        line: first_line,
                        block,
                    })));
                }
                Token::CloseBrace if words.is_empty() => {
                    return Ok(Some(Statement::BlockEnd { line }));
                }
                Token::CloseBrace => {
                    self.pending = Some(Statement::BlockEnd { line });
                    return Err(SyntaxError {
                        line,
                        message: unparsed(line, &words[0], "unexpected \"}\"", ", expecting \";\""),
                        fatal: false,
                    });
                }
            }
        }
    }
}

impl Parser<'_> {
    /// `content_by_lua_block { ... }` and its kin hold Lua, not directives: the body is skipped
    /// and the directive returned as one that opens no block. Broken Lua is an error at the
    /// directive's line; parsing goes on after the block when its end can still be found.
    fn lua_block(
        &mut self,
        words: Vec<String>,
        line: usize,
    ) -> Result<Option<Statement>, SyntaxError> {
        let skipped = self.lexer.skip_lua_block();
        let mut args = words.into_iter();
        let d = Directive {
            name: args.next().unwrap_or_default(),
            args: args.collect(),
            line,
            block: false,
        };
        let Err((e, recovered)) = skipped else {
            return Ok(Some(Statement::Directive(d)));
        };
        // Quoted only when it looks like a directive name (see `unparsed`).
        let plain =
            d.name.len() <= 64 && d.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        let what = if plain {
            format!("\"{}\"", d.name)
        } else {
            "a Lua block".to_string()
        };
        let message = if recovered {
            format!("broken Lua in {what}: {e}; skipped to the block's \"}}\"")
        } else {
            format!("broken Lua in {what}: {e}; rest of file skipped")
        };
        if recovered {
            self.pending = Some(Statement::Directive(d));
        }
        Err(SyntaxError {
            line,
            message,
            fatal: !recovered,
        })
    }
}

/// The message for a statement that does not parse: it names the directive only when nginx has
/// one by that name, and otherwise quotes nothing from the line, which may be a secret.
fn unparsed(line: usize, first: &str, what: &str, expecting: &str) -> String {
    match known(first) {
        Some(name) => format!("{what} in \"{name}\"{expecting}"),
        None => format!("not an nginx config at line {line} ({what})"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn d(name: &str, args: &[&str], line: usize, block: bool) -> Statement {
        Statement::Directive(Directive {
            name: name.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            line,
            block,
        })
    }

    fn all(src: &str) -> Vec<Result<Statement, SyntaxError>> {
        let mut p = Parser::new(src.as_bytes());
        let mut out = Vec::new();
        loop {
            match p.next_statement() {
                Ok(None) => return out,
                Ok(Some(s)) => out.push(Ok(s)),
                Err(e) => {
                    let fatal = e.fatal;
                    out.push(Err(e));
                    if fatal {
                        return out;
                    }
                }
            }
        }
    }

    #[test]
    fn statements_with_first_word_lines() {
        let got = all("upstream b {\n server\n   10.0.0.1:80\n   backup;\n}\n");
        assert_eq!(
            got,
            vec![
                Ok(d("upstream", &["b"], 1, true)),
                Ok(d("server", &["10.0.0.1:80", "backup"], 2, false)),
                Ok(Statement::BlockEnd { line: 5 }),
            ]
        );
    }

    #[test]
    fn recoverable_and_fatal_errors() {
        let got = all("a;;\nb c }\nroot");
        assert_eq!(got[0], Ok(d("a", &[], 1, false)));
        assert!(matches!(
            &got[1],
            Err(SyntaxError {
                line: 1,
                fatal: false,
                ..
            })
        ));
        assert!(matches!(
            &got[2],
            Err(SyntaxError {
                line: 2,
                fatal: false,
                ..
            })
        ));
        assert_eq!(got[3], Ok(Statement::BlockEnd { line: 2 }));
        match &got[4] {
            Err(SyntaxError {
                line: 3,
                fatal: true,
                message,
            }) => {
                assert_eq!(
                    message,
                    "unexpected end of file in \"root\", expecting \";\" or \"}\""
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_line_that_is_no_directive_is_not_quoted() {
        let secret = "root:$6$salt$hash:19000:0:99999:7:::";
        let got = all(&format!("{secret} }}\n{secret}\n"));
        let messages: Vec<&str> = got
            .iter()
            .filter_map(|r| r.as_ref().err().map(|e| e.message.as_str()))
            .collect();
        assert_eq!(
            messages,
            [
                "not an nginx config at line 1 (unexpected \"}\")",
                "not an nginx config at line 2 (unexpected end of file)"
            ]
        );
    }

    #[test]
    fn anonymous_block_still_opens_and_empty_names_are_not_anonymous() {
        let got = all("{ }\n'' close;");
        assert!(matches!(
            &got[0],
            Err(SyntaxError {
                line: 1,
                fatal: false,
                ..
            })
        ));
        assert_eq!(got[1], Ok(d("", &[], 1, true)));
        assert_eq!(got[2], Ok(Statement::BlockEnd { line: 1 }));
        assert_eq!(got[3], Ok(d("", &["close"], 2, false)));
    }

    #[test]
    fn lua_blocks_are_single_statements_and_broken_ones_name_their_line() {
        let got = all(
            "set_by_lua_block $v { return \"a;b}\" }\nx;\ncontent_by_lua_block {\n ngx.say('a)\n}\ny;",
        );
        assert_eq!(got[0], Ok(d("set_by_lua_block", &["$v"], 1, false)));
        assert_eq!(got[1], Ok(d("x", &[], 2, false)));
        assert_eq!(
            got[2],
            Err(SyntaxError {
                line: 3,
                message: "broken Lua in \"content_by_lua_block\": unterminated Lua string at line 4; skipped to the block's \"}\"".into(),
                fatal: false,
            })
        );
        assert_eq!(got[3], Ok(d("content_by_lua_block", &[], 3, false)));
        assert_eq!(got[4], Ok(d("y", &[], 6, false)));
    }
}
