//! The man page: clap's name, synopsis, description and options, then the sections clap knows
//! nothing of, each rendered from what the program itself uses: KEYS from the key table,
//! CONFIGURATION from the config keys, EXIT STATUS from the status codes, FILES and ENVIRONMENT
//! from the constants the code reads. Nothing here is a copy that could drift.

use clap::{Arg, Command};
use clap_mangen::roff::{Inline, Roff, bold, italic, roman};

use crate::config::{CONFIG_FILE, KEYS, SYSTEM_CONFIG_DIR};
use crate::keymap::docs::{bindings_in, key_names, scopes};
use crate::status::Status;

/// Every environment variable gatewatch reads, and what it does.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "GATEWATCH_LOG",
        "level of the diagnostics log: error, warn, info (the default), debug or trace",
    ),
    (
        crate::containers::SOCKET_ENV,
        "the container engine's API socket; none turns the container lookup off",
    ),
    (
        "DOCKER_HOST",
        "the engine's socket when it is unix://PATH and GATEWATCH_DOCKER_SOCKET is unset",
    ),
    (
        crate::logs::JOURNALCTL_ENV,
        "the program run instead of journalctl for a journal log source and the kernel's log",
    ),
    (
        crate::logs::DOCKER_ENV,
        "the program run instead of docker for a container log source",
    ),
    (
        "GATEWATCH_TEST_PANIC",
        "for the test suite only: the dashboard panics after its first frame, to prove the terminal is given back",
    ),
    (
        "NO_COLOR",
        "when set and not empty, --color auto draws without colour",
    ),
    (
        "COLORTERM",
        "truecolor or 24bit: --color auto uses 24-bit colour",
    ),
    (
        "TERM",
        "dumb: no colour; a name with 256color: 256 colours; also whether y may copy (OSC 52)",
    ),
    (
        "TERM_PROGRAM",
        "the terminal's name (iTerm.app, WezTerm): whether y may copy through it (OSC 52)",
    ),
    (
        "TMUX",
        "set inside tmux, where y copies only with GATEWATCH_OSC52=on (tmux needs set-clipboard on)",
    ),
    (
        "GATEWATCH_OSC52",
        "on or off: whether y copies a log line through the terminal (OSC 52), whatever the terminal",
    ),
    (
        "COLORFGBG",
        "the terminal's colours as fg;bg: a light background picks the light theme without asking the terminal",
    ),
    (
        "PATH",
        "where the commands gatewatch runs (nginx -T, ss, systemctl, ...) are found",
    ),
    (
        "XDG_CONFIG_HOME",
        "the user's config directory (default ~/.config): gatewatch/config.toml and gatewatch/themes/",
    ),
    (
        "XDG_STATE_HOME",
        "the state directory's parent (default ~/.local/state)",
    ),
    ("HOME", "where the XDG defaults are when those are unset"),
    (
        "SUDO_USER",
        "the user named in the audit trail beside the one gatewatch runs as",
    ),
];

/// The whole page, roff.
pub fn page(cmd: Command) -> Vec<u8> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut ours = Roff::new();
    commands(&mut ours, &cmd);
    keys(&mut ours);
    configuration(&mut ours);
    exit_status(&mut ours);
    files(&mut ours);
    environment(&mut ours);
    type Part<'a> = Box<dyn Fn(&mut dyn std::io::Write) -> std::io::Result<()> + 'a>;
    let parts: [Part; 7] = [
        Box::new(|w| man.render_title(w)),
        Box::new(|w| man.render_name_section(w)),
        Box::new(|w| man.render_synopsis_section(w)),
        Box::new(|w| man.render_description_section(w)),
        Box::new(|w| man.render_options_section(w)),
        Box::new(|w| ours.to_writer(w)),
        Box::new(|w| man.render_version_section(w)),
    ];
    // Each part starts with roff's apostrophe preamble: the page needs it once, first.
    let preamble = Roff::new().render();
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let mut section = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = part(&mut section);
        let body = match section.strip_prefix(preamble.as_bytes()) {
            Some(body) if i > 0 => body,
            _ => &section[..],
        };
        out.extend_from_slice(body);
    }
    out
}

/// Each subcommand with its own options, on this page: no page per subcommand to point to.
fn commands(roff: &mut Roff, cmd: &Command) {
    roff.control("SH", ["COMMANDS"]);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let own: Vec<&Arg> = sub.get_arguments().filter(|a| shown(a)).collect();
        let mut head = vec![bold(format!("gatewatch {}", sub.get_name()))];
        for arg in &own {
            let optional = !arg.is_positional() && !arg.is_required_set();
            head.push(roman(if optional { " [" } else { " " }));
            head.extend(usage(arg));
            if optional {
                head.push(roman("]"));
            }
        }
        roff.control("TP", []);
        roff.text(head);
        if let Some(about) = sub.get_long_about().or_else(|| sub.get_about()) {
            roff.text([roman(about.to_string())]);
        }
        if own.is_empty() {
            continue;
        }
        roff.control("RS", []);
        for arg in own {
            roff.control("TP", []);
            roff.text(usage(arg));
            let mut help = arg
                .get_long_help()
                .or_else(|| arg.get_help())
                .map(|h| h.to_string())
                .unwrap_or_default();
            let values: Vec<String> = arg
                .get_possible_values()
                .iter()
                .filter(|_| arg.get_action().takes_values())
                .filter(|v| !v.is_hide_set())
                .map(|v| v.get_name().to_string())
                .collect();
            if !values.is_empty() {
                help.push_str(&format!(" [possible values: {}]", values.join(", ")));
            }
            let defaults: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            if !defaults.is_empty() {
                help.push_str(&format!(" [default: {}]", defaults.join(", ")));
            }
            roff.text([roman(help)]);
        }
        roff.control("RE", []);
    }
}

