//! Apache httpd: `ProxyPass` targets, `<Proxy balancer://...>` members, PHP-FPM handlers and
//! log files from apache2.conf / httpd.conf and what it includes.
//!
//! `<IfModule>`/`<IfDefine>` are not evaluated: everything in them is read, as if enabled.

mod collect;
mod envvars;
mod lines;

use std::collections::HashMap;
use std::path::Path;

use super::files::{LoadError, Loader, has_wildcard};
use super::limits::{MAX_BLOCK_DEPTH, MAX_INCLUDE_DEPTH};
use super::model::{Discovery, DiscoveryErrorKind, SourceLoc};
use super::sink::Sink;
use collect::{Collector, Section, default_base, substitute_args};
use lines::{Lines, Statement, parse_statement};

/// Discovers what the Apache config at `path` proxies to and logs to. Debian's `envvars` next to
/// the config is read for `${APACHE_LOG_DIR}` and friends.
pub fn apache(path: &Path) -> Discovery {
    apache_with_loader(path, Loader::default())
}

/// [`apache`] reading through `loader` (the files inside a container's root, say).
pub(crate) fn apache_with_loader(path: &Path, mut loader: Loader) -> Discovery {
    let mut sink = Sink::default();
    let vars = read_envvars(path, &mut loader, &mut sink);
    let mut walker = Walker {
        loader,
        sections: Vec::new(),
        collector: Collector::new(default_base(path), vars),
    };
    match walker.loader.enter(path) {
        Ok(bytes) => {
            sink.file_read(path);
            walker.walk(path, &bytes, &mut sink);
            walker.loader.leave();
        }
        Err(LoadError::Report(kind)) => sink.error(path, None, kind),
        Err(LoadError::Quiet) => {}
    }
    walker.collector.finish(&mut sink);
    sink.finish()
}

/// apache2ctl sources `envvars` from the config's directory; a missing one is normal elsewhere.
fn read_envvars(main: &Path, loader: &mut Loader, sink: &mut Sink) -> HashMap<String, String> {
    let path = default_base(main).join("envvars");
    if !loader.is_file(&path) {
        return HashMap::new();
    }
    match loader.enter(&path) {
        Ok(bytes) => {
            loader.leave();
            sink.file_read(&path);
            envvars::parse_envvars(&String::from_utf8_lossy(&bytes))
        }
        Err(LoadError::Report(kind)) => {
            sink.error(&path, None, kind);
            HashMap::new()
        }
        Err(LoadError::Quiet) => HashMap::new(),
    }
}

struct Walker {
    loader: Loader,
    sections: Vec<Section>,
    collector: Collector,
}

impl Walker {
    fn walk(&mut self, file: &Path, bytes: &[u8], sink: &mut Sink) {
        let outer = self.sections.len();
        let mut lines = Lines::new(bytes);
        let mut stopped = false;
        for (line, text) in lines.by_ref() {
            let at = SourceLoc {
                file: file.to_path_buf(),
                line,
            };
            let statement = match parse_statement(&text) {
                Ok(s) => s,
                Err(message) => {
                    sink.error_at(&at, DiscoveryErrorKind::Syntax(message));
                    continue;
                }
            };
            match statement {
                Statement::Open { name, args } => {
                    if self.sections.len() >= MAX_BLOCK_DEPTH {
                        let message = format!(
                            "sections nested more than {MAX_BLOCK_DEPTH} deep; rest of file skipped"
                        );
                        sink.error_at(&at, DiscoveryErrorKind::Syntax(message));
                        stopped = true;
                        break;
                    }
                    let args =
                        substitute_args(&args, &self.collector.vars, &at, sink).unwrap_or_default();
                    self.sections.push(Section { name, args, line });
                }
                Statement::Close { name } => self.close(&name, &at, outer, sink),
                Statement::Directive { name, args } => {
                    let Some(args) = substitute_args(&args, &self.collector.vars, &at, sink) else {
                        continue;
                    };
                    let lower = name.to_ascii_lowercase();
                    match lower.as_str() {
                        "include" | "includeoptional" => {
                            self.include(lower == "includeoptional", &args, &at, sink)
                        }
                        _ => self
                            .collector
                            .directive(&self.sections, &lower, &args, &at, sink),
                    }
                }
            }
        }
        if let Some(line) = lines.nul_line {
            let message = "unexpected NUL byte: binary data, not a config file".to_string();
            sink.error(file, Some(line), DiscoveryErrorKind::Syntax(message));
            stopped = true;
        }
        if !stopped && let Some(open) = self.sections.get(outer..).and_then(<[Section]>::last) {
            let message = format!("<{}> was not closed", open.name);
            sink.error(file, Some(open.line), DiscoveryErrorKind::Syntax(message));
        }
        self.sections.truncate(outer);
    }

