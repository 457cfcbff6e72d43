//! A plain capnp-rpc client with no mphub on its side (capnpc's code for schema/test),
//! for tests that send what mphub's own client never would. The including test crate
//! declares `mod test_capnp` at its root (capnpc's code names itself `crate::test_capnp`).
#![allow(dead_code)]

use capnp::capability::FromClientHook;
use capnp_rpc::rpc_twoparty_capnp::Side;
use capnp_rpc::{twoparty, RpcSystem};
use tokio_util::compat::{TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};

use crate::test_capnp;

/// Bootstraps `TestInit` over `stream`; the RPC system runs on the current `LocalSet`.
pub fn bootstrap(stream: tokio::net::UnixStream) -> test_capnp::test_init::Client {
    let (r, w) = stream.into_split();
    let net = twoparty::VatNetwork::new(
        r.compat(),
        w.compat_write(),
        Side::Client,
        Default::default(),
    );
    let mut rpc = RpcSystem::new(Box::new(net), None);
    let init: test_capnp::test_init::Client = rpc.bootstrap(Side::Server);
    tokio::task::spawn_local(rpc);
    init
}

/// `TestInit.makeTester` (pipelined), as an untyped client for [`tester_call`].
pub fn tester(init: &test_capnp::test_init::Client) -> capnp::capability::Client {
    let tester = init.make_tester_request().send().pipeline.get_result();
    capnp::capability::Client::new(tester.into_client_hook())
}

/// A call of `Tester` method `ordinal` whose params are `(context, arg)` (two pointers,
/// as every such `Tester` method has): `fill` writes pointer 1, the context stays null.
pub fn tester_call(
    tester: &capnp::capability::Client,
    ordinal: u16,
    fill: impl FnOnce(capnp::any_pointer::Builder<'_>),
) -> capnp::capability::Request<capnp::any_pointer::Owned, capnp::any_pointer::Owned> {
    let mut req = tester.new_call::<capnp::any_pointer::Owned, capnp::any_pointer::Owned>(
        <test_capnp::tester::Client as capnp::traits::HasTypeId>::TYPE_ID,
        ordinal,
        None,
    );
    mphub::wire::build_struct(
        req.get(),
        mphub::wire::StructSize {
            data: 0,
            pointers: 2,
        },
        |mut params| {
            fill(params.pointer(1));
            Ok(())
        },
    )
    .expect("building the raw call");
    req
}
