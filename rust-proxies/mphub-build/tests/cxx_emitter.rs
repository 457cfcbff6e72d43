//! The C++ bridge emitter on `schema/test`: the mapping rules show up in the generated
//! signatures (the full round trip is tested by `cxx-bridge/`, which compiles and runs it).

use std::path::PathBuf;

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mphub-build-cxx-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn schema() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schema")
}

#[test]
fn generates_the_cpp_api_with_libmultiprocess_signatures() {
    let dir = out_dir("ok");
    let out = mphub_build::CxxBuilder::new(schema())
        .file("test/test.capnp")
        .proxies("::peer::test_schema")
        .rust_impl("TestInit", "crate::make_init")
        .out_dir(&dir)
        .run()
        .expect("generating the bridge");
    let header = std::fs::read_to_string(&out.header).unwrap();
    let rust = std::fs::read_to_string(&out.rust).unwrap();
    let source = std::fs::read_to_string(&out.source).unwrap();
    let glue = std::fs::read_to_string(&out.glue_header).unwrap();
    for want in [
        "class RemoteTester final : public ::mphub::test::Tester",
        // wantX → nullable out pointer; in/out → reference; result-only → references
        "std::int32_t divide(std::int32_t a, std::int32_t b, std::int32_t* remainder) override;",
        "void addInOut(std::int32_t x, std::int32_t& sum) override;",
        "void split(const std::string& text, std::uint32_t at, std::string& head, std::string& tail) override;",
        // hasX → std::optional; interfaces; callbacks; $Proxy.name
        "std::optional<std::vector<unsigned char>> passOptionalData(const std::optional<std::vector<unsigned char>>& arg) override;",
        "std::unique_ptr<::mphub::test::Tester> makeTester() override;",
        "std::int64_t readCounter(::mphub::test::Counter& counter) override;",
        "std::int32_t callCallback(::std::function<int32_t(int32_t)> callback, std::int32_t arg) override;",
        "std::int32_t renamed_method(std::int32_t value) override;",
        // declared exception: not an argument
        "void raise(std::int32_t code, const std::string& message) override;",
        // unwrapped two-field struct → std::pair
        "std::vector<std::pair<std::string, std::int64_t>> passMap(",
        "Server serve(TestInitCap cap, const std::string& socket_path);",
        "std::unique_ptr<RemoteTestInit> connectTestInit(const std::string& socket_path);",
        "TestInitCap rustTestInit();",
        "explicit CallbackCap(::std::function<int32_t(int32_t)> fn);",
        "#include <mphub/test/test.h>",
    ] {
        assert!(header.contains(want), "header lacks `{want}`");
    }
    // Only bootstrap interfaces (with construct) can be served or connected to.
    assert!(
        !header.contains("connectCounter"),
        "Counter has no construct"
    );
    assert!(
        !header.contains("connectCallback"),
        "Callback has no construct"
    );
    for want in [
        "#[::cxx::bridge(namespace = \"mphub::cxx::ffi::test\")]",
        "fn tester_call_divide(client: &TesterClientBox, a: i32, b: i32, want_remainder: bool) -> Result<TesterDivideRet>;",
        "fn tester_holder_pass_text(holder: &TesterHolder, arg: &[u8]) -> Result<Vec<u8>>;",
        "impl ::peer::test_schema::TesterServer for CppTester",
        "fn rust_test_init()",
        "take_declared_test_error",
    ] {
        assert!(rust.contains(want), "bridge lacks `{want}`");
    }
    assert!(source.contains("catch (const ::mphub::test::TestError & e)"));
    assert!(
        glue.contains("struct TesterHolder : ::mphub::cxx::detail::Holder<::mphub::test::Tester>")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn refuses_unknown_rust_impl_and_missing_proxies() {
    let dir = out_dir("bad");
    let e = mphub_build::CxxBuilder::new(schema())
        .file("test/test.capnp")
        .proxies("::peer::test_schema")
        .rust_impl("NoSuchInterface", "crate::f")
        .out_dir(&dir)
        .run()
        .expect_err("an unknown interface must be refused");
    assert!(e.to_string().contains("NoSuchInterface"), "{e}");
    let e = mphub_build::CxxBuilder::new(schema())
        .file("test/test.capnp")
        .out_dir(&dir)
        .run()
        .expect_err("missing .proxies must be refused");
    assert!(e.to_string().contains("proxies"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
