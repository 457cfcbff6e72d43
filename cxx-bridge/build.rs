//! Generates the C++ bridge for `schema/test` and compiles its C++ side; exports the
//! umbrella library as a pkg-config file and a CMake package under
//! `target/<profile>/mphub-cxx/` (see `doc/cxx-bridge.md`).
//!
//! 1. `mphub_build::CxxBuilder` writes the `#[cxx::bridge]` module (included by
//!    `src/lib.rs`) and the C++ header/source pair of the API;
//! 2. `cxx-gen` turns that module and `src/core.rs` into `*.rs.h` / `*.rs.cc`;
//! 3. `cc` compiles the C++ (bundled into `libmphub_cxx.a` by rustc);
//! 4. headers are copied into the package folder with the `.pc` and CMake files.

use std::path::{Path, PathBuf};

type BoxError = Box<dyn std::error::Error>;

fn main() {
    if let Err(e) = run() {
        eprintln!("mphub-cxx build failed: {e}");
        std::process::exit(1);
    }
}

fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), BoxError> {
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, bytes)?;
    Ok(())
}

/// cxx-gen: the C++ header and source of the `#[cxx::bridge]` in `rust_file`.
fn bridge(rust_file: &Path, header: &Path, source: &Path) -> Result<(), BoxError> {
    let text = std::fs::read_to_string(rust_file)?;
    let tokens: proc_macro2::TokenStream = text
        .parse()
        .map_err(|e| format!("{}: {e}", rust_file.display()))?;
    let code = cxx_gen::generate_header_and_cc(tokens, &cxx_gen::Opt::default())
        .map_err(|e| format!("cxx-gen on {}: {e}", rust_file.display()))?;
    write_if_changed(header, &code.header)?;
    write_if_changed(source, &code.implementation)?;
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), BoxError> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            write_if_changed(&target, &std::fs::read(entry.path())?)?;
        }
    }
    Ok(())
}

fn run() -> Result<(), BoxError> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let repo = manifest
        .parent()
        .ok_or("cxx-bridge has no parent folder")?
        .to_path_buf();
    let schema = repo.join("schema");
    let own_include = manifest.join("include");
    let interfaces = repo.join("cpp").join("include");
    if !interfaces.join("mphub/test/test.h").is_file() {
        return Err(format!(
            "{} is missing (the C++ interfaces named by $Proxy.wrap in schema/test)",
            interfaces.join("mphub/test/test.h").display()
        )
        .into());
    }

    let gen = mphub_build::CxxBuilder::new(&schema)
        .file("test/test.capnp")
        .proxies("::mphub_test_peer::test_schema")
        .support("::mphub_cxx::support")
        .cpp_namespace("mphub::cxx")
        .rust_impl("TestInit", "::mphub_cxx::rust_impls::test_init")
        .run()?;
    let include = gen.include_dir.clone();
    write_if_changed(&include.join("rust/cxx.h"), cxx_gen::HEADER.as_bytes())?;
    let gen_src = out.join("cxx_src");
    std::fs::create_dir_all(&gen_src)?;
    bridge(&gen.rust, &gen.bridge_header, &gen_src.join("test.rs.cc"))?;
    bridge(
        &manifest.join("src/core.rs"),
        &include.join("mphub/cxx/core.rs.h"),
        &gen_src.join("core.rs.cc"),
    )?;

    let mut build = cc::Build::new();
    build
        .cpp(true)
        .std("c++17")
        .include(&include)
        .include(&own_include)
        .include(&interfaces)
        .warnings(true)
        .extra_warnings(true)
        .flag_if_supported("-Wno-unused-parameter")
        .file(&gen.source)
        .file(gen_src.join("test.rs.cc"))
        .file(gen_src.join("core.rs.cc"))
        .file(manifest.join("src/common.cpp"));
    build.compile("mphub_cxx_glue");

    for p in [
        manifest.join("src/common.cpp"),
        manifest.join("src/core.rs"),
        own_include.clone(),
        interfaces.join("mphub/test/test.h"),
    ] {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    println!("cargo:rerun-if-changed=build.rs");
    export_package(&out, &[&include, &own_include, &interfaces])?;
    Ok(())
}

/// Writes `target/<profile>/mphub-cxx/{include, lib/pkgconfig/mphub-cxx.pc,
/// lib/cmake/mphub-cxx/mphub-cxxConfig.cmake}` for C++ builds of the staticlib.
fn export_package(out: &Path, includes: &[&Path]) -> Result<(), BoxError> {
    // OUT_DIR is <target>/<profile>/build/mphub-cxx-<hash>/out.
    let profile_dir = out
        .ancestors()
        .nth(3)
        .ok_or("unexpected OUT_DIR layout")?
        .to_path_buf();
    let prefix = profile_dir.join("mphub-cxx");
    let include = prefix.join("include");
    for dir in includes {
        copy_tree(dir, &include)?;
    }
    let lib = profile_dir.join("libmphub_cxx.a");
    // Native libraries a Rust staticlib needs on Linux (rustc --print native-static-libs).
    let system_libs = "-lpthread -ldl -lm -lrt -lutil";
    let pc = format!(
        "# Generated by mphub-cxx's build.rs.\nprefix={prefix}\nincludedir=${{prefix}}/include\nlibrary={lib}\n\nName: mphub-cxx\nDescription: C++ bindings to mphub's Rust runtime (schema/test)\nVersion: {version}\nCflags: -I${{includedir}} -std=c++17\nLibs: ${{library}} {system_libs}\n",
        prefix = prefix.display(),
        lib = lib.display(),
        version = std::env::var("CARGO_PKG_VERSION")?,
    );
    write_if_changed(&prefix.join("lib/pkgconfig/mphub-cxx.pc"), pc.as_bytes())?;
    let cmake = format!(
        "# Generated by mphub-cxx's build.rs: find_package(mphub-cxx CONFIG) with\n# CMAKE_PREFIX_PATH={prefix}\ninclude(CMakeFindDependencyMacro)\nfind_dependency(Threads)\nif(NOT TARGET mphub-cxx::mphub-cxx)\n  add_library(mphub-cxx::mphub-cxx STATIC IMPORTED)\n  set_target_properties(mphub-cxx::mphub-cxx PROPERTIES\n    IMPORTED_LOCATION \"{lib}\"\n    INTERFACE_INCLUDE_DIRECTORIES \"{include}\"\n    INTERFACE_COMPILE_FEATURES cxx_std_17\n    INTERFACE_LINK_LIBRARIES \"Threads::Threads;${{CMAKE_DL_LIBS}};m;rt;util\")\nendif()\nset(mphub-cxx_LIBRARY \"{lib}\")\n",
        prefix = prefix.display(),
        lib = lib.display(),
        include = include.display(),
    );
    write_if_changed(
        &prefix.join("lib/cmake/mphub-cxx/mphub-cxxConfig.cmake"),
        cmake.as_bytes(),
    )?;
    Ok(())
}
