fn main() {
    mphub_build::Builder::new("schema")
        .file("calc.capnp")
        .module("calc")
        .run()
        .unwrap_or_else(|e| panic!("{e}"));
}
