//! The layering rule, read from the sources: the engine (everything but the UI, the terminal
//! code, the dashboard loop and the key table) never imports ratatui, crossterm, `app` or `ui`;
//! and drawing never judges: no draw function computes findings or the diagnosis.

use std::fs;
use std::path::{Path, PathBuf};

/// Modules allowed to know the terminal: the UI state, drawing, the terminal, the event loop,
/// the key table, the theme (ratatui styles), the demo (which runs the dashboard), and `serve`
/// (headless, but fed by the dashboard's collectors and their `Event`s).
const FRONT_END: [&str; 9] = [
    "app",
    "ui",
    "tui",
    "dashboard",
    "keymap",
    "theme",
    "demo",
    "serve",
    "main.rs",
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to: "app" for src/app/mod.rs, "check" for src/check.rs.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component");
    let name = first.as_os_str().to_string_lossy().into_owned();
    match name.strip_suffix(".rs") {
        Some(stem) if stem != "main" => stem.to_string(),
        _ => name,
    }
}

/// Code lines only: comments and test modules say what they like.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..end]
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.starts_with("//"))
}

/// Every code line of `files` that holds one of `forbidden`, as "path:line: word".
fn violations(files: &[PathBuf], forbidden: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for file in files {
        let text = fs::read_to_string(file).expect("read");
        for (n, line) in code_lines(&text) {
            if let Some(word) = forbidden.iter().find(|w| line.contains(*w)) {
                out.push(format!("{}:{n}: {word}", file.display()));
            }
        }
    }
    out
}

fn engine_violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    sources(src, &mut files);
    files.retain(|f| !FRONT_END.contains(&module_of(src, f).as_str()));
    let forbidden = [
        "ratatui::",
        "crossterm::",
        "crate::app",
        "crate::ui",
        "super::app",
        "super::ui",
        "use ratatui",
        "use crossterm",
    ];
    violations(&files, &forbidden)
}

fn draw_violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    sources(&src.join("ui"), &mut files);
    files.retain(|f| !f.ends_with("tests.rs"));
    // What judging looks like: the diagnosis, the findings, the assessment, from a view.
    let forbidden = [
        "diagnose(",
        "diagnosis::findings(",
        "assess(",
        ".findings(",
        ".diagnosis()",
        ".overall()",
        "::judge(",
    ];
    violations(&files, &forbidden)
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn engine_modules_never_import_the_terminal_app_or_ui() {
    let bad = engine_violations(&src());
    assert!(
        bad.is_empty(),
        "engine code reaches the front end:\n{}",
        bad.join("\n")
    );
}

#[test]
fn draw_functions_never_judge() {
    let bad = draw_violations(&src());
    assert!(
        bad.is_empty(),
        "drawing computes judgement:\n{}",
        bad.join("\n")
    );
}

/// The checks catch what they are for: a planted import and a planted judgement are found.
#[test]
fn the_checks_find_what_they_look_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path();
    fs::create_dir_all(src.join("model")).expect("mkdir");
    fs::create_dir_all(src.join("ui")).expect("mkdir");
    fs::create_dir_all(src.join("app")).expect("mkdir");
    fs::write(src.join("model/mod.rs"), "use crate::app::App;\n").expect("write");
    fs::write(src.join("check.rs"), "fn f() { ratatui::init(); }\n").expect("write");
    fs::write(src.join("app/mod.rs"), "use ratatui::Frame;\n").expect("write");
    fs::write(
        src.join("ui/header.rs"),
        "// app.findings() in a comment is fine\nfn h(a: &App) { let f = a.findings(); }\n",
    )
    .expect("write");
    let engine = engine_violations(src);
    assert_eq!(engine.len(), 2, "{engine:?}");
    assert!(engine.iter().any(|v| v.contains("model/mod.rs:1")));
    assert!(engine.iter().any(|v| v.contains("check.rs:1")));
    let draw = draw_violations(src);
    assert_eq!(draw.len(), 1, "{draw:?}");
    assert!(draw[0].contains("header.rs:2"), "{draw:?}");
}
