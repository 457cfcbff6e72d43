//! Build-time generator for mphub: `.capnp` files with libmultiprocess `$Proxy`
//! annotations in, idiomatic Rust proxies out (like `tonic-build` for gRPC).
//!
//! ```no_run
//! // build.rs
//! mphub_build::Builder::new("schema")
//!     .file("calc/calculator.capnp")
//!     .module("calc")
//!     .run()
//!     .unwrap();
//! ```
//! and in the crate: `pub mod calc { include!(concat!(env!("OUT_DIR"), "/calc/mphub_gen.rs")); }`
//!
//! mphub-build carries `/mp/proxy.capnp` and `/capnp/c++.capnp` itself, so the schema
//! folder holds only the user's files and only the `capnp` tool must be installed.
//!
//! For every schema file (the named ones and what they import) the output has a module
//! of that file's name, re-exported at the top. For every interface it emits
//! `<Name>Client` (a `Send + Sync + Clone` proxy whose methods return an awaitable
//! `mphub::Call` with a `_blocking` twin) and a `<Name>Server` trait to implement; for
//! every struct a Rust struct (a Rust `enum` for a union), for every enum a Rust enum,
//! for every constant a `const` or function. Field classification follows mpgen:
//! `context` and `ThreadMap` fields are implicit, `result` is the return value, other
//! result fields are outputs, `hasX` makes `X` optional, `wantX` makes the output `X`
//! optional, a result field with `$Proxy.exception` is an error slot, and the methods
//! `construct` and `destroy` are handled by the runtime. The full mapping table is
//! `doc/mapping.md` in the repository.
//!
//! [`CxxBuilder`] is a second emitter, for C++: from the same schema it writes a
//! `#[cxx::bridge]` Rust module and a C++ header/source pair that implement each wrapped
//! C++ interface on top of the Rust client (`RemoteX : public X`), serve C++ or Rust
//! implementations, and convert values; the crate that includes the module runs
//! `cxx-gen` on it and compiles the C++ (see `cxx-bridge/` and `doc/cxx-bridge.md`).
#![warn(missing_docs)]

mod compile;
mod cxx;
mod model;
mod names;
mod rust;
mod schema;

pub use cxx::{CxxCode, CxxOptions, GeneratedTypes};
pub use rust::{Inspection, InterfaceInfo, MethodInfo};

use std::path::{Path, PathBuf};

/// Errors while generating. Messages name the schema file, the declaration and the
/// field or method concerned.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The `capnp` compiler could not run or rejected the schema.
    #[error("capnp: {0}")]
    Capnp(String),
    /// Reading the compiler's output failed.
    #[error("reading the compiler's output: {0}")]
    Message(#[from] capnp::Error),
    /// Reading or writing files failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The schema request is malformed.
    #[error("bad schema data: {0}")]
    Schema(String),
    /// The schema uses something mphub cannot map.
    #[error("unsupported schema construct: {0}")]
    Unsupported(String),
}

impl From<capnp::NotInSchema> for BuildError {
    fn from(e: capnp::NotInSchema) -> Self {
        BuildError::Schema(format!("value not in schema: {}", e.0))
    }
}

impl From<std::str::Utf8Error> for BuildError {
    fn from(e: std::str::Utf8Error) -> Self {
        BuildError::Schema(format!("invalid UTF-8: {e}"))
    }
}

/// Configures one generation run (one Rust module from a set of schema files).
pub struct Builder {
    imports: Vec<PathBuf>,
    files: Vec<PathBuf>,
    module: String,
    out_dir: Option<PathBuf>,
}

impl Builder {
    /// `schema_root` is where [`Builder::file`] paths start, and the first import path
    /// (where `import "/x/y.capnp"` looks).
    pub fn new(schema_root: impl AsRef<Path>) -> Self {
        Builder {
            imports: vec![schema_root.as_ref().to_path_buf()],
            files: Vec::new(),
            module: String::new(),
            out_dir: None,
        }
    }

