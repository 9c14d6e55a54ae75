//! Every config key with its default and meaning: the one list docs/configuration.md's table and
//! the man page's CONFIGURATION section are rendered from. A test compares it with the keys serde
//! accepts (read from the `raw` structs themselves), so a key cannot be added undocumented.

/// One key of the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigKey {
    /// The table it belongs in, as written in the file (`[dns]`, `[[upstream]]`), or "" at the top.
    pub table: &'static str,
    pub key: &'static str,
    /// The default as TOML, or a word ("required", "detected") when there is none to write.
    pub default: &'static str,
    pub meaning: &'static str,
}

const fn k(
    table: &'static str,
    key: &'static str,
    default: &'static str,
    meaning: &'static str,
) -> ConfigKey {
    ConfigKey {
        table,
        key,
        default,
        meaning,
    }
}

pub const KEYS: &[ConfigKey] = &[
    k(
        "",
        "refresh",
        "\"2s\"",
        "how often host figures are sampled and the screen refreshed (250ms to 1h)",
    ),
    k(
        "",
        "theme",
        "\"default\"",
        "`default`, `light`, `high-contrast`, `monochrome`, or NAME for `<config dir>/themes/NAME.toml`",
    ),
    k(
        "",
        "discover",
        "true",
        "`false`: search no proxy config in its usual places and look for no proxy in containers; only this file and the `--*-conf` options name what is watched",
    ),
    k(
        "[[upstream]]",
        "name",
        "required",
        "unique name of a backend",
    ),
    k(
        "[[upstream]]",
        "url",
        "required",
        "`http://host[:port]/path`, `https://...`, `tcp://host:port` or `unix:/path`",
    ),
    k(
        "[[upstream]]",
        "timeout",
        "\"2s\"",
        "give up on a probe after this long",
    ),
    k("[[upstream]]", "interval", "\"2s\"", "time between probes"),
    k(
        "[[upstream]]",
        "expect",
        "\"200-399\"",
        "healthy status codes: a range or one code",
    ),
    k("[[upstream]]", "method", "\"GET\"", "`GET` or `HEAD`"),
    k(
        "[[upstream]]",
        "host",
        "from the url",
        "Host header to send",
    ),
    k(
        "[[upstream]]",
        "tls-verify",
        "true",
        "check https certificates (`false` for self-signed upstreams)",
    ),
    k(
        "[[upstream]]",
        "slow",
        "\"1s\"",
        "answers slower than this show as degraded",
    ),
    k(
        "[dns]",
        "names",
        "[]",
        "extra names to resolve with every nameserver (every upstream's host name is resolved too)",
    ),
    k(
        "[dns]",
        "nameservers",
        "[\"system\"]",
        "`\"system\"` (the hosts file, then resolv.conf, as nginx resolves; each resolv.conf nameserver is also asked on its own) or `\"IP\"` / `\"IP:port\"`",
    ),
    k("[dns]", "timeout", "\"2s\"", "per lookup, one attempt"),
    k("[dns]", "interval", "\"10s\"", "time between lookup rounds"),
    k(
        "[dns]",
        "hosts-file",
        "\"/etc/hosts\"",
        "hosts file used by `system`",
    ),
    k(
        "[dns]",
        "resolv-conf",
        "\"/etc/resolv.conf\"",
        "resolver config used by `system`",
    ),
    k("[[log]]", "path", "", "a log file; a glob is allowed"),
    k(
        "[[log]]",
        "command",
        "",
        "or: an argv whose output is followed, e.g. `[\"journalctl\", \"-fu\", \"nginx\", \"-o\", \"cat\"]`",
    ),
    k(
        "[[log]]",
        "journal",
        "",
        "or: a systemd unit whose journal is followed (`journalctl -f -o json -n 1000 -u UNIT`; `GATEWATCH_JOURNALCTL` names another program)",
    ),
    k(
        "[[log]]",
        "container",
        "",
        "or: a container whose log is followed, stdout and stderr (`docker logs -f -t --tail 1000 NAME`; `GATEWATCH_DOCKER` names another program)",
    ),
    k(
        "[[log]]",
        "kind",
        "detected",
        "`error` or `access` (nginx, Apache, HAProxy), `traefik` (its log and access log, common or JSON) or `envoy` (its access log, default format or JSON)",
    ),
    k("[[service]]", "name", "required", "unique service name"),
    k(
        "[[service]]",
        "status",
        "",
        "argv (never a shell line) whose exit 0 means running; polled every 30 s",
    ),
    k(
        "[[service]]",
        "test",
        "",
        "argv run before a reload or restart; failing refuses it",
    ),
    k("[[service]]", "reload", "", "argv that reloads the service"),
    k(
        "[[service]]",
        "restart",
        "",
        "argv that restarts the service",
    ),
    k(
        "[[service]]",
        "sudo",
        "false",
        "prefix the commands with `sudo -n`",
    ),
    k(
        "[[service]]",
        "timeout",
        "\"30s\"",
        "each command is killed after this long (100ms to 1h)",
    ),
    k(
        "[gateway]",
        "url",
        "none",
        "the proxy's own front door, `http://` or `https://`, probed like an upstream: its 502s feed step 1 of the checklist",
    ),
    k(
        "[gateway]",
        "timeout",
        "\"2s\"",
        "give up on a probe after this long",
    ),
    k("[gateway]", "interval", "\"5s\"", "time between probes"),
    k(
        "[gateway]",
        "expect",
        "\"100-499\"",
        "healthy answers: anything but a 5xx, unless narrowed",
    ),
    k(
        "[gateway]",
        "host",
        "from the url",
        "Host header to send (the virtual host to check)",
    ),
    k(
        "[gateway]",
        "tls-verify",
        "true",
        "check the https certificate",
    ),
    k(
        "[[proxy-api]]",
        "kind",
        "required",
        "`haproxy` (stats socket), `caddy` or `envoy` (admin endpoint): a proxy's own view of its upstreams",
    ),
    k(
        "[[proxy-api]]",
        "at",
        "required",
        "`host:port` on loopback (127.0.0.0/8, `::1`, `localhost`) or `unix:/path`; anything else is refused",
    ),
    k(
        "[timeline]",
        "span",
        "\"6h\"",
        "how far back the logs are read for the onset of the current failure (10m to 24h)",
    ),
    k(
        "[timeline]",
        "kernel",
        "\"/dev/kmsg\"",
        "the kernel's log device (OOM kills, segfaults); when it cannot be read, `journalctl -k`",
    ),
    k(
        "[timeline]",
        "packages",
        "[\"/var/log/dpkg.log\", \"/var/log/apt/history.log\"]",
        "package logs (dpkg's log, apt's history); a missing one is skipped",
    ),
];

