//! Build-time generator for mphub: `.capnp` files with libmultiprocess `$Proxy`
//! annotations in, idiomatic Rust proxies out (like `tonic-build` for gRPC).
//!
//! ```no_run
//! // build.rs
//! mphub_build::Builder::new("../../schema")
//!     .file("test/test.capnp")
//!     .module("test_schema")
//!     .run()
//!     .unwrap();
//! ```
//! and in the crate: `pub mod test_schema { include!(concat!(env!("OUT_DIR"), "/test_schema/mphub_gen.rs")); }`
//!
//! For every interface with `$Proxy.wrap` it emits `<Name>Client` (a `Send + Sync + Clone`
//! proxy with async and `_blocking` methods), a `<Name>Server` trait to implement, and the
//! adapter that serves it; for every struct, a plain Rust struct. Field classification
//! follows mpgen: `context` and `ThreadMap` fields are implicit, `result` is the return
//! value, other result fields are outputs, `hasX` makes `X` optional, `wantX` makes the
//! output `X` optional, a result field with `$Proxy.exception` is an error slot, and the
//! methods `construct` and `destroy` are handled by the runtime.
#![warn(missing_docs)]

mod emit;
mod model;

use std::path::{Path, PathBuf};

/// Errors while generating.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// capnp compiler or capnpc failed.
    #[error("capnp compile failed: {0}")]
    Capnp(#[from] capnp::Error),
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
    schema_root: PathBuf,
    files: Vec<PathBuf>,
    module: String,
    out_dir: Option<PathBuf>,
}

impl Builder {
    /// `schema_root` is the import root (it contains `mp/proxy.capnp`).
    pub fn new(schema_root: impl AsRef<Path>) -> Self {
        Builder {
            schema_root: schema_root.as_ref().to_path_buf(),
            files: Vec::new(),
            module: String::new(),
            out_dir: None,
        }
    }

    /// Adds a schema file, relative to the schema root.
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

    /// Runs capnpc and the mphub generator; prints `cargo:rerun-if-changed` lines.
    pub fn run(self) -> Result<PathBuf, BuildError> {
        let out_root = match self.out_dir {
            Some(d) => d,
            None => PathBuf::from(std::env::var("OUT_DIR").map_err(|_| {
                BuildError::Unsupported("OUT_DIR is not set (call from build.rs)".into())
            })?),
        };
        let sub = self.module.replace("::", "/");
        let out = if sub.is_empty() {
            out_root.clone()
        } else {
            out_root.join(&sub)
        };
        std::fs::create_dir_all(&out)?;
        let request_path = out.join("code_generator_request.bin");
        let mut cmd = capnpc::CompilerCommand::new();
        cmd.import_path(&self.schema_root)
            .output_path(&out)
            .crate_provides("mphub", [model::PROXY_FILE_ID])
            .raw_code_generator_request_path(&request_path);
        if !self.module.is_empty() {
            cmd.default_parent_module(self.module.split("::").map(String::from).collect());
        }
        for f in &self.files {
            let full = self.schema_root.join(f);
            println!("cargo:rerun-if-changed={}", full.display());
            // Each file's own directory as prefix: `a/b/x.capnp` → `x_capnp.rs`.
            if let Some(dir) = full.parent() {
                cmd.src_prefix(dir);
            }
            cmd.file(&full);
        }
        cmd.run()?;
        let bytes = std::fs::read(&request_path)?;
        let code = generate(&bytes, &out)?;
        let gen_path = out.join("mphub_gen.rs");
        std::fs::write(&gen_path, code)?;
        Ok(gen_path)
    }
}

/// Generates the mphub module source from a serialized `CodeGeneratorRequest`;
/// `capnp_out` is where capnpc wrote its `*_capnp.rs` files.
pub fn generate(request: &[u8], capnp_out: &Path) -> Result<String, BuildError> {
    let mut slice = request;
    let message = capnp::serialize::read_message(
        &mut slice,
        capnp::message::ReaderOptions {
            traversal_limit_in_words: Some(64 * 1024 * 1024),
            nesting_limit: 128,
        },
    )?;
    let req: capnp::schema_capnp::code_generator_request::Reader<'_> = message.get_root()?;
    let model = model::Model::from_request(req)?;
    emit::emit(&model, capnp_out)
}
