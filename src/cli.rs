//! Command-line interface. Lives in the library so completions and the man page can be generated
//! from the same definitions.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::theme::ColorChoice;

#[derive(Debug, Parser)]
#[command(
    name = "gatewatch",
    version,
    about = "Live troubleshooting of 502 Bad Gateway errors on a reverse-proxy host",
    long_about = "gatewatch puts every step of troubleshooting a 502 on one screen, live: host load, \
                  upstream health, DNS, the proxy's logs. Run without a subcommand to open the \
                  dashboard; `gatewatch check` runs every check once for scripts and monitoring; \
                  `gatewatch report` writes the same as a Markdown incident snapshot; \
                  `gatewatch demo` shows it all on a built-in scene of failing local upstreams."
)]
pub struct Cli {
    /// Config file (default: $XDG_CONFIG_HOME/gatewatch/config.toml, then /etc/gatewatch/config.toml)
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Colour theme: default, light, high-contrast, monochrome, or a user theme
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,

    /// Colour depth; `auto` reads NO_COLOR, COLORTERM and TERM
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// nginx config to discover upstreams, logs and resolvers from [default: /etc/nginx/nginx.conf]
    #[arg(long, global = true, value_name = "PATH")]
    pub nginx_conf: Option<PathBuf>,

    /// HAProxy config to discover backends from [default: /etc/haproxy/haproxy.cfg]
    #[arg(long, global = true, value_name = "PATH")]
    pub haproxy_conf: Option<PathBuf>,

    /// Apache config to discover ProxyPass and balancers from [default: /etc/apache2/apache2.conf]
    #[arg(long, global = true, value_name = "PATH")]
    pub apache_conf: Option<PathBuf>,

    /// Caddy config (Caddyfile or JSON) to discover reverse_proxy upstreams, logs and the admin
    /// endpoint from [default: /etc/caddy/Caddyfile]
    #[arg(long, global = true, value_name = "PATH")]
    pub caddy_conf: Option<PathBuf>,

    /// Diagnostics log (default: $XDG_STATE_HOME/gatewatch/gatewatch.log)
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    /// Disable every service action (test, reload, restart); they are shown greyed out
    #[arg(long, global = true)]
    pub read_only: bool,

    /// Let the mouse focus and scroll panes (off by default so the terminal's own selection works)
    #[arg(long, global = true)]
    pub mouse: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every check once, print a report and exit 0 ok, 1 warning, 2 critical, 3 unknown
    Check {
        /// Output: text (a Nagios line and the report), json (one object), or prometheus (the
        /// text exposition format, for node_exporter's textfile collector)
        #[arg(long, value_enum, default_value_t = CheckFormat::Text, conflicts_with = "json")]
        format: CheckFormat,
        /// Same as --format json
        #[arg(long)]
        json: bool,
        /// Write to FILE instead of stdout, replacing it whole: a temporary file beside it, mode
        /// 0644, renamed over FILE (a scrape never reads half of it; a symlink at FILE is
        /// replaced, not followed)
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        deadline: Deadline,
    },
    /// Run every check once and write a Markdown incident snapshot: verdict, checklist,
    /// upstreams, DNS, firewall, the last 50 log lines with a 502 cause
    Report {
        /// Write to FILE instead of stdout: a new file, mode 0600; an existing file or symlink is
        /// never overwritten
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        deadline: Deadline,
    },
    /// Run the collectors headless and serve their metrics for Prometheus: GET /metrics (the
    /// text format, or OpenMetrics when asked through Accept) and GET /healthz. Never runs an
    /// action; SIGTERM or SIGINT stops it
    Serve {
        /// Address to listen on, IP:PORT; an address beyond loopback is warned about
        #[arg(long, value_name = "ADDR", default_value_t = crate::serve::DEFAULT_LISTEN)]
        listen: std::net::SocketAddr,
    },
    /// Open the dashboard on a built-in scene: local upstreams that fail in every way, their nginx
    /// logs and a DNS server, all on 127.0.0.1 and removed on quit. Needs no config and no root
    Demo,
    /// Print a shell completion script: `gatewatch completions bash > /etc/bash_completion.d/gatewatch`
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `gatewatch man > /usr/local/share/man/man1/gatewatch.1`
    Man,
    /// A container's log through the engine's API, written as `docker logs -t` writes it: what
    /// the log follower runs for a proxy in a container that logs to its stdout
    #[command(hide = true)]
    ContainerLogs {
        /// The engine's API socket
        #[arg(long)]
        socket: std::path::PathBuf,
        /// Go on with new lines as the container writes them
        #[arg(short, long)]
        follow: bool,
        /// Stamp each line (always done; taken for `docker logs -t`'s sake)
        #[arg(short = 't', long)]
        timestamps: bool,
        /// Lines of history first
        #[arg(long)]
        tail: Option<usize>,
        /// Only lines after this time (unix seconds, or RFC 3339 with fractions)
        #[arg(long)]
        since: Option<String>,
        /// The container's name or id
        container: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
    Prometheus,
}

/// How long `check` and `report` may take: past it they print what they have, and what did not
/// finish is reported as unknown.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Deadline {
    /// Give up on what has not finished after this long and report it as unknown (e.g. 20s, 1m)
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

/// The completion script for `shell`, generated from these definitions. Built in memory: the
/// generator panics on a write error, and stdout may be a closed pipe.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut out = Vec::new();
    let mut cmd = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut cmd, "gatewatch", &mut out);
    out
}

/// The man page (roff), generated from these definitions, the key table and the config keys.
pub fn man_page() -> Vec<u8> {
    crate::man::page(<Cli as clap::CommandFactory>::command())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every global option works before or after a subcommand (`gatewatch demo --read-only`).
    #[test]
    fn global_options_are_taken_in_every_position() {
        for args in [
            ["gatewatch", "--read-only", "--mouse", "demo"],
            ["gatewatch", "demo", "--read-only", "--mouse"],
        ] {
            let cli = Cli::try_parse_from(args).expect("parsed");
            assert!(cli.read_only && cli.mouse, "{args:?}");
            assert!(matches!(cli.command, Some(Command::Demo)), "{args:?}");
        }
        let global: Vec<String> = Cli::command()
            .get_arguments()
            .filter(|a| a.get_long().is_some() && !a.is_global_set())
            .filter_map(|a| a.get_long().map(str::to_owned))
            .filter(|l| l != "help" && l != "version")
            .collect();
        assert!(
            global.is_empty(),
            "options only taken before a subcommand: {global:?}"
        );
    }
}
