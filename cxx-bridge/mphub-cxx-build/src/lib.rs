//! `mphub-cxx-build`: generate and compile C++ bindings to mphub's Rust runtime for your
//! own libmultiprocess-annotated `.capnp` files, from your crate's `build.rs`.
//!
//! One [`Bindings::build`] call
//! 1. generates the Rust proxies (`mphub_build::Builder`) and the C++ bridge
//!    (`mphub_build::CxxBuilder`: a `#[cxx::bridge]` module, the public C++ header and its
//!    source) into `$OUT_DIR/mphub_cxx_bindings/`;
//! 2. runs `cxx-gen` on the bridge and compiles all C++ with `cc` (C++17, `-Wall -Wextra`),
//!    against the headers of `mphub-cxx` (`DEP_MPHUB_CXX_INCLUDE`) and your include folders;
//! 3. optionally ([`Bindings::package`]) writes an installable package next to your
//!    static library: `target/<profile>/<name>/{include, lib/pkgconfig/<name>.pc,
//!    lib/cmake/<name>/<name>Config.cmake}`.
//!
//! ```no_run
//! // build.rs of a crate with crate-type = ["staticlib"] that depends on mphub,
//! // mphub-cxx and cxx:
//! mphub_cxx_build::Bindings::new("schema")
//!     .file("calc.capnp")
//!     .cpp_namespace("calc::cxx")
//!     .include("include") // the C++ header $Proxy.include names
//!     .package("calc-cxx")
//!     .build()
//!     .unwrap();
//! // src/lib.rs, at the crate root:
//! // mphub_cxx::bindings!();
//! ```
//!
//! C++ code then includes `<{header_dir}/{stem}.h>` (default `mphub/cxx/<first file's
//! stem>.h`) and links the crate's static library.
#![warn(missing_docs)]

use std::path::{Path, PathBuf};

