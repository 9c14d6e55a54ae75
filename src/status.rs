//! The four-level status every check reports, with the Nagios exit-code convention.

use serde::Serialize;

/// Outcome of a check. Ordered by how much attention it needs, not by exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl Status {
    /// Rank for "which is worse": unknown outranks ok (we could not tell) but not a known problem.
    pub fn severity(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Unknown => 1,
            Status::Warning => 2,
            Status::Critical => 3,
        }
    }

    pub fn worst(self, other: Status) -> Status {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }

    /// Nagios plugin convention, so monitoring can call `gatewatch check`.
    pub fn exit_code(self) -> i32 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

/// One observation that deserves the operator's attention, with its evidence.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub status: Status,
    pub message: String,
}

impl Finding {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Finding {
            status,
            message: message.into(),
        }
    }
}

/// The worst status among findings; `Ok` when there are none.
pub fn overall<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Status {
    findings
        .into_iter()
        .fold(Status::Ok, |acc, f| acc.worst(f.status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_ranks_critical_over_warning_over_unknown_over_ok() {
        assert_eq!(Status::Ok.worst(Status::Unknown), Status::Unknown);
        assert_eq!(Status::Unknown.worst(Status::Warning), Status::Warning);
        assert_eq!(Status::Critical.worst(Status::Warning), Status::Critical);
        assert_eq!(Status::Warning.worst(Status::Ok), Status::Warning);
    }

    #[test]
    fn exit_codes_follow_nagios() {
        let codes: Vec<i32> = [
            Status::Ok,
            Status::Warning,
            Status::Critical,
            Status::Unknown,
        ]
        .into_iter()
        .map(Status::exit_code)
        .collect();
        assert_eq!(codes, vec![0, 1, 2, 3]);
    }

    #[test]
    fn overall_of_nothing_is_ok() {
        assert_eq!(overall(&[]), Status::Ok);
        let f = [
            Finding::new(Status::Warning, "a"),
            Finding::new(Status::Critical, "b"),
        ];
        assert_eq!(overall(&f), Status::Critical);
    }
}
