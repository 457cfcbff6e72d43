//! C++ bindings for `schema/corpus` with generated C++ types (namespace
//! `mphub::corpus`), then the C++ corpus peer (`src/corpus_peer.cpp`) compiled against them;
//! bindings for `schema/bitcoin/pr29409`, compiled to prove every construct maps; and
//! bindings for `schema/corpus/header` against the hand-written `include/jobs/jobs.h`
//! (libmultiprocess's header mode).
use std::path::PathBuf;

type BoxError = Box<dyn std::error::Error>;

fn main() {
    if let Err(e) = run() {
        eprintln!("mphub-cxx-corpus build failed: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), BoxError> {
    let out = mphub_cxx_build::Bindings::new("../../schema")
        .file("corpus/api/corpus.capnp")
        .module("corpus")
        .stem("corpus")
        .header_dir("mphub/corpus")
        .cpp_namespace("mphub::corpus::cxx")
        .generate_types(Some("mphub::corpus"))
        .build()?;
    // Bitcoin Core PR #29409's schemas (as mphub wrote them from the published files):
    // every interface, with callbacks inside structs (`RPCCommand.actor`) and callbacks
    // named by Core's headers (`CRPCCommand::Actor`), must generate and compile.
    mphub_cxx_build::Bindings::new("../../schema/bitcoin/pr29409")
        .file("init.capnp")
        .module("pr29409")
        .stem("pr29409")
        .header_dir("mphub/corpus")
        .cpp_namespace("mphub::corpus::pr29409")
        .generate_types(Some("mphub::corpus::pr29409"))
        .build()?;
    // Header mode: callbacks inside a struct against a hand-written header (include/).
    let jobs = mphub_cxx_build::Bindings::new("../../schema/corpus/header")
        .file("jobs.capnp")
        .module("jobs")
        .stem("jobs")
        .header_dir("mphub/corpus")
        .cpp_namespace("mphub::corpus::header")
        .include("include")
        .build()?;
    let mphub_cxx_include = PathBuf::from(std::env::var("DEP_MPHUB_CXX_INCLUDE")?);
    cc::Build::new()
        .cpp(true)
        .std("c++17")
        .include(&out.include_dir)
        .include(&jobs.include_dir)
        .include("include")
        .include(&mphub_cxx_include)
        .warnings(true)
        .extra_warnings(true)
        .file("src/corpus_peer.cpp")
        .compile("mphub_cxx_corpus_peer");
    println!("cargo:rerun-if-changed=src/corpus_peer.cpp");
    println!("cargo:rerun-if-changed=include");
    Ok(())
}