    /// Adds an import path, searched after the ones added before it (the bundled
    /// `/mp/proxy.capnp` and `/capnp/c++.capnp` come after all of them).
    pub fn import_path(mut self, dir: impl AsRef<Path>) -> Self {
        self.imports.push(dir.as_ref().to_path_buf());
        self
    }

    /// Adds a schema file, relative to the schema root (or absolute). Files it imports
    /// are generated too.
    pub fn file(mut self, path: impl AsRef<Path>) -> Self {
        self.files.push(path.as_ref().to_path_buf());
        self
    }

    /// The module path (from the crate root, `::`-separated) where the output is
    /// included; output goes to `$OUT_DIR/<module with / for ::>/mphub_gen.rs`.
    pub fn module(mut self, module: &str) -> Self {
        self.module = module.to_string();
        self
    }

    /// Overrides `$OUT_DIR`.
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    fn out_root(&self) -> Result<PathBuf, BuildError> {
        match &self.out_dir {
            Some(d) => Ok(d.clone()),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| {
                    BuildError::Unsupported(
                        "OUT_DIR is not set (call from build.rs, or set out_dir)".into(),
                    )
                }),
        }
    }

    fn load(&self, scratch: &Path) -> Result<schema::Schema, BuildError> {
        if self.files.is_empty() {
            return Err(BuildError::Unsupported(
                "no schema file given (Builder::file)".into(),
            ));
        }
        let root = &self.imports[0];
        let files: Vec<PathBuf> = self.files.iter().map(|f| root.join(f)).collect();
        let bytes = compile::code_generator_request(&files, &self.imports, scratch)?;
        load_request(&bytes, &self.imports)
    }

    /// Runs the compiler and the generator; prints `cargo:rerun-if-changed` lines.
    /// Returns the path of the generated file.
    pub fn run(self) -> Result<PathBuf, BuildError> {
        let out_root = self.out_root()?;
        let sub = self.module.replace("::", "/");
        let out = if sub.is_empty() {
            out_root.clone()
        } else {
            out_root.join(&sub)
        };
        std::fs::create_dir_all(&out)?;
        for dir in &self.imports {
            println!("cargo:rerun-if-changed={}", dir.display());
        }
        for f in &self.files {
            println!(
                "cargo:rerun-if-changed={}",
                self.imports[0].join(f).display()
            );
        }
        let schema = self.load(&out)?;
        let code = rust::emit(&schema)?;
        let gen_path = out.join("mphub_gen.rs");
        write_if_changed(&gen_path, &code)?;
        Ok(gen_path)
    }

    /// Generates the Rust source without writing it (for tests and tools).
    pub fn generate(self) -> Result<String, BuildError> {
        let scratch = Scratch::new()?;
        let schema = self.load(&scratch.0)?;
        rust::emit(&schema)
    }

    /// What the generated code will contain, for tools that drive it (e.g. calling one
    /// method of every interface).
    pub fn inspect(self) -> Result<Inspection, BuildError> {
        let scratch = Scratch::new()?;
        let schema = self.load(&scratch.0)?;
        rust::inspect(&schema)
    }
}

/// A temporary folder for the bundled imports, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch, BuildError> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("mphub-build-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn load_request(bytes: &[u8], roots: &[PathBuf]) -> Result<schema::Schema, BuildError> {
    let mut slice = bytes;
    let message = capnp::serialize::read_message(
        &mut slice,
        capnp::message::ReaderOptions {
            traversal_limit_in_words: Some(256 * 1024 * 1024),
            nesting_limit: 128,
        },
    )?;
    let req: capnp::schema_capnp::code_generator_request::Reader<'_> = message.get_root()?;
    schema::Schema::from_request(req, roots)
}

/// Configures one C++ bridge generation (see [`cxx`](self#) and `doc/cxx-bridge.md`).
///
/// ```no_run
/// // build.rs of a bridge crate
/// let out = mphub_build::CxxBuilder::new("../schema")
///     .file("test/test.capnp")
///     .proxies("::mphub_test_peer::test_schema")
///     .support("::mphub_cxx::support")
///     .rust_impl("TestInit", "crate::rust_impls::test_init")
///     .run()
///     .unwrap();
/// // then: cxx_gen on out.rust, write the .rs.h/.rs.cc next to out.header, compile with cc.
/// ```
pub struct CxxBuilder {
    imports: Vec<PathBuf>,
    files: Vec<PathBuf>,
    options: CxxOptions,
    out_dir: Option<PathBuf>,
}

