//! The merged Logs view's marks: the title naming every log, and each line's file name.

use crate::logs::LogBook;

/// Columns a file name takes at most in front of a merged line.
const NAME_MAX: usize = 16;

/// The title's start in the merged view.
pub fn title(book: &LogBook) -> String {
    format!(" all {} logs · ", book.sources.len())
}

/// Each source's short name (the label's last path part, at most [`NAME_MAX`] columns), padded
/// to the longest and a space, so the merged lines' texts start in one column; none when the
/// view shows one source.
pub fn short_names(book: &LogBook, merged: bool) -> Vec<String> {
    if !merged {
        return vec![];
    }
    let names: Vec<String> = book
        .sources
        .iter()
        .map(|s| {
            let base = s.label.rsplit('/').find(|p| !p.is_empty()).unwrap_or("?");
            if base.chars().count() > NAME_MAX {
                let cut: String = base.chars().take(NAME_MAX - 1).collect();
                format!("{cut}…")
            } else {
                base.to_string()
            }
        })
        .collect();
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    names.into_iter().map(|n| format!("{n:<width$} ")).collect()
}
