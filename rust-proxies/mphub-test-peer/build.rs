//! Generates the mphub proxies for `schema/test`, and capnpc's plain Cap'n Proto code for
//! the same file (only the hostile tests use it: a raw client with no mphub on its side).
fn main() {
    mphub_build::Builder::new("../../schema")
        .file("test/test.capnp")
        .module("test_schema")
        .run()
        .expect("generating mphub proxies for schema/test");

    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("raw");
    std::fs::create_dir_all(&out).expect("creating OUT_DIR/raw");
    capnpc::CompilerCommand::new()
        .import_path("../../schema")
        .src_prefix("../../schema/test")
        .crate_provides("mphub", [0xcc31_6e3f_71a0_40fb])
        .output_path(&out)
        .file("../../schema/test/test.capnp")
        .run()
        .expect("compiling schema/test/test.capnp with capnpc");
}
