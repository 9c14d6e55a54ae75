//! Which hooks reach which rule: base chains are walked in order, following jumps into user
//! chains, noting where ESTABLISHED/RELATED traffic has already been accepted.

use std::collections::HashMap;

use super::{Hook, Rule};

/// Jumps followed at most in a row; real rulesets nest a few levels.
const MAX_DEPTH: usize = 32;

#[derive(Debug)]
pub(crate) struct Chain {
    pub name: String,
    /// Set for base chains (iptables' built-in ones, nft chains with a `hook`).
    pub hook: Option<Hook>,
    /// A dropping default policy, as a rule (its text is how the tool printed it).
    pub policy: Option<Rule>,
    pub entries: Vec<Entry>,
}

impl Chain {
    pub fn new(name: &str, hook: Option<Hook>) -> Chain {
        Chain {
            name: name.to_owned(),
            hook,
            policy: None,
            entries: Vec::new(),
        }
    }
}

#[derive(Debug)]
pub(crate) enum Entry {
    /// A DROP or REJECT rule (its `hooks` are filled in here).
    Stop(Box<Rule>),
    /// Continues in another chain of the same table (`-j name`, `jump name`, `goto name`).
    Jump(String),
    /// Accepts ESTABLISHED/RELATED traffic (and nothing narrower than that).
    AcceptEstablished,
}

#[derive(Default)]
struct Reach {
    hooks: Vec<Hook>,
    inbound_visits: usize,
    inbound_after_accept: usize,
}

/// The DROP/REJECT rules reachable from a base chain, each with the hooks that reach it; rules
/// in chains no base chain reaches are not in effect and are left out. Policies come last.
pub(crate) fn resolve(chains: Vec<Chain>) -> Vec<Rule> {
    let index: HashMap<&str, usize> = chains
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    let mut reach: HashMap<(usize, usize), Reach> = HashMap::new();
    let mut policy_accepted: HashMap<usize, bool> = HashMap::new();
    for (i, chain) in chains.iter().enumerate() {
        let Some(hook) = chain.hook else { continue };
        let mut stack = vec![i];
        let accepted = walk(&chains, &index, i, hook, false, &mut stack, &mut reach);
        policy_accepted.insert(i, accepted);
    }
    let mut rules = Vec::new();
    let mut policies = Vec::new();
    for (ci, chain) in chains.into_iter().enumerate() {
        for (ei, entry) in chain.entries.into_iter().enumerate() {
            let (Entry::Stop(rule), Some(r)) = (entry, reach.get(&(ci, ei))) else {
                continue;
            };
            let mut rule = *rule;
            rule.hooks = r.hooks.clone();
            rule.hooks.sort();
            rule.hooks.dedup();
            rule.replies_accepted_before =
                r.inbound_visits > 0 && r.inbound_after_accept == r.inbound_visits;
            rules.push(rule);
        }
        if let (Some(mut policy), Some(hook)) = (chain.policy, chain.hook) {
            policy.hooks = vec![hook];
            policy.policy = true;
            policy.replies_accepted_before = policy_accepted.get(&ci).copied().unwrap_or(false);
            policies.push(policy);
        }
    }
    rules.extend(policies);
    rules
}

/// Walks chain `ci` for packets of `hook`; returns whether ESTABLISHED traffic has been accepted
/// by the end of it.
fn walk(
    chains: &[Chain],
    index: &HashMap<&str, usize>,
    ci: usize,
    hook: Hook,
    mut accepted: bool,
    stack: &mut Vec<usize>,
    reach: &mut HashMap<(usize, usize), Reach>,
) -> bool {
    for (ei, entry) in chains[ci].entries.iter().enumerate() {
        match entry {
            Entry::AcceptEstablished => accepted = true,
            Entry::Stop(_) => {
                let r = reach.entry((ci, ei)).or_default();
                r.hooks.push(hook);
                if hook.is_inbound() {
                    r.inbound_visits += 1;
                    r.inbound_after_accept += usize::from(accepted);
                }
            }
            Entry::Jump(target) => {
                let Some(&ti) = index.get(target.as_str()) else {
                    continue;
                };
                if stack.contains(&ti) || stack.len() >= MAX_DEPTH {
                    continue;
                }
                stack.push(ti);
                accepted = walk(chains, index, ti, hook, accepted, stack, reach);
                stack.pop();
            }
        }
    }
    accepted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::{Action, Tool};

    fn stop(text: &str) -> Entry {
        Entry::Stop(Box::new(Rule::new(Tool::Iptables, "x", Action::Drop, text)))
    }

    #[test]
    fn user_chains_inherit_the_hooks_that_jump_to_them() {
        let mut input = Chain::new("INPUT", Some(Hook::Input));
        input.entries = vec![
            stop("early"),
            Entry::AcceptEstablished,
            Entry::Jump("user".into()),
        ];
        input.policy = Some(Rule::new(
            Tool::Iptables,
            "INPUT",
            Action::Drop,
            "-P INPUT DROP",
        ));
        let mut output = Chain::new("OUTPUT", Some(Hook::Output));
        output.entries = vec![Entry::Jump("user".into())];
        let mut user = Chain::new("user", None);
        user.entries = vec![stop("shared"), Entry::Jump("user".into())];
        let mut orphan = Chain::new("orphan", None);
        orphan.entries = vec![stop("never reached")];
        let rules = resolve(vec![input, output, user, orphan]);
        let texts: Vec<&str> = rules.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["early", "shared", "-P INPUT DROP"]);
        assert_eq!(rules[0].hooks, [Hook::Input]);
        assert!(!rules[0].replies_accepted_before);
        assert_eq!(rules[1].hooks, [Hook::Input, Hook::Output]);
        assert!(
            rules[1].replies_accepted_before,
            "after the accept on INPUT"
        );
        assert!(rules[2].policy && rules[2].replies_accepted_before);
    }
}
