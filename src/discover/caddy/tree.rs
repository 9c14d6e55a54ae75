//! From tokens to a tree of statements, with `import` done first as Caddy does it: a snippet
//! `(name) { ... }` or the files a path (or glob) names, relative to the importing file, are
//! spliced in place of the `import` line. Imported tokens keep their own file and line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::lexer::{Token, tokenize};
use crate::discover::files::{LoadError, Loader, has_wildcard};
use crate::discover::limits::{MAX_ARGS, MAX_BLOCK_DEPTH, MAX_INCLUDE_DEPTH};
use crate::discover::model::{DiscoveryErrorKind, SourceLoc};
use crate::discover::sink::Sink;

/// Most tokens after every import is spliced in: snippets importing each other twice per level
/// would otherwise grow without bound long before any file limit is reached.
pub(super) const MAX_TOKENS: usize = 500_000;

/// One statement: its words (the directive and its arguments) and the block after it, if any.
#[derive(Clone, Debug, Default)]
pub(super) struct Node {
    pub words: Vec<Token>,
    pub block: Option<Vec<Node>>,
    /// Where the statement starts (a block without words: where its brace is).
    pub at: Option<SourceLoc>,
}

impl Node {
    pub(super) fn name(&self) -> &str {
        self.words.first().map_or("", |t| t.text.as_str())
    }

    pub(super) fn args(&self) -> &[Token] {
        self.words.get(1..).unwrap_or(&[])
    }

    pub(super) fn children(&self) -> &[Node] {
        self.block.as_deref().unwrap_or(&[])
    }

    pub(super) fn loc(&self) -> SourceLoc {
        self.at.clone().unwrap_or_else(|| SourceLoc {
            file: PathBuf::new(),
            line: 0,
        })
    }
}

pub(super) fn loc(t: &Token) -> SourceLoc {
    SourceLoc {
        file: t.file.to_path_buf(),
        line: t.line,
    }
}

fn is_open(tokens: &[Token], i: usize) -> bool {
    tokens[i].is("{") && tokens.get(i + 1).is_none_or(|n| n.starts_line)
}

/// The end (exclusive) of the statement starting at `i`.
fn statement_end(tokens: &[Token], i: usize) -> usize {
    let mut j = i + 1;
    while j < tokens.len() && !tokens[j].starts_line {
        j += 1;
    }
    j
}

/// The index just past the `}` closing the block opened at `open`, or the end of input.
fn block_end(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    for (j, t) in tokens.iter().enumerate().skip(open) {
        if is_open(tokens, j) {
            depth += 1;
        } else if t.is("}") {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return j + 1;
            }
        }
    }
    tokens.len()
}

/// Reads a Caddyfile and everything it imports into one token stream.
pub(super) struct Expander<'a> {
    pub loader: &'a mut Loader,
    pub sink: &'a mut Sink,
    snippets: HashMap<String, Vec<Token>>,
    total: usize,
    full: bool,
}

impl<'a> Expander<'a> {
    pub(super) fn new(loader: &'a mut Loader, sink: &'a mut Sink) -> Self {
        Expander {
            loader,
            sink,
            snippets: HashMap::new(),
            total: 0,
            full: false,
        }
    }

    /// The tokens of `path` with its imports done; errors go to the sink.
    pub(super) fn file(&mut self, path: &Path, imported_at: Option<&SourceLoc>) -> Vec<Token> {
        let Some(tokens) = self.enter(path, imported_at) else {
            return Vec::new();
        };
        let out = self.expand(tokens, 0);
        self.loader.leave();
        out
    }

    fn expand(&mut self, tokens: Vec<Token>, depth: usize) -> Vec<Token> {
        let mut out = Vec::with_capacity(tokens.len());
        let mut braces = 0usize;
        let mut i = 0;
        while i < tokens.len() {
            if self.full {
                break;
            }
            let t = &tokens[i];
            if braces == 0 && t.starts_line && is_snippet_name(&t.text) && t.quoted.eq(&false) {
                let after = i + 1;
                if after < tokens.len() && is_open(&tokens, after) {
                    let end = block_end(&tokens, after);
                    let body_end = if end > after + 1 && tokens[end - 1].is("}") {
                        end - 1
                    } else {
                        end
                    };
                    let name = t.text[1..t.text.len() - 1].to_string();
                    self.snippets
                        .insert(name, tokens[after + 1..body_end].to_vec());
                    i = end;
                    continue;
                }
            }
            if t.starts_line && t.is("import") {
                let end = statement_end(&tokens, i);
                self.import(&tokens[i..end], depth, &mut out);
                i = end;
                continue;
            }
            if is_open(&tokens, i) {
                braces += 1;
            } else if t.is("}") {
                braces = braces.saturating_sub(1);
            }
            self.push(&mut out, t.clone());
            i += 1;
        }
        out
    }

