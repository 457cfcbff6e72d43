//! Generates mphub proxies for Bitcoin Core's v31, master and PR #29409 schemas, and for
//! mphub's own demo-node control interface.
fn main() {
    for (version, files) in [
        ("v31", &["init", "echo", "mining", "common"][..]),
        ("master", &["init", "echo", "mining", "common", "rpc"][..]),
        (
            "pr29409",
            &["init", "echo", "mining", "common", "chain", "handler"][..],
        ),
    ] {
        let mut builder = mphub_build::Builder::new("../../schema");
        for f in files {
            builder = builder.file(format!("bitcoin/{version}/{f}.capnp"));
        }
        builder.module(version).run().unwrap_or_else(|e| {
            panic!("generating mphub proxies for schema/bitcoin/{version}: {e}")
        });
    }
    mphub_build::Builder::new("../../schema")
        .file("mphub/demo_control.capnp")
        .module("demo_control")
        .run()
        .unwrap_or_else(|e| {
            panic!("generating mphub proxies for schema/mphub/demo_control.capnp: {e}")
        });
}