/// What can fail while generating or compiling bindings. Generator errors name the
/// schema file, declaration and field or method.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The generator refused the schema or could not run `capnp`.
    #[error("generating bindings: {0}")]
    Generate(#[from] mphub_build::BuildError),
    /// cxx-gen rejected the generated bridge (a generator defect: please report it).
    #[error("cxx-gen on {file}: {message}")]
    CxxGen {
        /// The bridge module given to cxx-gen.
        file: PathBuf,
        /// cxx-gen's message.
        message: String,
    },
    /// Reading or writing files failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A required Cargo environment variable is missing (not run from `build.rs`?).
    #[error("{0} is not set: call Bindings::build from a build script of a crate that depends on mphub-cxx")]
    Env(&'static str),
}

/// Configures the bindings of one crate (see the [crate docs](crate)).
pub struct Bindings {
    schema_root: PathBuf,
    imports: Vec<PathBuf>,
    files: Vec<PathBuf>,
    includes: Vec<PathBuf>,
    cpp_namespace: Option<String>,
    header_dir: Option<String>,
    stem: Option<String>,
    rust_impls: Vec<(String, String)>,
    package: Option<String>,
    library: Option<String>,
    proxies: Option<String>,
    generated_types: Option<Option<String>>,
    module: Option<String>,
}

impl Bindings {
    /// `schema_root` is where [`Bindings::file`] paths start and the first import path.
    /// Relative paths are relative to the crate's folder (`build.rs` runs there).
    pub fn new(schema_root: impl AsRef<Path>) -> Self {
        Bindings {
            schema_root: schema_root.as_ref().to_path_buf(),
            imports: Vec::new(),
            files: Vec::new(),
            includes: Vec::new(),
            cpp_namespace: None,
            header_dir: None,
            stem: None,
            rust_impls: Vec::new(),
            package: None,
            library: None,
            proxies: None,
            generated_types: None,
            module: None,
        }
    }

    /// Adds a schema file (relative to the schema root, or absolute). Files it imports
    /// are generated too.
    pub fn file(mut self, path: impl AsRef<Path>) -> Self {
        self.files.push(path.as_ref().to_path_buf());
        self
    }

    /// Adds an import path, searched after the schema root and earlier import paths.
    pub fn import_path(mut self, dir: impl AsRef<Path>) -> Self {
        self.imports.push(dir.as_ref().to_path_buf());
        self
    }

    /// Adds a C++ include folder: where the headers named by the schema's
    /// `$Proxy.include` live. It is also copied into the package.
    pub fn include(mut self, dir: impl AsRef<Path>) -> Self {
        self.includes.push(dir.as_ref().to_path_buf());
        self
    }

    /// C++ namespace of the generated API (default `mphub::cxx`), e.g. `calc::cxx`.
    pub fn cpp_namespace(mut self, ns: &str) -> Self {
        self.cpp_namespace = Some(ns.to_string());
        self
    }

    /// Folder of the generated headers under the include root (default `mphub/cxx`).
    pub fn header_dir(mut self, dir: &str) -> Self {
        self.header_dir = Some(dir.to_string());
        self
    }

    /// Name of the generated header (`<stem>.h`; default: the first file's stem).
    pub fn stem(mut self, stem: &str) -> Self {
        self.stem = Some(stem.to_string());
        self
    }

    /// Offers a Rust implementation of `interface` to C++ as `rust<Interface>()`;
    /// `factory` is the Rust path of a `fn() -> mphub::Cap<<Interface>Client>` (the
    /// generated client types are in `crate::proxies`).
    pub fn rust_impl(mut self, interface: &str, factory: &str) -> Self {
        self.rust_impls
            .push((interface.to_string(), factory.to_string()));
        self
    }

    /// Also export a package named `name` for C++ builds: headers, a pkg-config file and
    /// a CMake config (`find_package(<name> CONFIG)` → target `<name>::<name>`), written
    /// to `target/<profile>/<name>/`, pointing at `target/<profile>/lib<library>.a`.
    pub fn package(mut self, name: &str) -> Self {
        self.package = Some(name.to_string());
        self
    }

    /// The static library's name without `lib`/`.a` (default: the crate's name with `_`
    /// for `-`, as cargo names a `staticlib`).
    pub fn library(mut self, name: &str) -> Self {
        self.library = Some(name.to_string());
        self
    }

    /// Generates the C++ interface classes and structs too (`<stem>-types.h`), for a
    /// schema whose `$Proxy.include` header you do not have (the usual case outside
    /// Bitcoin Core). `namespace`: one C++ namespace for all of them, or `None` to keep
    /// each `$Proxy.wrap` name's own namespace (types without one go to the API
    /// namespace).
    pub fn generate_types(mut self, namespace: Option<&str>) -> Self {
        self.generated_types = Some(namespace.map(str::to_string));
        self
    }

    /// Uses Rust proxies another crate already generated for the same files (the Rust
    /// path of that module, e.g. `::my_proxies::calc`) instead of generating them here,
    /// so Rust implementations written against that crate can be offered to C++.
    /// `crate::proxies` then re-exports that module.
    pub fn proxies(mut self, path: &str) -> Self {
        self.proxies = Some(path.to_string());
        self
    }

    /// Puts this set's bindings in module `name` (include them with
    /// `mphub_cxx::bindings!(name)`), so one crate can hold several sets, e.g. one per
    /// schema version. Each set needs its own stem and C++ namespace.
    pub fn module(mut self, name: &str) -> Self {
        self.module = Some(name.to_string());
        self
    }

    /// Generates, compiles and (if asked) packages the bindings. Prints the
    /// `cargo:rerun-if-changed` lines. Returns where things went.
    pub fn build(self) -> Result<Output, Error> {
        let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").ok_or(Error::Env("OUT_DIR"))?);
        let mphub_cxx_include = PathBuf::from(
            std::env::var_os("DEP_MPHUB_CXX_INCLUDE").ok_or(Error::Env("DEP_MPHUB_CXX_INCLUDE"))?,
        );
        let (root, module_path, library) = match &self.module {
            Some(m) => (
                out_dir.join("mphub_cxx_bindings").join(m),
                format!("crate::{m}"),
                format!("mphub_cxx_bindings_{m}"),
            ),
            None => (
                out_dir.join("mphub_cxx_bindings"),
                "crate".to_string(),
                "mphub_cxx_bindings".to_string(),
            ),
        };
        let default_proxies = format!("{module_path}::proxies");

        let mut rust = mphub_build::Builder::new(&self.schema_root)
            .out_dir(&root)
            .module("proxies");
        let proxies = self.proxies.as_deref().unwrap_or(&default_proxies);
        let mut cxx = mphub_build::CxxBuilder::new(&self.schema_root)
            .out_dir(&root)
            .proxies(proxies)
            .support("::mphub_cxx::support");
        for dir in &self.imports {
            rust = rust.import_path(dir);
            cxx = cxx.import_path(dir);
        }
        for f in &self.files {
            rust = rust.file(f);
            cxx = cxx.file(f);
        }
        if let Some(ns) = &self.cpp_namespace {
            cxx = cxx.cpp_namespace(ns);
        }
        if let Some(dir) = &self.header_dir {
            cxx = cxx.header_dir(dir);
        }
        if let Some(stem) = &self.stem {
            cxx = cxx.stem(stem);
        }
        if let Some(ns) = &self.generated_types {
            cxx = cxx.generate_types(ns.as_deref());
        }
        for (interface, factory) in &self.rust_impls {
            cxx = cxx.rust_impl(interface, factory);
        }
        match &self.proxies {
            None => {
                rust.run()?;
            }
            Some(path) => write_if_changed(
                &root.join("proxies/mphub_gen.rs"),
                format!("pub use {path}::*;\n").as_bytes(),
            )?,
        }
        let gen = cxx.run()?;

        // The macro `mphub_cxx::bindings!` includes this fixed path.
        let bridge_rs = root.join("bridge.rs");
        copy_if_changed(&gen.rust, &bridge_rs)?;
        let bridge_cc = root.join("bridge.rs.cc");
        cxx_gen_pair(&bridge_rs, &gen.bridge_header, &bridge_cc)?;

        let mut build = cc::Build::new();
        build
            .cpp(true)
            .std("c++17")
            .include(&gen.include_dir)
            .include(&mphub_cxx_include)
            .warnings(true)
            .extra_warnings(true)
            .flag_if_supported("-Wno-unused-parameter")
            .file(&gen.source)
            .file(&bridge_cc);
        for dir in &self.includes {
            build.include(dir);
            println!("cargo:rerun-if-changed={}", dir.display());
        }
        build.compile(&library);

        let package = match &self.package {
            Some(name) => Some(self.export_package(
                name,
                &out_dir,
                &[&gen.include_dir, &mphub_cxx_include],
            )?),
            None => None,
        };
        Ok(Output {
            include_dir: gen.include_dir.clone(),
            header: gen.header.clone(),
            package,
        })
    }

    fn export_package(
        &self,
        name: &str,
        out_dir: &Path,
        generated: &[&Path],
    ) -> Result<PathBuf, Error> {
        // OUT_DIR is <target>/<profile>/build/<crate>-<hash>/out.
        let profile_dir = out_dir
            .ancestors()
            .nth(3)
            .ok_or(Error::Env("OUT_DIR (in cargo's layout)"))?
            .to_path_buf();
        let library = match &self.library {
            Some(l) => l.clone(),
            None => std::env::var("CARGO_PKG_NAME")
                .map_err(|_| Error::Env("CARGO_PKG_NAME"))?
                .replace('-', "_"),
        };
        let prefix = profile_dir.join(name);
        let include = prefix.join("include");
        for dir in generated
            .iter()
            .copied()
            .chain(self.includes.iter().map(PathBuf::as_path))
        {
            copy_tree(dir, &include)?;
        }
        let lib = profile_dir.join(format!("lib{library}.a"));
        let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_else(|_| "0".into());
        write_if_changed(
            &prefix.join(format!("lib/pkgconfig/{name}.pc")),
            pkg_config(name, &prefix, &lib, &version).as_bytes(),
        )?;
        write_if_changed(
            &prefix.join(format!("lib/cmake/{name}/{name}Config.cmake")),
            cmake_config(name, &include, &lib).as_bytes(),
        )?;
        Ok(prefix)
    }
}

/// Where [`Bindings::build`] put its results.
#[derive(Clone, Debug)]
pub struct Output {
    /// Include root of the generated headers.
    pub include_dir: PathBuf,
    /// The public header of the bindings.
    pub header: PathBuf,
    /// The exported package's prefix (for `CMAKE_PREFIX_PATH`), if [`Bindings::package`].
    pub package: Option<PathBuf>,
}

/// Native libraries a Rust staticlib needs on Linux (`rustc --print native-static-libs`).
const SYSTEM_LIBS: &str = "-lpthread -ldl -lm -lrt -lutil";

fn pkg_config(name: &str, prefix: &Path, lib: &Path, version: &str) -> String {
    format!(
        "# Generated by mphub-cxx-build.\nprefix={prefix}\nincludedir=${{prefix}}/include\n\
         library={lib}\n\nName: {name}\nDescription: C++ bindings to mphub's Rust runtime\n\
         Version: {version}\nCflags: -I${{includedir}} -std=c++17\nLibs: ${{library}} {SYSTEM_LIBS}\n",
        prefix = prefix.display(),
        lib = lib.display(),
    )
}

fn cmake_config(name: &str, include: &Path, lib: &Path) -> String {
    format!(
        "# Generated by mphub-cxx-build: find_package({name} CONFIG) with this folder's\n\
         # prefix in CMAKE_PREFIX_PATH gives the imported target {name}::{name}.\n\
         include(CMakeFindDependencyMacro)\nfind_dependency(Threads)\n\
         if(NOT TARGET {name}::{name})\n  add_library({name}::{name} STATIC IMPORTED)\n  \
         set_target_properties({name}::{name} PROPERTIES\n    IMPORTED_LOCATION \"{lib}\"\n    \
         INTERFACE_INCLUDE_DIRECTORIES \"{include}\"\n    INTERFACE_COMPILE_FEATURES cxx_std_17\n    \
         INTERFACE_LINK_LIBRARIES \"Threads::Threads;${{CMAKE_DL_LIBS}};m;rt;util\")\nendif()\n\
         set({name}_LIBRARY \"{lib}\")\n",
        lib = lib.display(),
        include = include.display(),
    )
}

/// Runs cxx-gen on the `#[cxx::bridge]` module in `rust_file` and writes its C++
/// `header` and `source` (only when they changed, so C++ is not rebuilt needlessly).
/// For hand-written bridges next to the generated bindings (mphub-cxx's own, a facade).
pub fn cxx_gen_pair(rust_file: &Path, header: &Path, source: &Path) -> Result<(), Error> {
    let text = std::fs::read_to_string(rust_file).map_err(|e| io(rust_file, "reading", e))?;
    let tokens: proc_macro2::TokenStream = text.parse().map_err(|e| Error::CxxGen {
        file: rust_file.to_path_buf(),
        message: format!("{e}"),
    })?;
    let code = cxx_gen::generate_header_and_cc(tokens, &cxx_gen::Opt::default()).map_err(|e| {
        Error::CxxGen {
            file: rust_file.to_path_buf(),
            message: e.to_string(),
        }
    })?;
    write_if_changed(header, &code.header)?;
    write_if_changed(source, &code.implementation)
}

fn io(path: &Path, what: &str, source: std::io::Error) -> Error {
    Error::Io {
        what: format!("{what} {}", path.display()),
        source,
    }
}

/// Writes `bytes` to `path` (creating its folder) unless it already holds them.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, "creating", e))?;
    }
    std::fs::write(path, bytes).map_err(|e| io(path, "writing", e))
}

fn copy_if_changed(from: &Path, to: &Path) -> Result<(), Error> {
    let bytes = std::fs::read(from).map_err(|e| io(from, "reading", e))?;
    write_if_changed(to, &bytes)
}

/// Copies the folder `from` into `to`, rewriting only files that changed (for headers
/// exported into a package).
pub fn copy_tree(from: &Path, to: &Path) -> Result<(), Error> {
    for entry in std::fs::read_dir(from).map_err(|e| io(from, "reading", e))? {
        let entry = entry.map_err(|e| io(from, "reading", e))?;
        let target = to.join(entry.file_name());
        let kind = entry
            .file_type()
            .map_err(|e| io(&entry.path(), "reading", e))?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            copy_if_changed(&entry.path(), &target)?;
        }
    }
    Ok(())
}