    fn push(&mut self, out: &mut Vec<Token>, t: Token) {
        if self.total >= MAX_TOKENS {
            if !self.full {
                self.full = true;
                self.sink.error_at(
                    &loc(&t),
                    DiscoveryErrorKind::TooMany {
                        what: "tokens once imports are spliced in",
                        limit: MAX_TOKENS,
                    },
                );
            }
            return;
        }
        self.total += 1;
        out.push(t);
    }

    fn import(&mut self, statement: &[Token], depth: usize, out: &mut Vec<Token>) {
        let at = loc(&statement[0]);
        let Some(what) = statement.get(1) else {
            let message = "\"import\" expects a snippet name or a file pattern".to_string();
            return self
                .sink
                .error_at(&at, DiscoveryErrorKind::Invalid(message));
        };
        if depth >= MAX_INCLUDE_DEPTH {
            return self.sink.error_at(
                &at,
                DiscoveryErrorKind::Invalid(format!(
                    "import \"{}\" nested deeper than {MAX_INCLUDE_DEPTH} levels (a snippet importing itself?)",
                    what.text
                )),
            );
        }
        let args: Vec<&str> = statement[2..].iter().map(|t| t.text.as_str()).collect();
        if let Some(body) = self.snippets.get(&what.text).cloned() {
            let body: Vec<Token> = body
                .into_iter()
                .map(|mut t| {
                    t.text = substitute_args(&t.text, &args);
                    t
                })
                .collect();
            // The snippet's first token starts a statement wherever it is spliced.
            let expanded = self.expand(body, depth + 1);
            for t in expanded {
                self.push(out, t);
            }
            return;
        }
        let base = statement[0].file.parent().unwrap_or(Path::new("."));
        let pattern = base.join(&what.text);
        let files = match self.loader.expand(&pattern) {
            Ok(files) => files,
            Err(kind) => return self.sink.error_at(&at, kind),
        };
        if files.is_empty() && !has_wildcard(&what.text) {
            return;
        }
        for file in files {
            let tokens = self.file_at(&file, &at);
            let expanded = self.expand(tokens, depth + 1);
            for t in expanded {
                self.push(out, t);
            }
        }
    }

    /// An imported file's own tokens, imports not yet done.
    fn file_at(&mut self, path: &Path, at: &SourceLoc) -> Vec<Token> {
        let Some(tokens) = self.enter(path, Some(at)) else {
            return Vec::new();
        };
        self.loader.leave();
        tokens
    }

    /// Reads and tokenizes `path`, entered in the loader (the caller leaves it) unless it
    /// could not be read: `None` then, the error reported at the import, or the file.
    fn enter(&mut self, path: &Path, imported_at: Option<&SourceLoc>) -> Option<Vec<Token>> {
        let bytes = match self.loader.enter(path) {
            Ok(bytes) => bytes,
            Err(LoadError::Report(kind)) => {
                match imported_at {
                    Some(at) => self.sink.error_at(at, kind),
                    None => self.sink.error(path, None, kind),
                }
                return None;
            }
            Err(LoadError::Quiet) => return None,
        };
        self.sink.file_read(path);
        let file: Arc<Path> = Arc::from(path);
        let (tokens, err) = tokenize(&file, &bytes);
        if let Some(err) = err {
            self.sink.error(
                path,
                Some(err.line),
                DiscoveryErrorKind::Syntax(err.message),
            );
        }
        Some(tokens)
    }
}

fn is_snippet_name(s: &str) -> bool {
    s.len() > 2 && s.starts_with('(') && s.ends_with(')')
}

/// `{args[N]}` (Caddy 2.7+) and `{args.N}` (earlier) in a snippet, from the import's arguments.
fn substitute_args(text: &str, args: &[&str]) -> String {
    if !text.contains("{args") {
        return text.to_string();
    }
    let mut out = text.to_string();
    for (n, arg) in args.iter().enumerate() {
        out = out
            .replace(&format!("{{args[{n}]}}"), arg)
            .replace(&format!("{{args.{n}}}"), arg);
    }
    out.replace("{args[:]}", &args.join(" "))
}

/// Builds the statement tree; unbalanced braces are reported with their line.
pub(super) fn parse(tokens: &[Token], sink: &mut Sink) -> Vec<Node> {
    let mut pos = 0;
    let mut nodes = Vec::new();
    while pos < tokens.len() {
        nodes.extend(parse_block(tokens, &mut pos, 0, sink));
        if pos < tokens.len() && tokens[pos].is("}") {
            let message = "unexpected \"}\": no block is open here".to_string();
            sink.error_at(&loc(&tokens[pos]), DiscoveryErrorKind::Syntax(message));
            pos += 1;
        }
    }
    nodes
}