fn shown(arg: &Arg) -> bool {
    !arg.is_hide_set()
        && !arg.is_global_set()
        && !["help", "version"].contains(&arg.get_id().as_str())
}

/// `-o, --output <FILE>`, `--json`, `<SHELL>`.
fn usage(arg: &Arg) -> Vec<Inline> {
    let value = arg
        .get_value_names()
        .and_then(|names| names.first().map(|n| n.to_string()))
        .unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
    if arg.is_positional() {
        return vec![italic(format!("<{value}>"))];
    }
    let mut out = Vec::new();
    match (arg.get_short(), arg.get_long()) {
        (Some(s), Some(l)) => out.push(bold(format!("-{s}, --{l}"))),
        (Some(s), None) => out.push(bold(format!("-{s}"))),
        (None, Some(l)) => out.push(bold(format!("--{l}"))),
        (None, None) => {}
    }
    if arg.get_action().takes_values() {
        out.push(roman(" "));
        out.push(italic(format!("<{value}>")));
    }
    out
}

fn keys(roff: &mut Roff) {
    roff.control("SH", ["KEYS"]);
    roff.text([roman(
        "The dashboard's keys, from the same table that handles them (the footer and the ? help \
         show them too). While a popup is open only its own keys work, and Ctrl-C, which always \
         quits.",
    )]);
    for (scope, title) in scopes() {
        let mut rows = bindings_in(scope).peekable();
        if rows.peek().is_none() {
            continue;
        }
        roff.control("SS", [title.as_str()]);
        for b in rows {
            roff.control("TP", []);
            roff.text([bold(key_names(b).join(", "))]);
            roff.text([roman(b.help)]);
        }
    }
}

fn configuration(roff: &mut Roff) {
    roff.control("SH", ["CONFIGURATION"]);
    roff.text([roman(format!(
        "The config file is TOML: the first of --config PATH, \
         $XDG_CONFIG_HOME/gatewatch/{CONFIG_FILE} and {SYSTEM_CONFIG_DIR}/{CONFIG_FILE}; without \
         one gatewatch runs on its embedded defaults. Every key is optional unless marked \
         required; an unknown key is an error naming its line. Durations are strings with a \
         unit: \"500ms\", \"2s\", \"1m 30s\". Commands are argv arrays, never shell lines."
    ))]);
    let mut table = None;
    for key in KEYS {
        if table != Some(key.table) {
            table = Some(key.table);
            let title = match key.table {
                "" => "Top level",
                t => t,
            };
            roff.control("SS", [title]);
        }
        let mut head = vec![bold(key.key)];
        if !key.default.is_empty() {
            head.push(roman(format!(" ({})", plain(key.default))));
        }
        roff.control("TP", []);
        roff.text(head);
        roff.text([roman(plain(key.meaning))]);
    }
}

/// Markdown's code marks are noise in a man page.
fn plain(text: &str) -> String {
    text.replace('`', "")
}

fn exit_status(roff: &mut Roff) {
    roff.control("SH", ["EXIT STATUS"]);
    roff.text([roman(
        "check exits with the Nagios plugin convention, the worst status of its findings:",
    )]);
    for status in [
        Status::Ok,
        Status::Warning,
        Status::Critical,
        Status::Unknown,
    ] {
        let word = serde_json::to_value(status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        roff.control("TP", []);
        roff.text([bold(status.exit_code().to_string())]);
        let mut meaning = word;
        if status == Status::Unknown {
            meaning.push_str(
                ": a check could not tell; also a config or theme error, or an output that \
                 could not be written, for every command",
            );
        }
        roff.text([roman(meaning)]);
    }
}

fn files(roff: &mut Roff) {
    roff.control("SH", ["FILES"]);
    let state = "$XDG_STATE_HOME/gatewatch";
    let entries = [
        (
            format!("$XDG_CONFIG_HOME/gatewatch/{CONFIG_FILE}"),
            "the user's config".to_string(),
        ),
        (
            format!("{SYSTEM_CONFIG_DIR}/{CONFIG_FILE}"),
            "the system's config, read when the user has none".to_string(),
        ),
        (
            "$XDG_CONFIG_HOME/gatewatch/themes/NAME.toml".to_string(),
            "a user theme, or changes to the built-in one of that name".to_string(),
        ),
        (
            state.to_string(),
            "the state directory (~/.local/state/gatewatch without XDG_STATE_HOME): mode 0700, ours, under directories only we or root can \
             change; files in it are 0600. When it is not, gatewatch writes nothing there and \
             turns actions off"
                .to_string(),
        ),
        (
            format!("{state}/{}", crate::diagnostics::LOG_FILE),
            "the diagnostics log (--log-file names another), moved aside past 10 MB".to_string(),
        ),
        (
            format!("{state}/{}", crate::actions::AUDIT_FILE),
            "the audit trail of every service action".to_string(),
        ),
        (
            format!("{state}/report-TIME.md"),
            "an incident report written with e".to_string(),
        ),
    ];
    for (path, what) in entries {
        roff.control("TP", []);
        roff.text([italic(path)]);
        roff.text([roman(what)]);
    }
}

fn environment(roff: &mut Roff) {
    roff.control("SH", ["ENVIRONMENT"]);
    for (name, what) in ENVIRONMENT {
        roff.control("TP", []);
        roff.text([bold(*name)]);
        roff.text([roman(*what)]);
    }
}
