//! README's and docs/'s claims that a machine can check: generated pages match what generates
//! them, links and named files exist, every flag and key they name exists, the JSON they describe
//! is what `check --json` prints, and the file modes and errors they promise are what happens.
//!
//! Regenerate docs/keys.md and docs/configuration.md's key table after changing the key table or
//! the config keys: `GATEWATCH_BLESS=1 cargo test --test docs`.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use common::Sandbox;
use gatewatch::keymap::docs::{bindings_in, key_names, scopes};
use gatewatch::keymap::{Action, BINDINGS, Scope};
use gatewatch::popup::ModalKind;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// README.md and every page under docs/, with their paths relative to the repository.
fn documents() -> Vec<(String, String)> {
    let mut out = vec![("README.md".to_string(), read("README.md"))];
    let mut pages: Vec<PathBuf> = fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    for page in pages {
        let rel = format!("docs/{}", page.file_name().expect("name").to_string_lossy());
        out.push((rel.clone(), read(&rel)));
    }
    out
}

fn blessing() -> bool {
    std::env::var_os("GATEWATCH_BLESS").is_some_and(|v| v == "1")
}

/// `rel` must read `expected`; with GATEWATCH_BLESS=1 it is rewritten instead.
fn generated(rel: &str, expected: &str) {
    let path = root().join(rel);
    if blessing() {
        fs::write(&path, expected).expect("write");
        return;
    }
    let found = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        found == expected,
        "{rel} is not what the code generates; regenerate it with \
         `GATEWATCH_BLESS=1 cargo test --test docs` and commit the result"
    );
}

#[test]
fn keys_doc_is_generated_from_the_key_table() {
    generated("docs/keys.md", &gatewatch::keymap::docs::markdown());
}

#[test]
fn config_reference_is_generated_from_the_config_keys() {
    let text = read("docs/configuration.md");
    let begin = text.find("<!-- keys:begin").expect("the keys:begin marker");
    let begin = begin + text[begin..].find('\n').expect("end of the marker line") + 1;
    let end = text.find("<!-- keys:end -->").expect("the keys:end marker");
    let expected = format!(
        "{}\n{}\n{}",
        &text[..begin],
        gatewatch::config::markdown_table(),
        &text[end..]
    );
    generated("docs/configuration.md", &expected);
}

/// The anchor GitHub gives a heading.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == ' ' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Lines outside fenced code blocks.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    prose(text)
        .into_iter()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| slug(l.trim_start_matches('#')))
        .collect()
}

