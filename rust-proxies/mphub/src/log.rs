//! libmultiprocess-shaped log lines through `tracing` (target `ipc`).

use std::sync::OnceLock;

/// `<exe>-<pid>`, the prefix libmultiprocess puts in thread names.
pub fn process_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let exe = std::env::args_os()
            .next()
            .and_then(|a| {
                std::path::Path::new(&a)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "mphub".into());
        format!("{exe}-{}", std::process::id())
    })
}

/// Logs a warning (target `ipc`) at most once per second for each `kind`; the next
/// one that gets through says how many were left out. A hostile peer hitting a limit in
/// a loop must not flood the log.
pub(crate) fn warn_limited(kind: &'static str, message: std::fmt::Arguments<'_>) {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::time::{Duration, Instant};
    thread_local! {
        static LAST: RefCell<HashMap<&'static str, (Instant, u64)>> = RefCell::new(HashMap::new());
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        let now = Instant::now();
        match last.get_mut(kind) {
            Some((at, left_out)) if now.duration_since(*at) < Duration::from_secs(1) => {
                *left_out += 1;
            }
            entry => {
                let left_out = entry.map_or(0, |(_, n)| *n);
                if left_out > 0 {
                    tracing::warn!(target: "ipc", "{message} ({left_out} more like it not logged)");
                } else {
                    tracing::warn!(target: "ipc", "{message}");
                }
                last.insert(kind, (now, 0));
            }
        }
    });
}

/// Cuts a data dump to libmultiprocess's 200-character limit.
pub fn cut(s: &str) -> String {
    const MAX: usize = 200;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// Escapes bytes outside printable ASCII (0x20..0x7e) as `\xx`, as libmultiprocess does in dumps.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x20..0x7f).contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dumps_are_escaped_and_cut_like_libmultiprocess() {
        assert_eq!(escape(b"a\x00b\xff\\"), "a\\00b\\ff\\");
        assert_eq!(cut("short"), "short");
        let long = "x".repeat(250);
        let out = cut(&long);
        assert_eq!(out.len(), 203);
        assert!(out.ends_with("..."));
        // Never splits a UTF-8 character.
        let wide = "é".repeat(150);
        assert!(cut(&wide).starts_with('é'));
    }
}
