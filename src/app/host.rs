//! The Host pane's process list: which processes show, and in what order.

use crate::host::{HostSample, ProcessRow};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcSort {
    Cpu,
    Mem,
}

/// The operator's view of the host's processes; the sample itself is the model's.
#[derive(Debug, Default)]
pub struct HostView {
    pub sort: Option<ProcSort>,
    pub filter: String,
    /// Indices into `sample.processes`, sorted and filtered; rebuilt only when those change.
    pub visible: Vec<usize>,
}

impl HostView {
    pub fn sort(&self) -> ProcSort {
        self.sort.unwrap_or(ProcSort::Cpu)
    }

    pub fn visible_processes<'s>(
        &'s self,
        sample: Option<&'s HostSample>,
    ) -> impl Iterator<Item = &'s ProcessRow> {
        let procs = sample.map(|s| s.processes.as_slice()).unwrap_or(&[]);
        self.visible.iter().filter_map(move |&i| procs.get(i))
    }

    pub(super) fn rebuild(&mut self, sample: Option<&HostSample>) {
        let Some(sample) = sample else {
            self.visible.clear();
            return;
        };
        let needle = self.filter.to_lowercase();
        let mut idx: Vec<usize> = sample
            .processes
            .iter()
            .enumerate()
            .filter(|(_, p)| needle.is_empty() || process_matches(p, &needle))
            .map(|(i, _)| i)
            .collect();
        let procs = &sample.processes;
        match self.sort() {
            // By the figure shown (one decimal), so rows with equal-looking CPU keep pid order
            // instead of trading places (and redrawing) at every sample.
            ProcSort::Cpu => idx.sort_by_key(|&i| {
                (
                    std::cmp::Reverse((procs[i].cpu * 10.0).round() as i64),
                    procs[i].pid,
                )
            }),
            ProcSort::Mem => idx.sort_by(|&a, &b| {
                procs[b]
                    .mem
                    .cmp(&procs[a].mem)
                    .then(procs[a].pid.cmp(&procs[b].pid))
            }),
        }
        self.visible = idx;
    }
}

fn process_matches(p: &ProcessRow, needle_lower: &str) -> bool {
    p.command.to_lowercase().contains(needle_lower)
        || p.user.to_lowercase().contains(needle_lower)
        || p.pid.to_string() == needle_lower
}

#[cfg(test)]
mod tests {
    use crate::app::Event;
    use crate::app::fixtures::{app, press, sample};
    use crossterm::event::KeyCode;

    #[test]
    fn processes_sort_by_cpu_then_mem() {
        let mut a = app();
        a.update(Event::Host(Box::new(sample(0.1))));
        let pids: Vec<u32> = a
            .host
            .visible_processes(a.model.host.as_ref())
            .map(|p| p.pid)
            .collect();
        assert_eq!(pids, [11, 12, 10]);
        press(&mut a, KeyCode::Char('s'));
        let pids: Vec<u32> = a
            .host
            .visible_processes(a.model.host.as_ref())
            .map(|p| p.pid)
            .collect();
        assert_eq!(pids, [12, 11, 10]);
    }
}
