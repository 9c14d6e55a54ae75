//! The config file as a user meets it: defaults, a full example, search order, and the exact
//! error messages for the mistakes people make.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gatewatch::config::{
    self, Argv, Config, ConfigError, DEFAULT_CONFIG, Dns, HttpMethod, LogKind, LogSource,
    LogStream, Nameserver, ProxyApi, Service, StatusRange, Target, Upstream,
};
use gatewatch::discover::ApiKind;

const ORIGIN: &str = "/etc/gatewatch/config.toml";

fn parse(text: &str) -> Config {
    config::parse(text, Path::new(ORIGIN)).expect("config should parse")
}

fn error(text: &str) -> String {
    config::parse(text, Path::new(ORIGIN))
        .expect_err("config should be rejected")
        .to_string()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn argv(words: &[&str]) -> Argv {
    Argv(words.iter().map(|w| w.to_string()).collect())
}

fn ns(addr: &str) -> Nameserver {
    Nameserver::Addr(addr.parse::<SocketAddr>().expect("socket address"))
}

#[test]
fn embedded_defaults_parse_to_the_default_config() {
    assert_eq!(parse(DEFAULT_CONFIG), Config::default());
    assert_eq!(parse(""), Config::default());
    let defaults = Config::default();
    assert_eq!(defaults.refresh, secs(2));
    assert_eq!(defaults.theme, "default");
    assert_eq!(
        defaults.dns,
        Dns {
            names: vec![],
            nameservers: vec![Nameserver::System],
            timeout: secs(2),
            interval: secs(10),
            hosts_file: "/etc/hosts".into(),
            resolv_conf: "/etc/resolv.conf".into(),
        }
    );
}

#[test]
fn the_examples_commented_out_in_the_defaults_are_valid() {
    let uncommented: String = DEFAULT_CONFIG
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest) if rest.starts_with('[') || is_assignment(rest) => rest,
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let config = parse(&uncommented);
    assert_eq!(config.upstreams.len(), 1);
    assert_eq!(config.logs.len(), 4);
    assert_eq!(config.services.len(), 1);
    assert_eq!(config.proxy_apis.len(), 1);
}