    /// Closes the innermost section; a mismatched name is reported but still closes it, so that
    /// one typo does not shift every later section.
    fn close(&mut self, name: &str, at: &SourceLoc, outer: usize, sink: &mut Sink) {
        if self.sections.len() <= outer {
            let message = format!("</{name}> without matching <{name}> section");
            return sink.error_at(at, DiscoveryErrorKind::Syntax(message));
        }
        if let Some(open) = self.sections.pop()
            && !open.name.eq_ignore_ascii_case(name)
        {
            let message = format!("expected </{}> but saw </{name}>", open.name);
            sink.error_at(at, DiscoveryErrorKind::Syntax(message));
        }
    }

    /// `Include` / `IncludeOptional`: relative to ServerRoot; a directory means every file in it
    /// (recursively); a wildcard matching nothing is an error only for `Include`.
    fn include(&mut self, optional: bool, args: &[String], at: &SourceLoc, sink: &mut Sink) {
        let directive = if optional {
            "IncludeOptional"
        } else {
            "Include"
        };
        let [pattern] = args else {
            let message = format!("{directive} takes one argument");
            return sink.error_at(at, DiscoveryErrorKind::Invalid(message));
        };
        let full = self.collector.base.join(pattern);
        let wildcard = has_wildcard(pattern);
        let paths = match self.loader.expand(&full) {
            Ok(paths) => paths,
            Err(kind) => return sink.error_at(at, kind),
        };
        if wildcard && paths.is_empty() && !optional {
            let message = format!(
                "no files match \"{}\" (IncludeOptional allows that)",
                full.display()
            );
            return sink.error_at(at, DiscoveryErrorKind::Invalid(message));
        }
        for path in paths {
            self.include_path(&path, optional && !wildcard, at, 0, sink);
        }
    }

    fn include_path(
        &mut self,
        path: &Path,
        may_be_missing: bool,
        at: &SourceLoc,
        dir_depth: usize,
        sink: &mut Sink,
    ) {
        if self.loader.is_dir(path) {
            if dir_depth >= MAX_INCLUDE_DEPTH {
                let kind = DiscoveryErrorKind::IncludeTooDeep {
                    path: path.to_path_buf(),
                    limit: MAX_INCLUDE_DEPTH,
                };
                return sink.error_at(at, kind);
            }
            let entries = match self.loader.expand(&path.join("*")) {
                Ok(entries) => entries,
                Err(kind) => return sink.error_at(at, kind),
            };
            for entry in entries {
                self.include_path(&entry, false, at, dir_depth + 1, sink);
            }
            return;
        }
        if may_be_missing && !self.loader.exists(path) {
            return;
        }
        match self.loader.enter(path) {
            Ok(bytes) => {
                sink.file_read(path);
                self.walk(path, &bytes, sink);
                self.loader.leave();
            }
            Err(LoadError::Report(kind)) => sink.error_at(at, kind),
            Err(LoadError::Quiet) => {}
        }
    }
}
