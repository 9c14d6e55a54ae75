//! Walks the main config and everything it includes, in nginx's order, handing each directive to
//! a visitor together with the blocks it sits in.
//!
//! `include` is expanded where it appears, in any context, with paths relative to the main
//! config's directory (nginx's conf prefix, not the including file's directory). Each file must
//! balance its own braces, as in nginx. Nothing is kept as a tree: memory stays proportional to
//! what the visitor keeps.

use std::path::{Path, PathBuf};

use super::parser::{Directive, Parser, Statement};
use crate::discover::files::{LoadError, Loader};
use crate::discover::limits::MAX_BLOCK_DEPTH;
use crate::discover::model::{DiscoveryErrorKind, SourceLoc};
use crate::discover::sink::Sink;

/// An enclosing block: `http`, `server`, `upstream backend`, `location /api/`...
#[derive(Clone, Debug)]
pub(super) struct Block {
    pub name: String,
    pub args: Vec<String>,
    pub line: usize,
    /// Blocks whose lines are data, not directives (`map`, `types`...): never visited.
    pub data: bool,
}

pub(super) trait Visitor {
    /// Called for every directive outside data blocks, block openers included (before the block
    /// is entered). `blocks` lists the enclosing blocks, outermost first.
    fn directive(&mut self, blocks: &[Block], d: &Directive, at: &SourceLoc, sink: &mut Sink);

    /// Called for every line of a data block (`map`, `geo`...), which may name upstream groups.
    fn data(&mut self, _d: &Directive) {}
}

const DATA_BLOCKS: &[&str] = &[
    "map",
    "geo",
    "types",
    "split_clients",
    "charset_map",
    "match",
];

struct Walker<'a, V> {
    conf_dir: PathBuf,
    loader: Loader,
    blocks: Vec<Block>,
    visitor: &'a mut V,
    sink: &'a mut Sink,
}

/// Reads the main config and everything it includes. Errors reading the main file are reported
/// against the file itself; errors reading an include, against the `include` line.
pub(super) fn walk_config<V: Visitor>(
    main: &Path,
    loader: Loader,
    visitor: &mut V,
    sink: &mut Sink,
) {
    let conf_dir = main.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut walker = Walker {
        conf_dir,
        loader,
        blocks: Vec::new(),
        visitor,
        sink,
    };
    match walker.loader.enter(main) {
        Ok(bytes) => {
            walker.sink.file_read(main);
            walker.walk(main, &bytes);
            walker.loader.leave();
        }
        Err(LoadError::Report(kind)) => walker.sink.error(main, None, kind),
        Err(LoadError::Quiet) => {}
    }
}

impl<V: Visitor> Walker<'_, V> {
    fn walk(&mut self, file: &Path, bytes: &[u8]) {
        let outer = self.blocks.len();
        let mut parser = Parser::new(bytes);
        let mut stopped = false;
        loop {
            let statement = match parser.next_statement() {
                Ok(Some(s)) => s,
                Ok(None) => break,
                Err(e) => {
                    self.sink
                        .error(file, Some(e.line), DiscoveryErrorKind::Syntax(e.message));
                    if e.fatal {
                        stopped = true;
                        break;
                    }
                    continue;
                }
            };
            match statement {
                Statement::BlockEnd { line } => {
                    if self.blocks.len() > outer {
                        self.blocks.pop();
                    } else {
                        // Ignored so that the rest of the file is still read.
                        self.sink.error(
                            file,
                            Some(line),
                            DiscoveryErrorKind::Syntax("unexpected \"}\"".into()),
                        );
                    }
                }
                Statement::Directive(d) => {
                    let at = SourceLoc {
                        file: file.to_path_buf(),
                        line: d.line,
                    };
                    if d.name == "include" && !d.block {
                        self.include(&d, &at);
                        continue;
                    }
                    if self.blocks.iter().any(|b| b.data) {
                        self.visitor.data(&d);
                    } else {
                        self.visitor.directive(&self.blocks, &d, &at, self.sink);
                    }
                    if d.block {
                        if self.blocks.len() >= MAX_BLOCK_DEPTH {
                            self.sink.error_at(
                                &at,
                                DiscoveryErrorKind::Syntax(format!(
                                    "blocks nested more than {MAX_BLOCK_DEPTH} deep; rest of file skipped"
                                )),
                            );
                            stopped = true;
                            break;
                        }
                        let data = DATA_BLOCKS.contains(&d.name.as_str());
                        self.blocks.push(Block {
                            name: d.name,
                            args: d.args,
                            line: d.line,
                            data,
                        });
                    }
                }
            }
        }
        // After a fatal error, unclosed blocks are a consequence, not news.
        if self.blocks.len() > outer && !stopped {
            // The innermost unclosed block is the best guess for where a "}" is missing.
            if let Some(b) = self.blocks.last() {
                let what = std::iter::once(b.name.as_str())
                    .chain(b.args.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(" ");
                let message = format!(
                    "\"{what}\" block is never closed (unexpected end of file at line {}, expecting \"}}\")",
                    parser.line()
                );
                self.sink
                    .error(file, Some(b.line), DiscoveryErrorKind::Syntax(message));
            }
        }
        self.blocks.truncate(outer);
    }

    fn include(&mut self, d: &Directive, at: &SourceLoc) {
        let [pattern] = d.args.as_slice() else {
            self.sink.error_at(
                at,
                DiscoveryErrorKind::Invalid("invalid number of arguments in \"include\"".into()),
            );
            return;
        };
        let pattern = self.conf_dir.join(pattern);
        let paths = match self.loader.expand(&pattern) {
            Ok(paths) => paths,
            Err(kind) => return self.sink.error_at(at, kind),
        };
        // A pattern that matches nothing is fine in nginx; a missing plain path is an error, which
        // the read below reports.
        for path in paths {
            match self.loader.enter(&path) {
                Ok(bytes) => {
                    self.sink.file_read(&path);
                    self.walk(&path, &bytes);
                    self.loader.leave();
                }
                Err(LoadError::Report(kind)) => self.sink.error_at(at, kind),
                Err(LoadError::Quiet) => {}
            }
        }
    }
}