fn is_assignment(line: &str) -> bool {
    line.split_once(" = ")
        .is_some_and(|(key, _)| key.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
}

#[test]
fn full_example_sets_every_key() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/full-config.toml");
    let text = fs::read_to_string(&path).expect("fixture");
    let config = config::parse(&text, &path).expect("full example should parse");
    let upstream = |name: &str, url: &str| Upstream {
        name: name.into(),
        url: url.parse().expect("url"),
        timeout: secs(2),
        interval: secs(2),
        expect: StatusRange {
            low: 200,
            high: 399,
        },
        method: HttpMethod::Get,
        host: None,
        tls_verify: true,
        slow: secs(1),
        from: None,
    };
    let expected = Config {
        refresh: secs(1),
        theme: "light".into(),
        discover: true,
        upstreams: vec![
            Upstream {
                timeout: ms(1500),
                interval: secs(5),
                expect: StatusRange {
                    low: 200,
                    high: 299,
                },
                method: HttpMethod::Head,
                host: Some("app.example.com".into()),
                slow: ms(300),
                ..upstream("app", "http://127.0.0.1:8080/healthz")
            },
            Upstream {
                expect: StatusRange {
                    low: 204,
                    high: 204,
                },
                tls_verify: false,
                ..upstream("api", "https://[::1]:8443/status")
            },
            upstream("php-fpm", "unix:/run/php/php-fpm.sock"),
            Upstream {
                timeout: secs(90),
                ..upstream("db", "tcp://db.internal:5432")
            },
        ],
        dns: Dns {
            names: vec!["app.example.com".into(), "db.internal".into()],
            nameservers: vec![
                Nameserver::System,
                ns("1.1.1.1:53"),
                ns("127.0.0.1:5353"),
                ns("[::1]:53"),
            ],
            timeout: secs(1),
            interval: secs(30),
            hosts_file: "/etc/hosts".into(),
            resolv_conf: "/run/systemd/resolve/resolv.conf".into(),
        },
        logs: vec![
            LogSource {
                path: Some("/var/log/nginx/error.log".into()),
                kind: Some(LogKind::Error),
                ..LogSource::default()
            },
            LogSource {
                path: Some("/var/log/nginx/*access.log".into()),
                kind: Some(LogKind::Access),
                ..LogSource::default()
            },
            LogSource {
                command: Some(argv(&["journalctl", "-f", "-u", "app.service", "-o", "cat"]).0),
                ..LogSource::default()
            },
        ],
        services: vec![
            Service {
                name: "nginx".into(),
                status: Some(argv(&["systemctl", "is-active", "nginx"])),
                test: Some(argv(&["nginx", "-t"])),
                reload: Some(argv(&["systemctl", "reload", "nginx"])),
                restart: Some(argv(&["systemctl", "restart", "nginx"])),
                sudo: true,
                timeout: Duration::from_secs(60),
            },
            Service {
                name: "app".into(),
                status: None,
                test: None,
                reload: None,
                restart: Some(argv(&["systemctl", "restart", "app"])),
                sudo: false,
                timeout: Duration::from_secs(30),
            },
        ],
        gateway: Some(Upstream {
            name: "gateway".into(),
            timeout: secs(1),
            interval: secs(10),
            expect: StatusRange {
                low: 200,
                high: 499,
            },
            host: Some("shop.example.com".into()),
            tls_verify: false,
            ..upstream("gateway", "http://127.0.0.1/")
        }),
        proxy_apis: vec![ProxyApi {
            kind: ApiKind::EnvoyAdmin,
            at: "tcp://127.0.0.1:9901".parse().expect("target"),
            line: 80,
        }],
        timeline: config::Timeline {
            span: secs(2 * 3600),
            kernel: "/dev/null".into(),
            packages: vec!["/srv/dpkg.log".into()],
        },
    };
    assert_eq!(config, expected);
    assert_eq!(
        config.upstreams[1].url,
        Target::Http {
            url: "https://[::1]:8443/status".into(),
            tls: true,
            host: "::1".into(),
            port: 8443
        }
    );
    assert_eq!(config.dns.nameservers[3].to_string(), "[::1]:53");
}

#[test]
fn lowercase_methods_and_integer_status_codes_are_accepted() {
    let config =
        parse("[[upstream]]\nname = \"a\"\nurl = \"http://a/\"\nmethod = \"head\"\nexpect = 204\n");
    assert_eq!(config.upstreams[0].method, HttpMethod::Head);
    assert_eq!(
        config.upstreams[0].expect,
        StatusRange {
            low: 204,
            high: 204
        }
    );
}

#[test]
fn syntax_error() {
    assert_eq!(
        error("refresh = \"2s\ntheme = \"light\"\n"),
        "/etc/gatewatch/config.toml:1:14: invalid basic string, expected `\"`\n  |\n1 | refresh = \"2s\n  |              ^"
    );
}

#[test]
fn unknown_top_level_key() {
    assert_eq!(
        error("theme = \"default\"\n\nrefrsh = \"2s\"\n"),
        "/etc/gatewatch/config.toml:3:1: unknown field `refrsh`, expected one of `refresh`, \
         `theme`, `discover`, `upstream`, `dns`, `log`, `service`, `gateway`, `proxy-api`, `timeline`\n  |\n3 | refrsh = \"2s\"\n  | ^^^^^^"
    );
}

