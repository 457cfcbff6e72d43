//! Runs the `capnp` compiler and returns its `CodeGeneratorRequest`.
//!
//! mphub-build carries the files libmultiprocess schemas import (`/mp/proxy.capnp` and
//! `/capnp/c++.capnp`), so a user's schema folder holds only the user's own files and
//! only the `capnp` tool needs to be installed (not `libcapnp-dev`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::BuildError;

/// Schema files mphub-build provides on the import path: (path under the import
/// root, contents). Both are mphub's own wire-identical copies (same IDs).
const BUNDLED: &[(&str, &str)] = &[
    (
        "mp/proxy.capnp",
        include_str!("../../../schema/mp/proxy.capnp"),
    ),
    (
        "capnp/c++.capnp",
        include_str!("../../../schema/capnp/c++.capnp"),
    ),
];

/// Writes the bundled imports under `dir` (unchanged files are left alone, so builds
/// stay incremental) and returns `dir`.
pub fn bundled_imports(dir: &Path) -> Result<PathBuf, BuildError> {
    for (path, text) in BUNDLED {
        let target = dir.join(path);
        if std::fs::read_to_string(&target).ok().as_deref() == Some(*text) {
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, text)?;
    }
    Ok(dir.to_path_buf())
}

/// The `capnp` executable: `$CAPNP`, else `capnp` on `PATH`.
fn capnp_tool() -> PathBuf {
    std::env::var_os("CAPNP")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("capnp"))
}

/// Compiles `files` with the import path `imports` (searched in order, the bundled
/// files last but before the system folders) and returns the serialized request.
pub fn code_generator_request(
    files: &[PathBuf],
    imports: &[PathBuf],
    scratch: &Path,
) -> Result<Vec<u8>, BuildError> {
    let bundled = bundled_imports(&scratch.join("mphub-imports"))?;
    let tool = capnp_tool();
    let mut cmd = Command::new(&tool);
    // No --src-prefix: capnp then refuses `../` imports that leave it. Files are named
    // by their absolute paths; `Schema` shortens them for messages.
    cmd.arg("compile").arg("-o-");
    for dir in imports {
        cmd.arg(format!("--import-path={}", dir.display()));
    }
    cmd.arg(format!("--import-path={}", bundled.display()));
    for f in files {
        cmd.arg(std::path::absolute(f).unwrap_or_else(|_| f.clone()));
    }
    let output = cmd.output().map_err(|e| {
        BuildError::Capnp(format!(
            "cannot run `{}` ({e}); install Cap'n Proto's compiler (Debian: capnproto) or set CAPNP",
            tool.display()
        ))
    })?;
    if !output.status.success() {
        return Err(BuildError::Capnp(format!(
            "`{} compile` failed on {}:\n{}",
            tool.display(),
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            String::from_utf8_lossy(&output.stderr).trim_end()
        )));
    }
    Ok(output.stdout)
}