/// `[text](target)` targets, outside code.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in prose(text) {
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            out.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn every_relative_link_leads_to_a_file_and_heading_that_exist() {
    let docs = documents();
    let mut broken = Vec::new();
    for (rel, text) in &docs {
        let dir = Path::new(rel).parent().unwrap_or(Path::new(""));
        for link in links(text) {
            if link.starts_with("http://") || link.starts_with("https://") {
                continue;
            }
            let (file, anchor) = match link.split_once('#') {
                Some((file, anchor)) => (file, Some(anchor)),
                None => (link.as_str(), None),
            };
            let target = if file.is_empty() {
                PathBuf::from(rel)
            } else {
                dir.join(file)
            };
            let path = root().join(&target);
            if !path.exists() {
                broken.push(format!("{rel}: {link} (no {})", target.display()));
                continue;
            }
            if let Some(anchor) = anchor {
                let text = fs::read_to_string(&path).unwrap_or_default();
                if !anchors(&text).contains(anchor) {
                    broken.push(format!("{rel}: {link} (no heading #{anchor})"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn every_docs_page_is_linked_from_the_readme() {
    let readme = read("README.md");
    for (rel, _) in documents().iter().skip(1) {
        assert!(readme.contains(rel.as_str()), "README does not link {rel}");
    }
}

#[test]
fn every_path_the_code_layout_names_exists() {
    let text = read("docs/code-layout.md");
    let mut named = Vec::new();
    for line in text.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if !(first.starts_with("src/") || first.starts_with("tests/")) {
            continue;
        }
        // `src/pane.rs, popup.rs`: the second file is in the first one's directory.
        let first = first.trim_end_matches(',');
        named.push(first.to_string());
        if let Some(more) = line
            .split_whitespace()
            .nth(1)
            .filter(|w| w.ends_with(".rs"))
        {
            let dir = Path::new(first).parent().unwrap_or(Path::new(""));
            named.push(dir.join(more).display().to_string());
        }
    }
    for word in text.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '`') {
        let word = word.trim_end_matches([',', '.', ':', ';']);
        if word.ends_with(".rs") && !word.contains('/') && word.contains('_') {
            named.push(format!("*/{word}"));
        }
    }
    assert!(named.len() > 20, "the layout names the modules: {named:?}");
    let missing: Vec<&String> = named
        .iter()
        .filter(|p| match p.strip_prefix("*/") {
            Some(name) => {
                !file_named(&root().join("src"), name) && !file_named(&root().join("tests"), name)
            }
            None => !root().join(p).exists(),
        })
        .collect();
    assert!(
        missing.is_empty(),
        "docs/code-layout.md names {missing:?}, which do not exist"
    );
}

fn file_named(dir: &Path, name: &str) -> bool {
    fs::read_dir(dir).into_iter().flatten().flatten().any(|e| {
        let p = e.path();
        if p.is_dir() {
            file_named(&p, name)
        } else {
            p.file_name().is_some_and(|n| n == name)
        }
    })
}

/// Every long option of gatewatch and its subcommands.
fn long_options() -> BTreeSet<String> {
    let cmd = gatewatch::cli::Cli::command();
    let mut out = BTreeSet::new();
    let mut add = |c: &clap::Command| {
        for a in c.get_arguments() {
            if let Some(l) = a.get_long() {
                out.insert(format!("--{l}"));
            }
        }
    };
    add(&cmd);
    for sub in cmd.get_subcommands() {
        add(sub);
    }
    out.extend(["--help".to_string(), "--version".to_string()]);
    out
}

/// The code in a document: fenced blocks whole, and inline spans.
fn code(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            out.push(line.to_string());
            continue;
        }
        let mut parts = line.split('`');
        parts.next();
        while let Some(span) = parts.next() {
            out.push(span.to_string());
            parts.next();
        }
    }
    out
}

/// `--flags` in code that runs gatewatch (`gatewatch check --json`), and spans that are a flag
/// alone (`--read-only`): other tools' flags live in their own command lines.
fn gatewatch_flags(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for span in code(text) {
        let words: Vec<&str> = span.split_whitespace().collect();
        let from = match words.iter().position(|w| *w == "gatewatch") {
            Some(i) => i + 1,
            None if words.first().is_some_and(|w| w.starts_with("--")) => 0,
            None => continue,
        };
        for w in &words[from..] {
            if matches!(*w, "|" | "&&" | ">" | "#" | "--") {
                break;
            }
            if let Some(flag) = w.trim_start_matches(['[', '(']).strip_prefix("--") {
                let name: String = flag
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                if !name.is_empty() {
                    out.push(format!("--{name}"));
                }
            }
        }
    }
    out
}

#[test]
fn every_flag_the_docs_name_exists() {
    let known = long_options();
    // Other programs' flags that the docs show alone, as what gatewatch runs or is run with.
    let theirs = [
        "--after-cursor",
        "--no-pager",
        "--no-ask-password",
        "--nocapture",
        "--keep",
        "--quick",
        "--micro",
        "--locked",
        "--release",
        "--path",
        "--iptables",
        "--tail",
    ];
    let mut unknown = Vec::new();
    for (rel, text) in documents() {
        for flag in gatewatch_flags(&text) {
            if !known.contains(&flag) && !theirs.contains(&flag.as_str()) {
                unknown.push(format!("{rel}: {flag}"));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "flags gatewatch does not have:\n{}",
        unknown.join("\n")
    );
    assert!(gatewatch_flags(&read("README.md")).contains(&"--json".to_string()));
}

/// Every key name the key table answers to, by any binding.
fn key_spellings() -> BTreeSet<String> {
    BINDINGS.iter().flat_map(key_names).collect()
}

#[test]
fn every_key_the_readme_lists_exists() {
    let readme = read("README.md");
    let section = readme
        .split("\n## Keys\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a Keys section");
    let spellings = key_spellings();
    let mut listed = 0;
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let first = row.split('|').nth(1).unwrap_or("");
        for span in code(first) {
            for key in span.split_whitespace() {
                // `1`-`4`: a run of digits.
                let key = key.trim_matches(',');
                assert!(
                    spellings.contains(key),
                    "README's Keys lists {key:?}, which no binding has"
                );
                listed += 1;
            }
        }
    }
    assert!(
        listed >= 10,
        "the Keys section lists the first keys ({listed})"
    );
}

/// The binding `key` triggers in `scope`.
fn action_of(scope: Scope, key: &str) -> Option<Action> {
    bindings_in(scope)
        .find(|b| key_names(b).iter().any(|k| k == key))
        .map(|b| b.action)
}

#[test]
fn the_quick_start_keys_restart_a_service() {
    let readme = read("README.md");
    assert!(
        readme.contains("press `a` (the actions menu), `j`"),
        "the quick start's keys"
    );
    assert_eq!(action_of(Scope::Global, "a"), Some(Action::OpenActions));
    assert_eq!(
        action_of(Scope::Modal(ModalKind::Menu), "j"),
        Some(Action::ScrollDown)
    );
    assert_eq!(
        action_of(Scope::Modal(ModalKind::Menu), "Enter"),
        Some(Action::Choose)
    );
    assert_eq!(
        action_of(Scope::Modal(ModalKind::Confirm), "y"),
        Some(Action::Run)
    );
    assert!(scopes().len() > 10);
}

/// Object keys, recursively; arrays contribute their elements' keys.
fn shape(value: &serde_json::Value, path: &str, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            // An object's path marked as such: its fields were there to be printed.
            out.insert(format!("{path}{{}}"));
            for (k, v) in map {
                let here = format!("{path}.{k}");
                out.insert(here.clone());
                // Maps keyed by data (TCP states, ports) are not fields.
                if !["tcp_states", "ephemeral_ports_by_state", "causes"].contains(&k.as_str()) {
                    shape(v, &here, out);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                shape(item, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

/// The parent path of a field: `.host.load` -> `.host`.
fn parent(field: &str) -> &str {
    field.rfind('.').map_or("", |i| &field[..i])
}

/// Fields serde leaves out when empty or false (`skip_serializing_if`), as docs/json.md says.
const OPTIONAL: [&str; 3] = [
    ".verdict.since",
    ".upstreams[].notes",
    ".timeline.events[].clock_ahead",
];

#[test]
fn the_json_doc_names_the_fields_check_prints() {
    let doc = read("docs/json.md");
    let block = doc
        .split("```json\n")
        .nth(1)
        .and_then(|s| s.split("\n```").next())
        .expect("a json block");
    let documented: serde_json::Value = serde_json::from_str(block).expect("the example is JSON");
    let mut doc_fields = BTreeSet::new();
    shape(&documented, "", &mut doc_fields);

    // A scene with something in most sections: an upstream that refuses, a log with 502 causes.
    let sandbox = Sandbox::new();
    let refused = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = refused.local_addr().expect("addr").port();
    drop(refused);
    let log = sandbox.write(
        "error.log",
        "2026/12/01 14:00:00 [error] 1#1: *5 connect() failed (111: Connection refused) while \
         connecting to upstream, client: 127.0.0.1, server: _, request: \"GET / HTTP/1.1\", \
         upstream: \"http://127.0.0.1:9/\", host: \"shop\"\n",
    );
    let config = sandbox.write(
        "config.toml",
        &format!(
            "[[upstream]]\nname = \"shop\"\nurl = \"http://127.0.0.1:{port}/\"\n\n\
             [dns]\nnameservers = [\"127.0.0.1:9\"]\ntimeout = \"100ms\"\nhosts-file = {hosts:?}\n\
             resolv-conf = {hosts:?}\n\n[[log]]\npath = {log:?}\nkind = \"error\"\n\n\
             [timeline]\nkernel = \"/dev/null\"\npackages = []\n",
            hosts = sandbox.write("hosts", "").display().to_string(),
            log = log.display().to_string(),
        ),
    );
    let config = config.display().to_string();
    let (printed, _) = sandbox.check_json(&["--config", &config, "--read-only"]);
    let mut printed_fields = BTreeSet::new();
    shape(&printed, "", &mut printed_fields);

    // What check printed is documented, and what the doc shows is printed wherever check
    // printed its parent (an empty list shows no fields of its elements).
    let undocumented: Vec<&String> = printed_fields.difference(&doc_fields).collect();
    assert!(
        undocumented.is_empty(),
        "check --json prints fields docs/json.md does not show: {undocumented:?}"
    );
    let invented: Vec<&String> = doc_fields
        .iter()
        .filter(|f| !f.ends_with("{}") && !OPTIONAL.contains(&f.as_str()))
        .filter(|f| printed_fields.contains(&format!("{}{{}}", parent(f))))
        .filter(|f| !printed_fields.contains(*f))
        .collect();
    assert!(
        invented.is_empty(),
        "docs/json.md shows fields check --json does not print: {invented:?}"
    );
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("stat").permissions().mode() & 0o7777
}

/// docs/usage.md: the state directory is 0700 (created so, an existing one of ours narrowed),
/// its files 0600.
#[test]
fn the_state_directory_is_private_as_documented() {
    let usage = read("docs/usage.md");
    assert!(
        usage.contains("it must be ours with mode 0700") && usage.contains("Files in it are 0600")
    );
    let sandbox = Sandbox::new();
    let config = sandbox.write("config.toml", "[timeline]\nkernel = \"/dev/null\"\npackages = []\n[dns]\nnameservers = [\"127.0.0.1:9\"]\ntimeout = \"100ms\"\n");
    let config = config.display().to_string();
    let state = sandbox.path().join("state/gatewatch");
    for existing in [None, Some(0o755)] {
        if let Some(m) = existing {
            fs::set_permissions(&state, fs::Permissions::from_mode(m)).expect("chmod");
        }
        let out = sandbox.run(&["--config", &config, "check", "--timeout", "2s"]);
        assert!(
            matches!(out.status.code(), Some(0..=2)),
            "check ran: {out:?}"
        );
        assert_eq!(mode(&state), 0o700, "state dir after {existing:?}");
        assert_eq!(mode(&state.join(gatewatch::diagnostics::LOG_FILE)), 0o600);
    }
}

/// docs/usage.md: a config error, an unknown theme included, names the file, line and column.
#[test]
fn an_unknown_theme_in_the_config_names_its_line() {
    let sandbox = Sandbox::new();
    let config = sandbox.write("config.toml", "refresh = \"2s\"\n\ntheme = \"solarised\"\n");
    let config_arg = config.display().to_string();
    let out = sandbox.run(&["--config", &config_arg, "check"]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "gatewatch: {}:3:9: unknown theme \"solarised\": available themes are",
            config.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("3 | theme = \"solarised\""), "{stderr}");
    // On the command line there is no line to name.
    let out = sandbox.run(&["--config", &config_arg, "--theme", "nope", "check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("gatewatch: unknown theme \"nope\""),
        "{stderr}"
    );
}

/// docs/demo.md: `check` on the demo's config reads the scene only. `discover = false` is what
/// the demo's config says; no proxy flag is given here, so a search of the usual places would
/// show in `discovered_from`.
#[test]
fn discover_false_reads_no_proxy_config() {
    let sandbox = Sandbox::new();
    let config = sandbox.write(
        "config.toml",
        "discover = false\n[[upstream]]\nname = \"only\"\nurl = \"tcp://127.0.0.1:9\"\n\
         [dns]\nnameservers = [\"127.0.0.1:9\"]\ntimeout = \"100ms\"\n\
         [timeline]\nkernel = \"/dev/null\"\npackages = []\n",
    );
    let out = std::process::Command::new(common::BIN)
        .args(["--config", &config.display().to_string(), "check", "--json"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(sandbox.env())
        .output()
        .expect("run");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["discovered_from"], serde_json::json!([]), "{v}");
    assert_eq!(v["unprobeable"], serde_json::json!([]), "{v}");
    let names: Vec<&str> = v["upstreams"]
        .as_array()
        .expect("upstreams")
        .iter()
        .filter_map(|u| u["name"].as_str())
        .collect();
    assert_eq!(names, ["only"]);
}

/// Every module under src/ is in docs/code-layout.md: the map covers the territory.
#[test]
fn the_code_layout_names_every_module() {
    let text = read("docs/code-layout.md");
    let mut unlisted = Vec::new();
    for entry in fs::read_dir(root().join("src")).expect("src").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "lib.rs" || name.ends_with("_tests.rs") || name.ends_with(".toml") {
            continue;
        }
        let shown = match entry.path().is_dir() {
            true => format!("{name}/"),
            false => name,
        };
        if !text.contains(&format!("src/{shown}")) && !text.contains(&format!(" {shown}")) {
            unlisted.push(shown);
        }
    }
    unlisted.sort();
    assert!(
        unlisted.is_empty(),
        "docs/code-layout.md does not name src/{unlisted:?}"
    );
}

/// The FAQ's cause and verdict names are the ones `check --json` prints, and docs/verdicts.md
/// describes every verdict rule.
#[test]
fn the_faq_names_real_causes_and_verdicts() {
    let readme = read("README.md");
    let faq = readme
        .split("\n## FAQ")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("an FAQ section");
    let log_causes: Vec<&str> = gatewatch::logs::Cause::ALL
        .iter()
        .map(|c| c.name())
        .collect();
    let verdicts: Vec<&str> = gatewatch::diagnosis::RULES
        .iter()
        .map(|r| r.cause.name())
        .collect();
    let mut named = 0;
    for row in faq
        .lines()
        .filter(|l| l.starts_with("| `") || l.starts_with("| 502"))
    {
        let shown = row.split('|').nth(2).unwrap_or("");
        for (word, list) in [("cause `", &log_causes), ("verdict `", &verdicts)] {
            for part in shown.split(word).skip(1) {
                let name = part.split('`').next().unwrap_or("");
                assert!(
                    list.contains(&name),
                    "the FAQ's {word}{name}` does not exist"
                );
                named += 1;
            }
        }
    }
    assert!(named >= 10, "the FAQ names causes and verdicts ({named})");
    let rules = read("docs/verdicts.md");
    for cause in verdicts {
        assert!(
            rules.contains(&format!("`{cause}`")),
            "docs/verdicts.md lacks `{cause}`"
        );
    }
    let panes = read("docs/panes.md");
    for cause in log_causes {
        assert!(
            panes.contains(&format!("`{cause}`")),
            "docs/panes.md lacks the log cause `{cause}`"
        );
    }
}

/// docs/usage.md and docs/reports.md: `check -o` replaces FILE with a 0644 file (a scraper
/// reads it), `report -o` writes a new 0600 file and never overwrites one.
#[test]
fn output_files_have_the_modes_the_docs_give() {
    let usage = read("docs/usage.md");
    let reports = read("docs/reports.md");
    assert!(usage.contains("(mode\n  0644") || usage.contains("0644, created exclusively"));
    assert!(reports.contains("writes a new file with mode 0600"));
    let sandbox = Sandbox::new();
    let config = sandbox.write(
        "config.toml",
        "[timeline]\nkernel = \"/dev/null\"\npackages = []\n[dns]\nnameservers = [\"127.0.0.1:9\"]\ntimeout = \"100ms\"\n",
    );
    let config = config.display().to_string();
    let prom = sandbox.path().join("gatewatch.prom");
    let prom_arg = prom.display().to_string();
    let args = [
        "--config",
        &config,
        "check",
        "--format",
        "prometheus",
        "-o",
        &prom_arg,
    ];
    for _ in 0..2 {
        let out = sandbox.run(&args);
        assert!(matches!(out.status.code(), Some(0..=2)), "{out:?}");
        assert_eq!(mode(&prom), 0o644, "replaced whole, readable by a scraper");
    }
    let report = sandbox.path().join("incident.md");
    let report_arg = report.display().to_string();
    let out = sandbox.run(&["--config", &config, "report", "-o", &report_arg]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(mode(&report), 0o600);
    let again = sandbox.run(&["--config", &config, "report", "-o", &report_arg]);
    assert!(
        !again.status.success(),
        "an existing report is never overwritten"
    );
}