#[test]
fn the_gateway_defaults_to_anything_but_a_5xx_and_must_be_http() {
    let config = parse("[gateway]\nurl = \"http://127.0.0.1:8080/\"\n");
    let gateway = config.gateway.expect("gateway");
    assert_eq!(gateway.name, "gateway");
    assert_eq!(gateway.expect, config::GATEWAY_EXPECT);
    assert_eq!((gateway.timeout, gateway.interval), (secs(2), secs(5)));
    assert_eq!(
        error("[gateway]\nurl = \"tcp://127.0.0.1:80\"\n"),
        "/etc/gatewatch/config.toml:2:7: invalid gateway url \"tcp://127.0.0.1:80\": the gateway \
         is probed over http:// or https://\n  |\n2 | url = \"tcp://127.0.0.1:80\"\n  |       ^^^^^^^^^^^^^^^^^^^^"
    );
    assert!(
        error("[gateway]\nurl = \"http://a/\"\nmethod = \"HEAD\"\n")
            .contains("unknown field `method`, expected one of `url`, `timeout`, `interval`, `expect`, `host`, `tls-verify`")
    );
}

#[test]
fn unknown_key_in_an_upstream() {
    assert_eq!(
        error("[[upstream]]\nname = \"app\"\nurl = \"http://a/\"\ntimout = \"1s\"\n"),
        "/etc/gatewatch/config.toml:4:1: unknown field `timout`, expected one of `name`, `url`, \
         `timeout`, `interval`, `expect`, `method`, `host`, `tls-verify`, `slow`\n  |\n4 | timout = \"1s\"\n  | ^^^^^^"
    );
}

#[test]
fn unknown_key_in_dns() {
    assert_eq!(
        error("[dns]\nnameserver = [\"system\"]\n"),
        "/etc/gatewatch/config.toml:2:1: unknown field `nameserver`, expected one of `names`, \
         `nameservers`, `timeout`, `interval`, `hosts-file`, `resolv-conf`\n  |\n2 | nameserver = [\"system\"]\n  | ^^^^^^^^^^"
    );
}

#[test]
fn missing_required_key() {
    assert_eq!(
        error("[[upstream]]\nname = \"app\"\n"),
        "/etc/gatewatch/config.toml:1:1: missing field `url`\n  |\n1 | [[upstream]]\n  | ^^^^^^^^^^^^"
    );
}

#[test]
fn bad_duration() {
    assert_eq!(
        error("refresh = \"2 parsecs\"\n"),
        "/etc/gatewatch/config.toml:1:11: invalid duration \"2 parsecs\" for `refresh`: unknown \
         time unit \"parsecs\", supported units: ns, us/µs, ms, sec, min, hours, days, weeks, months, \
         years (and few variations)\n  |\n1 | refresh = \"2 parsecs\"\n  |           ^^^^^^^^^^^"
    );
}

#[test]
fn duration_given_as_a_number() {
    assert_eq!(
        error("[[upstream]]\nname = \"a\"\nurl = \"http://a/\"\ntimeout = 5\n"),
        "/etc/gatewatch/config.toml:4:11: invalid duration 5 for `timeout`: expected a string \
         with a unit, like \"2s\" or \"500ms\"\n  |\n4 | timeout = 5\n  |           ^"
    );
}

#[test]
fn duration_out_of_range() {
    assert_eq!(
        error("refresh = \"100ms\""),
        "/etc/gatewatch/config.toml:1:11: invalid duration \"100ms\" for `refresh`: must be \
         between 250ms and 1h\n  |\n1 | refresh = \"100ms\"\n  |           ^^^^^^^"
    );
    assert!(
        error("[dns]\ninterval = \"2h\"").contains("for `interval`: must be between 100ms and 1h")
    );
    assert!(error("[dns]\ntimeout = \"0s\"").contains("for `timeout`: must be between 1ms and 5m"));
}

#[test]
fn bad_url() {
    assert_eq!(
        error("[[upstream]]\nname = \"a\"\nurl = \"ftp://x\"\n"),
        "/etc/gatewatch/config.toml:3:7: invalid upstream url \"ftp://x\": expected http://, \
         https://, tcp://host:port or unix:/path\n  |\n3 | url = \"ftp://x\"\n  |       ^^^^^^^^^"
    );
}

