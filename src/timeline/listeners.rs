//! TEMPORARY interface copy while helper 16b builds it; replaced at merge.
pub struct ListenerWatch;
impl ListenerWatch {
    pub fn new(_proc_root: std::path::PathBuf) -> Self {
        ListenerWatch
    }
    pub fn events(&mut self, _ports: &[u16], _since: i64, _now: i64) -> Vec<super::Event> {
        Vec::new()
    }
}
