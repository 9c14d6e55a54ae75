//! Firewall engine: a read-only summary of the host firewall, and which of its rules could stop
//! the proxy reaching an upstream.
//!
//! Reads `ufw status verbose`, `iptables -S`, `ip6tables -S` and `nft list ruleset` where the
//! program exists (PATH, then /usr/sbin and /sbin), each with a time limit, stdin closed and
//! `LC_ALL=C`; nothing is ever changed. Only what can stop traffic is kept: DROP and REJECT
//! rules, and chains whose default policy drops. A tool that is missing, not permitted (not root)
//! or too slow becomes a note in its [`ToolReport`], never an error.
//!
//! Which rules matter for a 502 ([`matches`]):
//! - outbound (OUTPUT chains, nft `output`/`postrouting` hooks, ufw `OUT`): packets from the proxy
//!   to the upstream, so the rule's destination address and port are compared with the upstream's.
//!   A DROP makes connects time out; a REJECT makes them fail at once, and with the default
//!   `icmp-port-unreachable` or `tcp-reset` the proxy logs "connection refused" although the
//!   upstream is fine.
//! - the reply path (INPUT chains, nft `input`/`prerouting`/`ingress` hooks, ufw `IN`): the
//!   upstream's answers, so the rule's source address and port are compared. `-A INPUT -s 10.0.0.5
//!   -j DROP` drops the SYN-ACK and the connect times out. Most hosts accept `ESTABLISHED,RELATED`
//!   traffic first; a rule after such an accept never sees replies and is not flagged.
//! - FORWARD rules are about routed traffic, not the proxy's own connections, and are left out.
//!
//! Rules are not evaluated in order against ACCEPTs (an earlier ACCEPT may let the traffic
//! through); the diagnosis weighs a match against what the probes saw.

mod chains;
mod command;
mod iptables;
mod matching;
mod net;
mod nft;
mod ufw;
mod watcher;

use std::fmt;
use std::thread;
use std::time::{Duration, SystemTime};

use serde::Serialize;

pub use command::{DEFAULT_TIMEOUT, MAX_OUTPUT_BYTES, RunError, locate, run};
pub use matching::{EPHEMERAL_PORTS, Endpoint, Match, PathKind, Strength, matches};
pub use net::{AddrMatch, Cidr, Fit, PortMatch};
pub use watcher::{FirewallWatcher, INTERVAL};

/// Rules kept per tool at most; a host with thousands of generated rules (fail2ban, CrowdSec)
/// is summarised by its first ones and a count.
pub const MAX_RULES_PER_TOOL: usize = 2000;
/// Rule text kept per rule, in characters.
pub const MAX_RULE_TEXT: usize = 300;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    Ufw,
    Iptables,
    Ip6tables,
    Nft,
}

impl Tool {
    pub const ALL: [Tool; 4] = [Tool::Ufw, Tool::Iptables, Tool::Ip6tables, Tool::Nft];

