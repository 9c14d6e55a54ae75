//! Bounds on how much hostile config discovery will read and keep.
//!
//! Config files may be huge, binary or malicious; these limits keep discovery fast and its memory
//! flat whatever it is pointed at. Hitting one is reported as an error, never a panic.

/// Deepest include nesting followed (the main file is level 0).
pub const MAX_INCLUDE_DEPTH: usize = 16;
/// Most config files opened in one discovery (repeat inclusions count again).
pub const MAX_FILES: usize = 1000;
/// Largest single config file read.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// Most bytes read over all files, so 1000 files of 16 MiB cannot stall discovery.
pub const MAX_TOTAL_BYTES: u64 = 128 * 1024 * 1024;
/// Most directory entries an include glob may examine.
pub const MAX_GLOB_ENTRIES: usize = 100_000;
/// Deepest `{ }` / `<Section>` nesting accepted; real configs stay under ten.
pub const MAX_BLOCK_DEPTH: usize = 100;
/// Most arguments accepted in one directive.
pub const MAX_ARGS: usize = 1024;
/// Most entries kept in each result list (targets, logs, resolvers, unprobeable).
pub const MAX_ENTRIES: usize = 10_000;
/// Most errors kept; one more entry says the rest were dropped.
pub const MAX_ERRORS: usize = 1000;
