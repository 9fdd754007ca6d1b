//! The crash test's values, shared by its writer (`src/bin/crash_writer.rs`) and its checks
//! (`tests/crash.rs`) through `#[path]`; not part of the library.

/// The value written under `k<i>`: 1 to 20 000 bytes, derived from `i` alone.
pub(crate) fn value_of(i: u64) -> String {
    let len = usize::try_from(i.wrapping_mul(7919) % 20_000 + 1).unwrap_or(1);
    let unit = format!("{i}-é-");
    unit.repeat(len / unit.len() + 1)
        .chars()
        .take(len)
        .collect()
}
