//! TEMPORARY interface copy while helper 16b builds it; replaced at merge.
pub struct ConfigWatch;
impl ConfigWatch {
    pub fn new(_files: &[std::path::PathBuf]) -> ConfigWatch {
        ConfigWatch
    }
    pub fn events(&mut self, _since: i64, _now: i64) -> Vec<super::Event> {
        Vec::new()
    }
}
