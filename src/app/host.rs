//! The Host pane's process list: which processes show, and in what order.

use std::collections::HashMap;

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
    /// Each shown process's place in the last order, by pid: rows that show the same figure
    /// keep the order they had. By pid, an idle process that woke for one tick (0.5% at a 2 s
    /// sample) would jump up and fall back to its pid's place, shifting and repainting every row
    /// between; kept in place, it ends first among the rows it rejoins, next to where it was.
    rank: HashMap<u32, usize>,
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
            // By the figure shown (one decimal), then the last order, then pid (rows not shown
            // before): rows that look equal keep their places instead of trading them (and
            // redrawing) at every sample.
            ProcSort::Cpu => idx.sort_by_key(|&i| {
                (
                    std::cmp::Reverse((procs[i].cpu * 10.0).round() as i64),
                    self.rank.get(&procs[i].pid).copied().unwrap_or(usize::MAX),
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
        self.rank.clear();
        self.rank
            .extend(idx.iter().enumerate().map(|(n, &i)| (procs[i].pid, n)));
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

    fn order(a: &crate::app::App) -> Vec<u32> {
        a.host
            .visible_processes(a.model.host.as_ref())
            .map(|p| p.pid)
            .collect()
    }

    #[test]
    fn an_idle_process_waking_for_a_tick_stays_next_to_its_place() {
        // Ten idle processes; pid 90 wakes for one tick every other sample, as a timer does.
        let quiet = |woken: bool| {
            let mut s = sample(0.1);
            s.processes = (1..=10)
                .map(|n| crate::host::ProcessRow {
                    pid: n * 10,
                    user: "root".into(),
                    cpu: if woken && n == 9 { 0.5 } else { 0.0 },
                    mem: 1 << 20,
                    command: format!("daemon{n}"),
                })
                .collect();
            s
        };
        let mut a = app();
        a.update(Event::Host(Box::new(quiet(true))));
        assert_eq!(order(&a), [90, 10, 20, 30, 40, 50, 60, 70, 80, 100]);
        a.update(Event::Host(Box::new(quiet(false))));
        assert_eq!(
            order(&a),
            [90, 10, 20, 30, 40, 50, 60, 70, 80, 100],
            "back to 0.0, it stays first among the 0.0 rows: no row below it moves"
        );
        a.update(Event::Host(Box::new(quiet(true))));
        assert_eq!(order(&a)[0], 90);
    }

    #[test]
    fn the_busiest_process_is_still_first() {
        let mut a = app();
        a.update(Event::Host(Box::new(sample(0.1))));
        let mut busy = sample(0.1);
        busy.processes[0].cpu = 99.0;
        let pid = busy.processes[0].pid;
        a.update(Event::Host(Box::new(busy)));
        assert_eq!(order(&a)[0], pid);
    }
}