#[test]
fn bad_status_range() {
    assert_eq!(
        error("[[upstream]]\nname = \"a\"\nurl = \"http://a/\"\nexpect = \"600-700\"\n"),
        "/etc/gatewatch/config.toml:4:10: invalid status range \"600-700\": status codes are \
         100-599\n  |\n4 | expect = \"600-700\"\n  |          ^^^^^^^^^"
    );
}

#[test]
fn bad_method() {
    assert!(
        error("[[upstream]]\nname = \"a\"\nurl = \"http://a/\"\nmethod = \"POST\"\n").starts_with(
            "/etc/gatewatch/config.toml:4:10: invalid method \"POST\": expected GET or HEAD\n"
        )
    );
}

#[test]
fn bad_nameserver() {
    assert_eq!(
        error("[dns]\nnameservers = [\"system\", \"8.8.8\"]\n"),
        "/etc/gatewatch/config.toml:2:26: invalid nameserver \"8.8.8\": expected \"system\", an \
         IP address like \"127.0.0.1\" or \"::1\", or an address with a port like \
         \"127.0.0.1:5353\" or \"[::1]:53\"\n  |\n2 | nameservers = [\"system\", \"8.8.8\"]\n  |                          ^^^^^^^"
    );
    assert!(error("[dns]\nnameservers = []\n").contains(
        "2:15: `nameservers` must not be empty: use [\"system\"] for the system resolver"
    ));
}

#[test]
fn shell_string_where_an_argv_is_required() {
    assert_eq!(
        error("[[service]]\nname = \"nginx\"\nreload = \"systemctl reload nginx\"\n"),
        "/etc/gatewatch/config.toml:3:10: invalid command \"systemctl reload nginx\" for \
         `reload`: expected an array of strings (argv), not a shell command line: write \
         [\"systemctl\", \"reload\", \"nginx\"]\n  |\n3 | reload = \"systemctl reload nginx\"\n  |          ^^^^^^^^^^^^^^^^^^^^^^^^"
    );
    // No suggestion when a naive split would be wrong.
    assert!(
        error("[[log]]\ncommand = \"tail -F '/var/log/my app.log'\"\n").contains(
            "invalid command \"tail -F '/var/log/my app.log'\" for `command`: expected an array \
             of strings (argv), not a shell command line\n"
        )
    );
}

#[test]
fn malformed_argv() {
    let service = |value: &str| error(&format!("[[service]]\nname = \"s\"\nstatus = {value}\n"));
    assert!(service("[]").contains(
        "3:10: `status` must not be empty: give the program and its arguments, like \
         [\"systemctl\", \"reload\", \"nginx\"]"
    ));
    assert!(service("[\"\", \"x\"]").contains(
        "3:10: invalid command for `status`: the program (first element) must not be empty"
    ));
    assert!(service("[\"systemctl\", 1]").contains(
        "3:10: invalid command for `status`: 1 is not a string; every element must be a string"
    ));
    assert!(service("true").contains(
        "3:10: invalid command true for `status`: expected an array of strings (argv), like"
    ));
}

#[test]
fn duplicate_upstream_names() {
    let text = "[[upstream]]\nname = \"app\"\nurl = \"http://a/\"\n\n\
                [[upstream]]\nname = \"app\"\nurl = \"http://b/\"\n";
    assert_eq!(
        error(text),
        "/etc/gatewatch/config.toml:6:8: duplicate upstream name \"app\": it is already used on \
         line 2\n  |\n6 | name = \"app\"\n  |        ^^^^^"
    );
}

#[test]
fn duplicate_service_names() {
    let text = "[[service]]\nname = \"nginx\"\n[[service]]\nname = \"nginx\"\n";
    assert!(error(text).starts_with(
        "/etc/gatewatch/config.toml:4:8: duplicate service name \"nginx\": it is already used on line 2\n"
    ));
}

#[test]
fn empty_names() {
    assert!(
        error("[[upstream]]\nname = \"\"\nurl = \"http://a/\"\n")
            .starts_with("/etc/gatewatch/config.toml:2:8: upstream name must not be empty\n")
    );
}

