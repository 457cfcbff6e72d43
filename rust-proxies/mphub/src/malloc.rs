//! Opt-in glibc malloc tuning for processes that pass large `Data` values.
//!
//! Every call carrying 1 MiB allocates and frees a few 1 MiB buffers (the read buffer of
//! the message, the decoded `Vec<u8>`, the reply's segment). With glibc's defaults, once
//! an earlier connection has shaped the heap, freeing them can leave more than the trim
//! threshold free at the top of the heap, so glibc hands it back to the kernel
//! (`madvise`) and the next call faults every page in again: measured at 4–5× the time of
//! a 1 MiB `passData` on a long-lived server. Raising the thresholds keeps those buffers
//! in the process. This changes process-wide allocator settings, so it is the
//! application's call, not something the runtime does by itself.

/// Allocations below this size come from the heap (not a fresh `mmap` each time).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 16 * 1024 * 1024;
/// Free memory kept at the top of a heap before glibc returns it to the kernel.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: libc::c_int = 64 * 1024 * 1024;

/// Makes glibc keep freed buffers of up to 16 MiB for reuse instead of returning them to
/// the kernel after every call (up to 64 MiB stays cached per malloc arena). Call it
/// early in `main` of a process that sends or serves large `Data`. Returns `false` where
/// it does not apply (not glibc) or glibc refused a setting.
pub fn tune_malloc_for_large_messages() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; both values are in range.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
