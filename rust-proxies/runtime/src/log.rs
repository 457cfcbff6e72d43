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

/// Escapes bytes outside printable ASCII as `\xx`, as libmultiprocess does in dumps.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\{b:02x}"));
        }
    }
    out
}
