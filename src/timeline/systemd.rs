//! TEMPORARY interface copy while helper 16b builds it; replaced at merge.
pub fn unit_events(
    _systemctl: &std::path::Path,
    _units: &[String],
    _since: i64,
    _now: i64,
    _timeout: std::time::Duration,
) -> Vec<super::Event> {
    Vec::new()
}
pub fn unit_of(_argv: &[String]) -> Option<String> {
    None
}
