//! Compiles mphub's copy of libmultiprocess's `mp/proxy.capnp` (ThreadMap, Thread, Context).
fn main() {
    let schema_root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema");
    let proxy = schema_root.join("mp/proxy.capnp");
    println!("cargo:rerun-if-changed={}", proxy.display());
    capnpc::CompilerCommand::new()
        .src_prefix(schema_root.join("mp"))
        .file(&proxy)
        .run()
        .expect("compiling schema/mp/proxy.capnp (is the `capnp` tool installed? run depends/install.sh)");
}
