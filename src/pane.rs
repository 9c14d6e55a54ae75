//! The four panes of the dashboard, in focus order.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PaneId {
    Host,
    Upstreams,
    Dns,
    Logs,
}

impl PaneId {
    pub const ALL: [PaneId; 4] = [PaneId::Host, PaneId::Upstreams, PaneId::Dns, PaneId::Logs];

    pub fn index(self) -> usize {
        match self {
            PaneId::Host => 0,
            PaneId::Upstreams => 1,
            PaneId::Dns => 2,
            PaneId::Logs => 3,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            PaneId::Host => "Host",
            PaneId::Upstreams => "Upstreams",
            PaneId::Dns => "DNS",
            PaneId::Logs => "Logs",
        }
    }

    pub fn next(self) -> PaneId {
        PaneId::ALL[(self.index() + 1) % 4]
    }

    pub fn prev(self) -> PaneId {
        PaneId::ALL[(self.index() + 3) % 4]
    }

    /// '1'..='4' as shown in the pane titles.
    pub fn from_digit(c: char) -> Option<PaneId> {
        let n = c.to_digit(10)? as usize;
        PaneId::ALL.get(n.checked_sub(1)?).copied()
    }
}
