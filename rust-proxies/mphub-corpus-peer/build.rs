//! Generates mphub's bindings for the corpus (`schema/corpus`, with the files it imports),
//! and capnpc's plain code for the same files: the tests read mphub's messages through
//! capnp-rust's own (reflection) code, an implementation independent of mphub's.
fn main() {
    mphub_build::Builder::new("../../schema")
        .file("corpus/api/corpus.capnp")
        .module("corpus")
        .run()
        .unwrap_or_else(|e| panic!("generating mphub bindings for schema/corpus: {e}"));

    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("raw");
    std::fs::create_dir_all(&out).expect("creating OUT_DIR/raw");
    let mut capnpc = capnpc::CompilerCommand::new();
    capnpc
        .import_path("../../schema")
        .src_prefix("../../schema")
        .crate_provides("mphub", [0xcc31_6e3f_71a0_40fb])
        .default_parent_module(vec!["raw".into()])
        .output_path(&out);
    for f in ["api/corpus", "api/base", "types/shapes", "types/generic"] {
        capnpc.file(format!("../../schema/corpus/{f}.capnp"));
    }
    capnpc.run().expect("compiling schema/corpus with capnpc");
}
