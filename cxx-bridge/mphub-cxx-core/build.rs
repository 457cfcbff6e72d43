//! Generates the C++ bindings of Bitcoin Core's IPC schemas (`schema/bitcoin/v31` and
//! `schema/bitcoin/master`, written by mphub from Core's published interfaces) with
//! generated C++ types, one namespace per version (`mphub::core::v31`,
//! `mphub::core::master`), then compiles the facade (`src/node.cpp`) and the regtest
//! solver bridge (`src/regtest.rs`), and exports the package `mphub-cxx-core`.

use std::path::{Path, PathBuf};

type BoxError = Box<dyn std::error::Error>;

fn main() {
    if let Err(e) = run() {
        eprintln!("mphub-cxx-core build failed: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), BoxError> {
    let mut include_dirs = Vec::new();
    for version in ["v31", "master"] {
        let out = mphub_cxx_build::Bindings::new(format!("../../schema/bitcoin/{version}"))
            .file("init.capnp")
            .module(version)
            .stem(version)
            .header_dir("mphub/core")
            .cpp_namespace(&format!("mphub::core::{version}"))
            .generate_types(Some(&format!("mphub::core::{version}")))
            .include("include")
            .package("mphub-cxx-core")
            .build()?;
        include_dirs.push(out.include_dir);
    }

    // The facade and the regtest solver: hand-written, schema-version aware.
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let mphub_cxx_include = PathBuf::from(std::env::var("DEP_MPHUB_CXX_INCLUDE")?);
    let regtest_h = include_dirs[0].join("mphub/core/regtest.rs.h");
    let regtest_cc = out.join("regtest.rs.cc");
    mphub_cxx_build::cxx_gen_pair(Path::new("src/regtest.rs"), &regtest_h, &regtest_cc)?;
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .std("c++17")
        .include("include")
        .include(&mphub_cxx_include)
        .warnings(true)
        .extra_warnings(true)
        .file("src/node.cpp")
        .file(&regtest_cc);
    for dir in &include_dirs {
        build.include(dir);
    }
    build.compile("mphub_cxx_core_facade");
    // The package's include folder gets the solver header too.
    let package_include = out
        .ancestors()
        .nth(3)
        .ok_or("unexpected OUT_DIR layout")?
        .join("mphub-cxx-core/include/mphub/core/regtest.rs.h");
    mphub_cxx_build::write_if_changed(&package_include, &std::fs::read(&regtest_h)?)?;
    for p in ["src/node.cpp", "src/regtest.rs", "include"] {
        println!("cargo:rerun-if-changed={p}");
    }
    Ok(())
}