#[test]
fn log_needs_exactly_one_source() {
    assert_eq!(
        error("[[log]]\npath = \"/var/log/a.log\"\ncommand = [\"journalctl\", \"-f\"]\n"),
        "/etc/gatewatch/config.toml:3:11: a [[log]] takes `path` or `command`, not both\n  |\n\
         3 | command = [\"journalctl\", \"-f\"]\n  |           ^^^^^^^^^^^^^^^^^^^^"
    );
    assert_eq!(
        error("refresh = \"2s\"\n\n[[log]]\nkind = \"error\"\n"),
        "/etc/gatewatch/config.toml:3:1: a [[log]] needs `path` (a file or glob), `command` (an \
         argv), `journal` (a systemd unit) or `container` (a container name)\n  |\n3 | [[log]]\n  | ^^^^^^^"
    );
    assert_eq!(
        error("[[log]]\njournal = \"nginx.service\"\ncontainer = \"web\"\n"),
        "/etc/gatewatch/config.toml:3:13: a [[log]] takes one of `path`, `command`, `journal` and \
         `container`\n  |\n3 | container = \"web\"\n  |             ^^^^^"
    );
    assert!(
        error("[[log]]\npath = \"/a\"\njournal = \"nginx.service\"\n")
            .starts_with("/etc/gatewatch/config.toml:1:1: a [[log]] takes one of")
    );
}

#[test]
fn journal_and_container_names_are_checked() {
    assert!(
        error("[[log]]\njournal = \"-o\"\n").starts_with(
            "/etc/gatewatch/config.toml:2:11: invalid unit \"-o\": a systemd unit name such as \"nginx.service\"\n"
        )
    );
    assert!(
        error("[[log]]\ncontainer = \"--privileged\"\n").starts_with(
            "/etc/gatewatch/config.toml:2:13: invalid container \"--privileged\": a container name or id such as \"web-1\"\n"
        )
    );
    let config = parse(
        "[[log]]\njournal = \"nginx.service\"\n\n[[log]]\ncontainer = \"web-1\"\nkind = \"error\"\n",
    );
    assert_eq!(
        config.logs,
        [
            LogSource {
                stream: Some(LogStream::Journal("nginx.service".into())),
                ..LogSource::default()
            },
            LogSource {
                stream: Some(LogStream::Container("web-1".into())),
                kind: Some(LogKind::Error),
                ..LogSource::default()
            },
        ]
    );
}

#[test]
fn bad_log_glob_and_kind() {
    assert!(error("[[log]]\npath = \"/var/log/[a.log\"\n").starts_with(
        "/etc/gatewatch/config.toml:2:8: invalid log path \"/var/log/[a.log\": Pattern syntax \
         error near position 9: invalid range pattern\n"
    ));
    assert!(
        error("[[log]]\npath = \"/a\"\nkind = \"debug\"\n")
            .starts_with("/etc/gatewatch/config.toml:3:8: invalid log kind \"debug\": expected \"error\", \"access\", \"traefik\" or \"envoy\"\n")
    );
}

#[test]
fn wrong_types_are_reported_by_position() {
    assert_eq!(
        error("[[service]]\nname = \"s\"\nsudo = \"yes\"\n"),
        "/etc/gatewatch/config.toml:3:8: invalid type: string \"yes\", expected a boolean\n  |\n\
         3 | sudo = \"yes\"\n  |        ^^^^^"
    );
}

#[test]
fn theme_names_cannot_be_paths() {
    assert!(error("theme = \"../../etc/passwd\"\n").starts_with(
        "/etc/gatewatch/config.toml:1:9: invalid theme name \"../../etc/passwd\": use letters, \
         digits, '-' and '_'\n"
    ));
}

#[test]
fn bad_host_header() {
    assert!(
        error("[[upstream]]\nname = \"a\"\nurl = \"http://a/\"\nhost = \"a b\"\n").contains(
            "4:8: invalid host \"a b\": a Host header needs a non-empty name without spaces"
        )
    );
}

