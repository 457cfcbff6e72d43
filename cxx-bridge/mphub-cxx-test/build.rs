//! C++ bindings for `schema/test` against the C++ interfaces of
//! `cpp/include/mphub/test/test.h`, exported as the package `mphub-cxx-test`
//! (`target/<profile>/mphub-cxx-test/`) that `cpp/host` finds with CMake.
fn main() {
    let out = mphub_cxx_build::Bindings::new("../../schema")
        .file("test/test.capnp")
        .include("../../cpp/include")
        .proxies("::mphub_test_peer::test_schema")
        .rust_impl("TestInit", "crate::rust_impls::test_init")
        .package("mphub-cxx-test")
        .build();
    if let Err(e) = out {
        eprintln!("mphub-cxx-test: {e}");
        std::process::exit(1);
    }
}