    pub fn name(self) -> &'static str {
        match self {
            Tool::Ufw => "ufw",
            Tool::Iptables => "iptables",
            Tool::Ip6tables => "ip6tables",
            Tool::Nft => "nft",
        }
    }

    /// The read-only command that lists the rules.
    pub fn args(self) -> &'static [&'static str] {
        match self {
            Tool::Ufw => &["status", "verbose"],
            Tool::Iptables | Tool::Ip6tables => &["-S"],
            Tool::Nft => &["list", "ruleset"],
        }
    }

    /// How the operator would run it, for notes: "iptables -S".
    pub fn command_line(self) -> String {
        format!("{} {}", self.name(), self.args().join(" "))
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a packet is in the host: the netfilter hook a chain is attached to (or reached from).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Hook {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
}

impl Hook {
    pub fn name(self) -> &'static str {
        match self {
            Hook::Prerouting => "prerouting",
            Hook::Input => "input",
            Hook::Forward => "forward",
            Hook::Output => "output",
            Hook::Postrouting => "postrouting",
        }
    }

    /// iptables' built-in chain names, nft's hook names (netdev `ingress` sees inbound packets
    /// before prerouting, `egress` outbound ones after postrouting).
    pub fn from_name(name: &str) -> Option<Hook> {
        Some(match name.to_ascii_lowercase().as_str() {
            "prerouting" | "ingress" => Hook::Prerouting,
            "input" => Hook::Input,
            "forward" => Hook::Forward,
            "output" => Hook::Output,
            "postrouting" | "egress" => Hook::Postrouting,
            _ => return None,
        })
    }

    /// Packets the proxy sends.
    pub fn is_outbound(self) -> bool {
        matches!(self, Hook::Output | Hook::Postrouting)
    }

    /// Packets the proxy receives.
    pub fn is_inbound(self) -> bool {
        matches!(self, Hook::Input | Hook::Prerouting)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Drop,
    Reject,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Drop => "DROP",
            Action::Reject => "REJECT",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Family {
    #[serde(rename = "ipv4")]
    V4,
    #[serde(rename = "ipv6")]
    V6,
}

/// An interface condition: `-o eth0`, `! -i lo`, `oifname "eth*"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Iface {
    pub name: String,
    pub negated: bool,
}

impl Iface {
    /// Whether the condition can hold for a packet on the loopback interface (`loopback`) or on
    /// some other interface. Wildcards (`eth+`, `eth*`) are prefixes.
    pub fn can_hold(&self, loopback: bool) -> bool {
        let prefix = self.name.trim_end_matches(['+', '*']);
        let wildcard = prefix.len() != self.name.len();
        if loopback {
            let is_lo = if wildcard {
                "lo".starts_with(prefix)
            } else {
                self.name == "lo"
            };
            is_lo != self.negated
        } else {
            // Some interface other than lo fits any condition but a plain "lo".
            self.negated || wildcard || self.name != "lo"
        }
    }
}

/// One rule that can stop traffic, or a chain's dropping default policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub tool: Tool,
    /// "OUTPUT", "ufw-user-output", "inet filter output": where the rule sits.
    pub chain: String,
    /// The hooks whose packets reach this rule (through jumps, for user chains).
    pub hooks: Vec<Hook>,
    pub action: Action,
    /// A chain's default policy (`-P INPUT DROP`, nft `policy drop;`, ufw `Default: deny`).
    pub policy: bool,
    /// The family the rule applies to; `None` for both (nft `inet`).
    pub family: Option<Family>,
    /// "tcp", "udp", "icmp"...; `None` for any.
    pub protocol: Option<String>,
    pub src: AddrMatch,
    pub dst: AddrMatch,
    pub sport: PortMatch,
    pub dport: PortMatch,
    pub in_iface: Option<Iface>,
    pub out_iface: Option<Iface>,
    /// Conditions that were not evaluated (conntrack state, owner, marks, rate limits...): the
    /// rule may apply to less traffic than its addresses and ports say.
    pub other_conditions: bool,
    /// On every path to this rule an earlier rule accepts ESTABLISHED/RELATED traffic, so replies
    /// to the proxy's own connections never reach it.
    pub replies_accepted_before: bool,
    /// The rule as the tool printed it, sanitised and capped at [`MAX_RULE_TEXT`].
    pub text: String,
}

impl Rule {
    pub(crate) fn new(tool: Tool, chain: &str, action: Action, text: &str) -> Rule {
        Rule {
            tool,
            chain: crate::sanitize::sanitize(chain).into_owned(),
            hooks: Vec::new(),
            action,
            policy: false,
            family: match tool {
                Tool::Iptables => Some(Family::V4),
                Tool::Ip6tables => Some(Family::V6),
                Tool::Ufw | Tool::Nft => None,
            },
            protocol: None,
            src: AddrMatch::Any,
            dst: AddrMatch::Any,
            sport: PortMatch::Any,
            dport: PortMatch::Any,
            in_iface: None,
            out_iface: None,
            other_conditions: false,
            replies_accepted_before: false,
            text: clean_text(text),
        }
    }

    /// "iptables OUTPUT: -A OUTPUT -d 10.0.0.5/32 -j DROP".
    pub fn describe(&self) -> String {
        format!("{} {}: {}", self.tool, self.chain, self.text)
    }
}

pub(crate) fn clean_text(text: &str) -> String {
    let safe = crate::sanitize::sanitize(text.trim());
    match safe.char_indices().nth(MAX_RULE_TEXT) {
        Some((cut, _)) => format!("{}…", &safe[..cut]),
        None => safe.into_owned(),
    }
}