#[test]
fn bad_dns_name() {
    assert!(
        error("[dns]\nnames = [\"ok.example\", \"not a name\"]\n").contains(
            "2:24: invalid DNS name \"not a name\": expected a host name like \"api.internal\""
        )
    );
}

// --- Loading and search order ---

struct Env(HashMap<&'static str, OsString>);

impl Env {
    fn new(vars: &[(&'static str, &Path)]) -> Self {
        Env(vars
            .iter()
            .map(|(k, v)| (*k, v.as_os_str().to_owned()))
            .collect())
    }

    fn get(&self) -> impl Fn(&str) -> Option<OsString> + '_ {
        |name| self.0.get(name).cloned()
    }
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, text).expect("write");
}

#[test]
fn search_order() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    let xdg = tmp.path().join("xdg");
    let etc = tmp.path().join("etc/gatewatch");
    let explicit = tmp.path().join("explicit.toml");
    let env = Env::new(&[("HOME", &home), ("XDG_CONFIG_HOME", &xdg)]);
    let load = |explicit: Option<&Path>| {
        config::load_with(explicit, &env.get(), &etc).expect("config should load")
    };

    // Nothing anywhere: embedded defaults.
    let loaded = load(None);
    assert_eq!(loaded.source, None);
    assert_eq!(loaded.config, Config::default());

    write(&etc.join("config.toml"), "theme = \"etc\"");
    assert_eq!(load(None).source, Some(etc.join("config.toml")));
    assert_eq!(load(None).config.theme, "etc");

    // ~/.config is only a fallback for an unset XDG_CONFIG_HOME, not a further place to look.
    write(
        &home.join(".config/gatewatch/config.toml"),
        "theme = \"home\"",
    );
    assert_eq!(load(None).config.theme, "etc");
    let only_home = Env::new(&[("HOME", &home)]);
    let from_home = config::load_with(None, &only_home.get(), &etc).expect("load");
    assert_eq!(from_home.config.theme, "home");
    assert_eq!(
        from_home.source,
        Some(home.join(".config/gatewatch/config.toml"))
    );

    write(&xdg.join("gatewatch/config.toml"), "theme = \"xdg\"");
    let loaded = load(None);
    assert_eq!(loaded.config.theme, "xdg");
    assert_eq!(loaded.source, Some(xdg.join("gatewatch/config.toml")));

    write(&explicit, "theme = \"explicit\"");
    let loaded = load(Some(&explicit));
    assert_eq!(loaded.config.theme, "explicit");
    assert_eq!(loaded.source, Some(explicit.clone()));
}

#[test]
fn explicit_config_must_exist() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("nope.toml");
    let err = config::load_with(Some(&missing), &|_| None, tmp.path()).expect_err("missing");
    assert!(matches!(err, ConfigError::Read { .. }));
    assert_eq!(err.path(), missing);
    assert_eq!(
        err.to_string(),
        format!(
            "{}: cannot read config: No such file or directory (os error 2)",
            missing.display()
        )
    );
}

#[test]
fn unreadable_config_is_an_error_not_skipped() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let xdg = tmp.path().join("xdg");
    let etc = tmp.path().join("etc");
    write(&etc.join("config.toml"), "theme = \"etc\"");
    // A directory where the file should be cannot be read, even by root.
    fs::create_dir_all(xdg.join("gatewatch/config.toml")).expect("mkdir");
    let env = Env::new(&[("XDG_CONFIG_HOME", &xdg)]);
    let err = config::load_with(None, &env.get(), &etc).expect_err("unreadable");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: cannot read config: a directory, not a regular file",
            xdg.join("gatewatch/config.toml").display()
        )
    );

    let bad_utf8 = tmp.path().join("latin1.toml");
    fs::write(&bad_utf8, b"theme = \"caf\xe9\"").expect("write");
    let err = config::load_with(Some(&bad_utf8), &|_| None, &etc).expect_err("not utf-8");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: cannot read config: stream did not contain valid UTF-8",
            bad_utf8.display()
        )
    );
}

