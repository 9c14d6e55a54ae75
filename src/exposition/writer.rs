//! The text formats themselves: HELP and TYPE lines, samples, escaping, and what OpenMetrics
//! does differently (a counter's family is named without `_total`, and `# EOF` ends it).

use std::fmt::Write as _;

use super::Format;

/// Characters kept of a label value: a name from a hostile config cannot blow up a scrape.
pub const MAX_LABEL_CHARS: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

pub struct Writer {
    out: String,
    format: Format,
}

impl Writer {
    pub fn new(format: Format) -> Self {
        Writer {
            out: String::with_capacity(4096),
            format,
        }
    }

    /// Starts a family: its HELP and TYPE. `name` is the samples' name (`..._total` for a
    /// counter); OpenMetrics names the family without the suffix.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let family = match (self.format, kind) {
            (Format::OpenMetrics, Kind::Counter) => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        let kind = match kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        };
        let _ = writeln!(
            self.out,
            "# HELP {family} {}",
            escape_help(help, self.format)
        );
        let _ = writeln!(self.out, "# TYPE {family} {kind}");
    }

    /// One sample line; label values are sanitised and escaped here.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Into<Value>) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(key);
                self.out.push_str("=\"");
                push_label_value(&mut self.out, value);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        match value.into() {
            Value::Int(n) => {
                let _ = write!(self.out, "{n}");
            }
            Value::Float(x) => push_float(&mut self.out, x),
        }
        self.out.push('\n');
    }

    pub fn finish(mut self) -> String {
        if self.format == Format::OpenMetrics {
            self.out.push_str("# EOF\n");
        }
        self.out
    }
}

pub enum Value {
    Int(u64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(n: u64) -> Self {
        Value::Int(n)
    }
}

impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Value::Int(n.into())
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}

fn push_float(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("NaN");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{x}");
    }
}

/// HELP text: both formats escape `\` and newline, OpenMetrics `"` too (the text format would
/// keep its backslash). Our HELP strings are constants, but they go through here all the same.
fn escape_help(help: &str, format: Format) -> String {
    let mut out = String::with_capacity(help.len());
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if format == Format::OpenMetrics => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

/// A label value as both formats require (`\\`, `\"`, `\n`), with every other control or
/// bidi character made visible the way [`crate::sanitize`] does for a terminal (its own
/// backslashes escaped in turn), and cut at [`MAX_LABEL_CHARS`].
pub fn push_label_value(out: &mut String, value: &str) {
    let mut buf = [0u8; 4];
    for (i, c) in value.chars().enumerate() {
        if i == MAX_LABEL_CHARS {
            out.push('…');
            break;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => {
                for s in crate::sanitize::sanitize(c.encode_utf8(&mut buf)).chars() {
                    if s == '\\' {
                        out.push_str("\\\\");
                    } else {
                        out.push(s);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(s: &str) -> String {
        let mut out = String::new();
        push_label_value(&mut out, s);
        out
    }

    #[test]
    fn label_values_are_escaped_and_sanitised() {
        assert_eq!(label(r#"a"b"#), r#"a\"b"#);
        assert_eq!(label(r"a\b"), r"a\\b");
        assert_eq!(label("a\nb"), r"a\nb");
        assert_eq!(label("a\u{1b}]0;owned\u{7}b"), r"a\\x1b]0;owned\\x07b");
        assert_eq!(label("a\rb\tc"), r"a\\x0db c");
        assert_eq!(label("evil\u{202e}txt"), r"evil\\u{202e}txt");
        assert_eq!(label("plain-ascii_1:80"), "plain-ascii_1:80");
        let long = "x".repeat(MAX_LABEL_CHARS + 50);
        assert_eq!(label(&long).chars().count(), MAX_LABEL_CHARS + 1);
    }

    #[test]
    fn counters_are_named_per_format_and_openmetrics_ends_with_eof() {
        for (format, family) in [
            (Format::Text, "# TYPE gatewatch_x_total counter\n"),
            (Format::OpenMetrics, "# TYPE gatewatch_x counter\n"),
        ] {
            let mut w = Writer::new(format);
            w.family(
                "gatewatch_x_total",
                Kind::Counter,
                "Line \"one\"\nback\\slash",
            );
            w.sample("gatewatch_x_total", &[("a", "b")], 3u64);
            w.sample("gatewatch_x_total", &[("a", "c")], f64::INFINITY);
            let out = w.finish();
            assert!(out.contains(family), "{out}");
            let help = match format {
                Format::Text => r#"Line "one"\nback\\slash"#,
                Format::OpenMetrics => r#"Line \"one\"\nback\\slash"#,
            };
            assert!(out.contains(help), "{out}");
            assert!(out.contains("gatewatch_x_total{a=\"b\"} 3\n"), "{out}");
            assert!(out.contains("gatewatch_x_total{a=\"c\"} +Inf\n"), "{out}");
            assert_eq!(out.ends_with("# EOF\n"), format == Format::OpenMetrics);
        }
    }
}