/// The reference table of docs/configuration.md.
pub fn markdown_table() -> String {
    let mut out = String::from("| key | default | meaning |\n|---|---|---|\n");
    for key in KEYS {
        let name = match key.table {
            "" => format!("`{}`", key.key),
            table => format!("`{table}` `{}`", key.key),
        };
        let default = match key.default {
            "" => String::new(),
            "required" | "detected" | "none" | "from the url" => key.default.to_string(),
            toml => format!("`{toml}`"),
        };
        out.push_str(&format!(
            "| {name} | {default} | {} |\n",
            key.meaning.replace('|', "\\|")
        ));
    }
    out
}

/// The field names serde accepts for `T`, as its derived `Deserialize` declares them: a
/// deserializer that only listens for `deserialize_struct` and stops there.
#[cfg(test)]
pub(super) fn fields_of<'de, T: serde::Deserialize<'de>>() -> &'static [&'static str] {
    use serde::de::{Error as _, Visitor};

    #[derive(Debug)]
    struct Stop(&'static [&'static str]);
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("field names read")
        }
    }
    impl std::error::Error for Stop {}
    impl serde::de::Error for Stop {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Stop(&[])
        }
    }
    struct Listen;
    impl<'de> serde::Deserializer<'de> for Listen {
        type Error = Stop;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            Err(Stop(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    match T::deserialize(Listen) {
        Ok(_) => &[],
        Err(Stop(fields)) => fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The list above and the keys serde accepts are the same, table by table.
    #[test]
    fn every_key_serde_accepts_is_listed_and_no_other() {
        let mut accepted: Vec<(String, String)> = super::super::raw::fields()
            .into_iter()
            .flat_map(|(table, fields)| {
                fields
                    .iter()
                    .map(move |f| (table.to_string(), f.to_string()))
            })
            .collect();
        // A table of its own is a table, not a key: `[dns]` is listed by its keys.
        let tables: Vec<String> = KEYS.iter().map(|k| k.table.to_string()).collect();
        accepted.retain(|(table, key)| {
            !(table.is_empty()
                && tables
                    .iter()
                    .any(|t| t.trim_matches(['[', ']']) == key.as_str()))
        });
        accepted.sort();
        let mut listed: Vec<(String, String)> = KEYS
            .iter()
            .map(|k| (k.table.to_string(), k.key.to_string()))
            .collect();
        listed.sort();
        assert_eq!(listed, accepted);
    }

    #[test]
    fn the_table_escapes_pipes_and_names_each_key_once() {
        let table = markdown_table();
        assert_eq!(table.lines().count(), KEYS.len() + 2);
        assert!(table.contains("| `[dns]` `hosts-file` | `\"/etc/hosts\"` |"));
    }
}