#[cfg(unix)]
#[test]
fn permission_denied_is_an_error() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("config.toml");
    write(&path, "");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).expect("chmod");
    if fs::read(&path).is_ok() {
        return; // root reads anything; the directory case above covers the path.
    }
    let err = config::load_with(None, &|_| None, tmp.path()).expect_err("unreadable");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: cannot read config: Permission denied (os error 13)",
            path.display()
        )
    );
}

#[test]
fn errors_in_a_found_file_name_that_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("config.toml");
    write(&path, "refresh = 2\n");
    let err = config::load_with(None, &|_| None, tmp.path()).expect_err("invalid");
    assert!(matches!(err, ConfigError::Invalid(_)));
    assert!(
        err.to_string()
            .starts_with(&format!("{}:1:11: invalid duration 2", path.display()))
    );
}

#[test]
fn config_dir_follows_xdg() {
    let dir = |vars: &[(&'static str, &str)]| {
        let vars: HashMap<&str, OsString> = vars.iter().map(|(k, v)| (*k, (*v).into())).collect();
        config::config_dir(&|name| vars.get(name).cloned())
    };
    assert_eq!(
        dir(&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/home/u")]),
        Some(PathBuf::from("/x/gatewatch"))
    );
    assert_eq!(
        dir(&[("XDG_CONFIG_HOME", ""), ("HOME", "/home/u")]),
        Some(PathBuf::from("/home/u/.config/gatewatch"))
    );
    assert_eq!(
        dir(&[("XDG_CONFIG_HOME", "relative"), ("HOME", "/home/u")]),
        Some(PathBuf::from("/home/u/.config/gatewatch"))
    );
    assert_eq!(
        dir(&[("HOME", "/home/u")]),
        Some(PathBuf::from("/home/u/.config/gatewatch"))
    );
    assert_eq!(dir(&[("HOME", "")]), None);
    assert_eq!(dir(&[]), None);
}

#[test]
fn proxy_apis_are_on_loopback_or_a_unix_socket() {
    let config = parse(
        "[[proxy-api]]\nkind = \"haproxy\"\nat = \"/run/haproxy.sock\"\n\n\
         [[proxy-api]]\nkind = \"caddy\"\nat = \"unix:/run/caddy.sock\"\n\n\
         [[proxy-api]]\nkind = \"envoy\"\nat = \"[::1]:9901\"\n",
    );
    let got: Vec<(ApiKind, String, usize)> = config
        .proxy_apis
        .iter()
        .map(|a| (a.kind, a.at.to_string(), a.line))
        .collect();
    assert_eq!(
        got,
        vec![
            (ApiKind::HaproxyStats, "unix:/run/haproxy.sock".into(), 3),
            (ApiKind::CaddyAdmin, "unix:/run/caddy.sock".into(), 7),
            (ApiKind::EnvoyAdmin, "tcp://[::1]:9901".into(), 11),
        ]
    );
    assert_eq!(
        error("[[proxy-api]]\nkind = \"traefik\"\nat = \"127.0.0.1:8080\"\n"),
        "/etc/gatewatch/config.toml:2:8: unknown proxy API kind \"traefik\": expected haproxy, \
         caddy or envoy\n  |\n2 | kind = \"traefik\"\n  |        ^^^^^^^^^"
    );
    let far = error("[[proxy-api]]\nkind = \"envoy\"\nat = \"10.0.0.5:9901\"\n");
    assert!(
        far.starts_with(
            "/etc/gatewatch/config.toml:3:6: proxy API address \"10.0.0.5:9901\" is not on loopback"
        ),
        "{far}"
    );
    let bad = error("[[proxy-api]]\nkind = \"envoy\"\nat = \"127.0.0.1\"\n");
    assert!(
        bad.contains("3:6: invalid proxy API address \"127.0.0.1\""),
        "{bad}"
    );
    assert!(error("[[proxy-api]]\nkind = \"envoy\"\n").contains("missing field `at`"));
}