/// Where [`CxxBuilder::run`] wrote its files.
#[derive(Clone, Debug)]
pub struct CxxOutput {
    /// The Rust module (`#[cxx::bridge] pub mod ffi` plus glue), for `include!`.
    pub rust: PathBuf,
    /// Include root holding the generated headers (add it to the C++ include path).
    pub include_dir: PathBuf,
    /// Public header `<include_dir>/<header_dir>/<stem>.h`.
    pub header: PathBuf,
    /// The header the bridge includes (`<stem>-glue.h`).
    pub glue_header: PathBuf,
    /// Where cxx-gen's header for the bridge must go (`<stem>.rs.h`), next to the others.
    pub bridge_header: PathBuf,
    /// C++ source to compile.
    pub source: PathBuf,
    /// The generated C++ types (`<stem>-types.h`), with [`CxxBuilder::generate_types`].
    pub types_header: Option<PathBuf>,
}

impl CxxBuilder {
    /// `schema_root` is where [`CxxBuilder::file`] paths start, and the first import
    /// path (the bundled `/mp/proxy.capnp` and `/capnp/c++.capnp` come after all of them).
    pub fn new(schema_root: impl AsRef<Path>) -> Self {
        CxxBuilder {
            imports: vec![schema_root.as_ref().to_path_buf()],
            files: Vec::new(),
            options: CxxOptions {
                proxies: String::new(),
                support: "::mphub_cxx::support".into(),
                cpp_namespace: "mphub::cxx".into(),
                stem: String::new(),
                header_dir: "mphub/cxx".into(),
                rust_impls: Vec::new(),
                generated_types: None,
            },
            out_dir: None,
        }
    }

    /// Adds a schema file, relative to the schema root (or absolute).
    pub fn file(mut self, path: impl AsRef<Path>) -> Self {
        self.files.push(path.as_ref().to_path_buf());
        self
    }

    /// Adds an import path, searched after the ones added before it.
    pub fn import_path(mut self, dir: impl AsRef<Path>) -> Self {
        self.imports.push(dir.as_ref().to_path_buf());
        self
    }

    /// Rust path of the module [`Builder`] generated for the same files (required).
    pub fn proxies(mut self, path: &str) -> Self {
        self.options.proxies = path.to_string();
        self
    }

    /// Rust path of the support module (default `::mphub_cxx::support`).
    pub fn support(mut self, path: &str) -> Self {
        self.options.support = path.to_string();
        self
    }

    /// C++ namespace of the public API (default `mphub::cxx`).
    pub fn cpp_namespace(mut self, ns: &str) -> Self {
        self.options.cpp_namespace = ns.to_string();
        self
    }

    /// Header folder relative to the include root (default `mphub/cxx`).
    pub fn header_dir(mut self, dir: &str) -> Self {
        self.options.header_dir = dir.to_string();
        self
    }

    /// Name of the generated files and internal namespace (default: the first file's stem).
    pub fn stem(mut self, stem: &str) -> Self {
        self.options.stem = stem.to_string();
        self
    }

    /// Offers a Rust implementation of `interface` to C++ as `rust<Interface>()`;
    /// `factory` is the Rust path of a `fn() -> mphub::Cap<<Interface>Client>`.
    pub fn rust_impl(mut self, interface: &str, factory: &str) -> Self {
        self.options
            .rust_impls
            .push((interface.to_string(), factory.to_string()));
        self
    }

    /// Generates the C++ interface classes and structs from the schema (header
    /// `<stem>-types.h`) instead of including the `$Proxy.include` header: for users
    /// without a C++ header declaring the `$Proxy.wrap` names. `namespace`: one namespace
    /// for all of them, or `None` to keep each `$Proxy.wrap` name's namespace.
    pub fn generate_types(mut self, namespace: Option<&str>) -> Self {
        self.options.generated_types = Some(GeneratedTypes {
            namespace: namespace.map(str::to_string),
        });
        self
    }

