//! Requests counted by status class (`2xx`, `4xx`, …): what a dashboard's request-rate panel
//! shows beside the 502s, so a rise in 5xx is read against the traffic that carried it.

use serde::ser::{Serialize, SerializeMap, Serializer};

/// The classes counted, in order; a status outside 100..=599 (HAProxy's `-1` for a request it
/// never answered is not parsed as a status, but a proxy may log `0` or `000`) is `other`.
pub const CLASS_NAMES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];

/// Requests per status class. Summing is order-free, so counts from a backward scan, a forward
/// follow and the flood's fast path add up the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatusClasses([u64; 6]);

impl StatusClasses {
    /// `n` requests answered `status`.
    pub fn of(status: u16, n: u64) -> Self {
        let mut out = Self::default();
        out.add(status, n);
        out
    }

    pub fn add(&mut self, status: u16, n: u64) {
        self.0[index(status)] += n;
    }

    pub fn merge(&mut self, other: &Self) {
        for (into, from) in self.0.iter_mut().zip(other.0) {
            *into += from;
        }
    }

    /// Requests in every class: the `requests` counted beside these.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Each class's name and count, every class included, in [`CLASS_NAMES`] order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        CLASS_NAMES.iter().copied().zip(self.0.iter().copied())
    }
}

fn index(status: u16) -> usize {
    match status {
        100..=599 => usize::from(status / 100) - 1,
        _ => CLASS_NAMES.len() - 1,
    }
}

/// As a map from class to count, zeros included, so a JSON reader always finds every key.
impl Serialize for StatusClasses {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(CLASS_NAMES.len()))?;
        for (name, n) in self.iter() {
            map.serialize_entry(name, &n)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_fall_in_their_class_and_odd_ones_in_other() {
        let mut c = StatusClasses::default();
        for (status, n) in [
            (101, 1),
            (200, 2),
            (204, 1),
            (304, 3),
            (499, 4),
            (502, 5),
            (0, 6),
        ] {
            c.add(status, n);
        }
        c.add(600, 1);
        c.add(99, 1);
        let got: Vec<_> = c.iter().collect();
        assert_eq!(
            got,
            [
                ("1xx", 1),
                ("2xx", 3),
                ("3xx", 3),
                ("4xx", 4),
                ("5xx", 5),
                ("other", 8)
            ]
        );
        assert_eq!(c.total(), 24);
    }

    #[test]
    fn merge_adds_class_by_class_and_json_names_every_class() {
        let mut a = StatusClasses::of(200, 2);
        a.merge(&StatusClasses::of(503, 1));
        a.merge(&StatusClasses::of(201, 1));
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"1xx":0,"2xx":3,"3xx":0,"4xx":0,"5xx":1,"other":0}"#
        );
    }
}