/// Statements up to (not including) the `}` that ends this block, or to the end of input.
fn parse_block(tokens: &[Token], pos: &mut usize, depth: usize, sink: &mut Sink) -> Vec<Node> {
    let mut nodes = Vec::new();
    while *pos < tokens.len() {
        if tokens[*pos].is("}") {
            return nodes;
        }
        let mut node = Node {
            at: Some(loc(&tokens[*pos])),
            ..Node::default()
        };
        while *pos < tokens.len() {
            let t = &tokens[*pos];
            if !node.words.is_empty() && (t.starts_line || t.is("}")) {
                break;
            }
            if is_open(tokens, *pos) {
                let opened = loc(t);
                *pos += 1;
                if depth + 1 > MAX_BLOCK_DEPTH {
                    let message = format!("blocks nested deeper than {MAX_BLOCK_DEPTH} levels");
                    sink.error_at(&opened, DiscoveryErrorKind::Syntax(message));
                    *pos = tokens.len();
                    break;
                }
                node.block = Some(parse_block(tokens, pos, depth + 1, sink));
                if *pos < tokens.len() {
                    *pos += 1; // the closing brace
                } else {
                    let message =
                        format!("the block opened at line {} is never closed", opened.line);
                    sink.error(&opened.file, None, DiscoveryErrorKind::Syntax(message));
                }
                break;
            }
            if node.words.len() < MAX_ARGS {
                node.words.push(t.clone());
            }
            *pos += 1;
        }
        nodes.push(node);
    }
    nodes
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn tree(dir: &Path, main: &str) -> (Vec<Node>, crate::discover::Discovery) {
        let path = dir.join("Caddyfile");
        std::fs::write(&path, main).unwrap();
        let mut loader = Loader::default();
        let mut sink = Sink::default();
        let tokens = Expander::new(&mut loader, &mut sink).file(&path, None);
        let nodes = parse(&tokens, &mut sink);
        (nodes, sink.finish())
    }

    fn names(nodes: &[Node]) -> Vec<String> {
        nodes.iter().map(|n| n.name().to_string()).collect()
    }

    #[test]
    fn blocks_and_statements() {
        let dir = tempfile::tempdir().unwrap();
        let (nodes, d) = tree(
            dir.path(),
            "{\n admin off\n}\na.com, b.com {\n handle /x {\n  reverse_proxy a:1\n }\n}\n",
        );
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        assert_eq!(nodes.len(), 2);
        assert!(nodes[0].words.is_empty());
        assert_eq!(names(nodes[0].children()), ["admin"]);
        assert_eq!(nodes[1].words.len(), 2);
        let handle = &nodes[1].children()[0];
        assert_eq!(handle.name(), "handle");
        assert_eq!(handle.children()[0].loc().line, 6);
    }

    #[test]
    fn snippets_and_file_imports_are_spliced_with_their_own_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sites")).unwrap();
        std::fs::write(
            dir.path().join("sites/b.caddy"),
            "b.com {\n import proxy 10.0.0.2:80\n}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("sites/a.caddy"),
            "a.com {\n import proxy {args.0}\n}\n",
        )
        .unwrap();
        let (nodes, d) = tree(
            dir.path(),
            "(proxy) {\n  reverse_proxy {args[0]}\n}\nimport sites/*.caddy\n",
        );
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].words[0].text, "a.com");
        let rp = &nodes[1].children()[0];
        assert_eq!(rp.name(), "reverse_proxy");
        assert_eq!(rp.args()[0].text, "10.0.0.2:80");
        // The snippet's own place, not the import's.
        assert_eq!(rp.loc().line, 2);
        assert_eq!(rp.loc().file, dir.path().join("Caddyfile"));
        assert_eq!(d.files_read.len(), 3);
    }

    #[test]
    fn import_cycles_and_self_importing_snippets_end_with_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("other"), "import Caddyfile\n").unwrap();
        let (_, d) = tree(dir.path(), "import other\n");
        assert!(
            d.errors
                .iter()
                .any(|e| matches!(e.kind, DiscoveryErrorKind::IncludeCycle { .. })),
            "{:?}",
            d.errors
        );
        let (_, d) = tree(dir.path(), "(a) {\n import a\n}\nimport a\n");
        assert!(
            d.errors[0].to_string().contains("nested deeper"),
            "{:?}",
            d.errors
        );
        // Doubling at every level stops at the token cap, not at memory.
        let mut text = format!("(s0) {{\n{}\n}}\n", "x ".repeat(100));
        for n in 1..15 {
            text.push_str(&format!(
                "(s{n}) {{\n import s{}\n import s{}\n}}\n",
                n - 1,
                n - 1
            ));
        }
        text.push_str("import s14\n");
        let (_, d) = tree(dir.path(), &text);
        assert!(
            d.errors
                .iter()
                .any(|e| matches!(e.kind, DiscoveryErrorKind::TooMany { .. })),
            "{:?}",
            d.errors
        );
    }

    #[test]
    fn unbalanced_braces_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let (nodes, d) = tree(dir.path(), "a.com {\n reverse_proxy x:1\n");
        assert_eq!(nodes[0].children().len(), 1);
        assert!(d.errors[0].to_string().contains("line 1 is never closed"));
        let (_, d) = tree(dir.path(), "}\na.com\n");
        assert_eq!(d.errors[0].line, Some(1));
    }
}
