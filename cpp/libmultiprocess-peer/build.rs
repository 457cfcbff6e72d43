//! Builds the `mphub-cpp-libmultiprocess-peer` executable with CMake, but only when
//! `MPHUB_LIBMULTIPROCESS_PREFIX` names an installed libmultiprocess (a prefix with
//! `bin/mpgen`, `include/mp/` and `lib/cmake/Libmultiprocess/`). libmultiprocess is not
//! part of this repository and nothing here fetches or builds it.
//!
//! - Prefix not set: nothing is built; `peer_path()` reports why
//!   (`MPHUB_CPP_LIBMULTIPROCESS_PEER_UNAVAILABLE`).
//! - Prefix set: `cmake` configures `CMakeLists.txt` into `OUT_DIR/build` (Release) and
//!   builds it; any failure is a build error. The executable's path is exported as
//!   `MPHUB_CPP_LIBMULTIPROCESS_PEER` for `peer_path()`.
//!
//! Needs cmake, a C++20 compiler and the Cap'n Proto development package the prefix was
//! built against (Debian: cmake g++ capnproto libcapnp-dev).

use std::path::PathBuf;
use std::process::{Command, Output};

const PREFIX_VAR: &str = "MPHUB_LIBMULTIPROCESS_PREFIX";
const BINARY: &str = "mphub-cpp-libmultiprocess-peer";

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));

    println!("cargo:rerun-if-env-changed={PREFIX_VAR}");
    println!("cargo:rerun-if-changed=build.rs");

    let prefix = match std::env::var_os(PREFIX_VAR) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => {
            println!(
                "cargo:rustc-env=MPHUB_CPP_LIBMULTIPROCESS_PEER_UNAVAILABLE={PREFIX_VAR} is not set \
                 (point it at an installed libmultiprocess prefix and rebuild)"
            );
            return;
        }
    };
    let config = prefix.join("lib/cmake/Libmultiprocess/LibmultiprocessConfig.cmake");
    if !config.is_file() {
        panic!(
            "{PREFIX_VAR}={} is not an installed libmultiprocess prefix: {} does not exist",
            prefix.display(),
            config.display()
        );
    }

    for input in [
        manifest.join("CMakeLists.txt"),
        manifest.join("cmake"),
        manifest.join("src"),
        manifest.join("../include/mphub/test"),
        manifest.join("../../schema/test/test.capnp"),
        config,
    ] {
        println!("cargo:rerun-if-changed={}", input.display());
    }

    let build = out.join("build");
    run(
        Command::new("cmake")
            .arg("-S")
            .arg(&manifest)
            .arg("-B")
            .arg(&build)
            .arg("-DCMAKE_BUILD_TYPE=Release")
            .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display()))
            .env(PREFIX_VAR, &prefix),
        "configuring the libmultiprocess peer (cmake)",
    );
    let jobs = std::env::var("NUM_JOBS").unwrap_or_else(|_| "2".into());
    run(
        Command::new("cmake")
            .arg("--build")
            .arg(&build)
            .arg("--target")
            .arg(BINARY)
            .arg("--parallel")
            .arg(jobs),
        "building the libmultiprocess peer (cmake --build)",
    );

    let exe = build.join(BINARY);
    if !exe.is_file() {
        panic!(
            "cmake reported success but {} does not exist",
            exe.display()
        );
    }
    println!(
        "cargo:rustc-env=MPHUB_CPP_LIBMULTIPROCESS_PEER={}",
        exe.display()
    );
}

/// Runs `cmd` with its output captured (so that nothing it prints can be mistaken for a
/// `cargo:` directive); on failure, shows that output and stops the build.
fn run(cmd: &mut Command, what: &str) {
    let output: Output = cmd.output().unwrap_or_else(|e| {
        panic!(
            "{what}: cannot run {:?}: {e} (is cmake installed?)",
            cmd.get_program()
        )
    });
    if !output.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&output.stdout));
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        panic!(
            "{what} failed ({}); its output is above. {PREFIX_VAR} is set, so the peer is \
             required; unset it to skip the peer.",
            output.status
        );
    }
}