/// How reading one tool went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolState {
    /// Read and parsed.
    Read,
    /// ufw is installed but not enabled.
    Inactive,
    /// Not installed (not in PATH, /usr/sbin or /sbin).
    Absent,
    /// The tool needs privileges gatewatch does not have; its own message, sanitised.
    NotPermitted(String),
    TimedOut(Duration),
    /// It ran and failed, or could not be started; why.
    Failed(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolReport {
    pub tool: Tool,
    pub state: ToolState,
    /// DROP/REJECT rules and dropping policies found (before any cap).
    pub rules: usize,
    /// Rules also listed by another tool and counted there (iptables-nft tables in `nft`, ufw's
    /// rules in `iptables`).
    pub duplicates: usize,
}

impl ToolReport {
    /// One line for the operator: "iptables: 3 DROP/REJECT rules", "nft: not installed",
    /// "ufw: not permitted (run gatewatch as root): ERROR: You need to be root to run this script".
    pub fn note(&self) -> String {
        let tool = self.tool.name();
        match &self.state {
            ToolState::Read => {
                let mut s = match self.rules {
                    0 => format!("{tool}: no DROP/REJECT rules"),
                    1 => format!("{tool}: 1 DROP/REJECT rule"),
                    n => format!("{tool}: {n} DROP/REJECT rules"),
                };
                if self.duplicates > 0 {
                    s.push_str(&format!(
                        " ({} shown through another tool)",
                        self.duplicates
                    ));
                }
                s
            }
            ToolState::Inactive => format!("{tool}: inactive"),
            ToolState::Absent => format!("{tool}: not installed"),
            ToolState::NotPermitted(why) => {
                format!("{tool}: not permitted (run gatewatch as root to read it): {why}")
            }
            ToolState::TimedOut(after) => format!(
                "{tool}: `{}` did not finish within {} ms; killed",
                self.tool.command_line(),
                after.as_millis()
            ),
            ToolState::Failed(why) => format!("{tool}: {why}"),
        }
    }
}

/// Everything read from the host firewall at one time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirewallSummary {
    pub at: SystemTime,
    pub tools: Vec<ToolReport>,
    /// Rules that can stop traffic, from every tool that could be read, duplicates left out.
    pub rules: Vec<Rule>,
}

impl FirewallSummary {
    /// Whether any tool could be read at all.
    pub fn any_read(&self) -> bool {
        self.tools
            .iter()
            .any(|t| matches!(t.state, ToolState::Read | ToolState::Inactive))
    }

    pub fn tool(&self, tool: Tool) -> Option<&ToolReport> {
        self.tools.iter().find(|t| t.tool == tool)
    }
}

/// How to run the tools: which argv prefix (tests run them through `setpriv` as nobody), the
/// time limit, and where to look for them.
#[derive(Clone, Debug)]
pub struct ToolReader {
    pub prefix: Vec<String>,
    pub timeout: Duration,
    pub tools: Vec<Tool>,
}

impl Default for ToolReader {
    fn default() -> Self {
        ToolReader {
            prefix: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            tools: Tool::ALL.to_vec(),
        }
    }
}

/// Reads every tool the default way (all at once: the wait is the slowest one, at most the time
/// limit).
pub fn collect() -> FirewallSummary {
    collect_with(&ToolReader::default())
}

pub fn collect_with(reader: &ToolReader) -> FirewallSummary {
    let outputs: Vec<(Tool, Result<String, RunError>)> = thread::scope(|scope| {
        let handles: Vec<_> = reader
            .tools
            .iter()
            .map(|&tool| (tool, scope.spawn(move || read_tool(reader, tool))))
            .collect();
        handles
            .into_iter()
            .map(|(tool, h)| {
                let out = h
                    .join()
                    .unwrap_or_else(|_| Err(RunError::Failed("reader thread panicked".into())));
                (tool, out)
            })
            .collect()
    });
    summarise(SystemTime::now(), outputs)
}

fn read_tool(reader: &ToolReader, tool: Tool) -> Result<String, RunError> {
    let program = locate(tool.name()).ok_or(RunError::Absent)?;
    let mut argv = reader.prefix.clone();
    argv.push(program.display().to_string());
    argv.extend(tool.args().iter().map(|a| a.to_string()));
    run(&argv, reader.timeout)
}