    /// Overrides `$OUT_DIR`.
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Runs the capnp compiler and the C++ bridge emitter; prints `cargo:rerun-if-changed` lines.
    pub fn run(mut self) -> Result<CxxOutput, BuildError> {
        if self.options.proxies.is_empty() {
            return Err(BuildError::Unsupported(
                "CxxBuilder: set .proxies(path of the mphub_build::Builder module)".into(),
            ));
        }
        if self.options.stem.is_empty() {
            let first = self.files.first().ok_or_else(|| {
                BuildError::Unsupported("CxxBuilder: no schema file given".into())
            })?;
            self.options.stem = first
                .file_stem()
                .map(|s| s.to_string_lossy().replace(['-', '.'], "_"))
                .unwrap_or_default();
        }
        if self.options.stem == "common"
            && self.options.header_dir.trim_end_matches('/') == "mphub/cxx"
        {
            return Err(BuildError::Unsupported(
                "CxxBuilder: the stem `common` would make mphub/cxx/common.h, which mphub-cxx's own \
                 header already is; choose another with .stem(...) or .header_dir(...)"
                    .into(),
            ));
        }
        let out_root = match &self.out_dir {
            Some(d) => d.clone(),
            None => PathBuf::from(std::env::var("OUT_DIR").map_err(|_| {
                BuildError::Unsupported("OUT_DIR is not set (call from build.rs)".into())
            })?),
        };
        let out = out_root.join(format!("{}_cxx", self.options.stem));
        std::fs::create_dir_all(&out)?;
        let files: Vec<PathBuf> = self.files.iter().map(|f| self.imports[0].join(f)).collect();
        for f in &files {
            println!("cargo:rerun-if-changed={}", f.display());
        }
        let bytes = compile::code_generator_request(&files, &self.imports, &out)?;
        let schema = load_request(&bytes, &self.imports)?;
        let model = model::Model::from_schema(&schema, &self.options)?;
        let code = cxx::emit(&model, &self.options)?;
        let include_dir = out.join("include");
        let header_dir = include_dir.join(&self.options.header_dir);
        let src_dir = out.join("src");
        std::fs::create_dir_all(&header_dir)?;
        std::fs::create_dir_all(&src_dir)?;
        let stem = &self.options.stem;
        let output = CxxOutput {
            rust: out.join("bridge.rs"),
            header: header_dir.join(format!("{stem}.h")),
            glue_header: header_dir.join(format!("{stem}-glue.h")),
            bridge_header: header_dir.join(format!("{stem}.rs.h")),
            source: src_dir.join(format!("{stem}.cpp")),
            types_header: code
                .types_header
                .as_ref()
                .map(|_| header_dir.join(format!("{stem}-types.h"))),
            include_dir,
        };
        if let (Some(path), Some(text)) = (&output.types_header, &code.types_header) {
            write_if_changed(path, text)?;
        }
        write_if_changed(&output.rust, &code.rust)?;
        write_if_changed(&output.header, &code.header)?;
        write_if_changed(&output.glue_header, &code.glue_header)?;
        write_if_changed(&output.source, &code.source)?;
        Ok(output)
    }
}

/// Writes `text` unless the file already holds it (keeps rebuilds incremental).
fn write_if_changed(path: &Path, text: &str) -> Result<(), BuildError> {
    if std::fs::read(path).ok().as_deref() == Some(text.as_bytes()) {
        return Ok(());
    }
    std::fs::write(path, text)?;
    Ok(())
}

/// Generates the C++ bridge (Rust module and C++ files) from a serialized
/// `CodeGeneratorRequest`.
pub fn generate_cxx(request: &[u8], options: &CxxOptions) -> Result<CxxCode, BuildError> {
    let schema = load_request(request, &[])?;
    let model = model::Model::from_schema(&schema, options)?;
    cxx::emit(&model, options)
}
