//! The session fuzzer in CI: a short run against each target (60 s in all by default;
//! `MPHUB_FUZZ_SECONDS` sets the total). A longer run is one command:
//! `mphub-interop fuzz --seconds 600`.

use std::time::Duration;

use mphub_interop::fuzz::{self, FuzzOptions, Target};

#[test]
fn mutated_sessions_neither_crash_nor_hang_nor_bloat_the_servers() {
    let total: u64 = std::env::var("MPHUB_FUZZ_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let out = tempfile::tempdir().unwrap();
    // Most of the time on the test peer (the generic schema), the rest on the demo node.
    for (target, share) in [(Target::Rust, 2), (Target::Demo, 1)] {
        let report = fuzz::run(&FuzzOptions {
            target,
            duration: Duration::from_secs(total * share / 3),
            seed: 0x006d_7068_7562 + share,
            out: out.path().to_path_buf(),
        })
        .unwrap();
        print!("{target:?}: {}", report.render());
        assert!(report.cases > 0);
        if let Some((why, file)) = &report.failure {
            let kept = std::env::temp_dir().join(file.file_name().unwrap());
            let _ = std::fs::copy(file, &kept);
            panic!("{target:?}: {why} (case kept at {})", kept.display());
        }
    }
}