/// Parses what each tool printed (or why it printed nothing) into one summary. Separate from
/// running them so fixed real-world output can be tested.
pub fn summarise(
    at: SystemTime,
    outputs: Vec<(Tool, Result<String, RunError>)>,
) -> FirewallSummary {
    let mut tools = Vec::new();
    let mut parsed: Vec<(Tool, Vec<Rule>, Option<nft::Managed>)> = Vec::new();
    for (tool, output) in outputs {
        let state = match output {
            Err(RunError::Absent) => ToolState::Absent,
            Err(RunError::NotPermitted(why)) => ToolState::NotPermitted(why),
            Err(RunError::TimedOut(after)) => ToolState::TimedOut(after),
            Err(RunError::Failed(why)) => ToolState::Failed(why),
            Ok(text) => match tool {
                Tool::Ufw => match ufw::parse(&text) {
                    ufw::Status::Inactive => ToolState::Inactive,
                    ufw::Status::Active(rules) => {
                        parsed.push((tool, rules, None));
                        ToolState::Read
                    }
                    ufw::Status::Unrecognised(first) => {
                        ToolState::Failed(format!("unrecognised output: {first}"))
                    }
                },
                Tool::Iptables | Tool::Ip6tables => {
                    parsed.push((tool, iptables::parse(tool, &text), None));
                    ToolState::Read
                }
                Tool::Nft => {
                    let (rules, managed) = nft::parse(&text);
                    parsed.push((tool, rules, Some(managed)));
                    ToolState::Read
                }
            },
        };
        tools.push(ToolReport {
            tool,
            state,
            rules: 0,
            duplicates: 0,
        });
    }
    let read = |t: Tool| parsed.iter().any(|(tool, _, _)| *tool == t);
    let (v4, v6) = (read(Tool::Iptables), read(Tool::Ip6tables));
    let mut rules = Vec::new();
    for (tool, tool_rules, managed) in &parsed {
        let mut kept = 0;
        let mut duplicates = 0;
        for rule in tool_rules {
            // ufw's rules live in iptables' ufw-user-* chains; iptables-nft's tables show in nft.
            let duplicate = match tool {
                Tool::Ufw => v4 || v6,
                Tool::Nft => managed
                    .as_ref()
                    .is_some_and(|m| m.covered(&rule.chain, v4, v6)),
                Tool::Iptables | Tool::Ip6tables => false,
            };
            if duplicate {
                duplicates += 1;
            } else if kept < MAX_RULES_PER_TOOL {
                rules.push(rule.clone());
                kept += 1;
            }
        }
        if let Some(report) = tools.iter_mut().find(|r| r.tool == *tool) {
            report.rules = tool_rules.len() - duplicates;
            report.duplicates = duplicates;
        }
    }
    FirewallSummary { at, tools, rules }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_conditions_know_loopback() {
        let iface = |name: &str, negated| Iface {
            name: name.into(),
            negated,
        };
        assert!(iface("lo", false).can_hold(true));
        assert!(!iface("lo", false).can_hold(false));
        assert!(!iface("eth0", false).can_hold(true));
        assert!(iface("eth0", false).can_hold(false));
        assert!(!iface("lo", true).can_hold(true));
        assert!(iface("lo", true).can_hold(false));
        assert!(iface("eth+", false).can_hold(false));
        assert!(!iface("eth+", false).can_hold(true));
        assert!(iface("l*", false).can_hold(true));
    }

    #[test]
    fn notes_say_what_happened_per_tool() {
        let report = |state| ToolReport {
            tool: Tool::Nft,
            state,
            rules: 2,
            duplicates: 1,
        };
        assert_eq!(
            report(ToolState::Read).note(),
            "nft: 2 DROP/REJECT rules (1 shown through another tool)"
        );
        assert_eq!(report(ToolState::Absent).note(), "nft: not installed");
        assert_eq!(
            report(ToolState::NotPermitted("Operation not permitted".into())).note(),
            "nft: not permitted (run gatewatch as root to read it): Operation not permitted"
        );
        assert_eq!(
            report(ToolState::TimedOut(Duration::from_millis(3000))).note(),
            "nft: `nft list ruleset` did not finish within 3000 ms; killed"
        );
    }
}
