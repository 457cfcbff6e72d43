fn main() {
    mphub_build::Builder::new("../../schema")
        .file("test/test.capnp")
        .module("test_schema")
        .run()
        .expect("generating mphub proxies for schema/test");
}
