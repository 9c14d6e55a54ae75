//! `check --json`: the report as it is, for machines.

use super::Report;

pub fn to_json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| {
        format!(
            "{{\"status\": \"unknown\", \"error\": {:?}}}",
            e.to_string()
        )
    })
}
