//! (issue 9, defect 9) A client process that exits right after dropping its proxies must
//! not close its connection with `destroy` calls unanswered: a libmultiprocess server
//! can wedge on that. The server here is plain capnp-rpc (no mphub), whose `destroy`
//! takes 200 ms and records whether it could answer before the socket closed; the
//! client is a real `mphub-test-peer client` process running the scenario from the
//! issue (`callback-outside-call`, then exit).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use capnp_rpc::rpc_twoparty_capnp::Side;
use capnp_rpc::{twoparty, RpcSystem};
use mphub::proxy_capnp::{thread, thread_map};

/// capnpc's plain code for `schema/test` (see build.rs).
#[allow(clippy::all, dead_code, unused)]
mod test_capnp {
    include!(concat!(env!("OUT_DIR"), "/raw/test_capnp.rs"));
}
use test_capnp::{callback, test_init, tester};

#[derive(Default, Debug)]
struct Record {
    destroys_received: usize,
    destroys_answered: usize,
}

struct Thread;
impl thread::Server for Thread {}

struct ThreadMap;
impl thread_map::Server for ThreadMap {
    async fn make_thread(
        self: Rc<Self>,
        _: thread_map::MakeThreadParams,
        mut results: thread_map::MakeThreadResults,
    ) -> Result<(), capnp::Error> {
        results.get().set_result(capnp_rpc::new_client(Thread));
        Ok(())
    }
}

struct Init {
    record: Rc<RefCell<Record>>,
}
impl test_init::Server for Init {
    async fn construct(
        self: Rc<Self>,
        _: test_init::ConstructParams,
        mut results: test_init::ConstructResults,
    ) -> Result<(), capnp::Error> {
        results
            .get()
            .set_thread_map(capnp_rpc::new_client(ThreadMap));
        Ok(())
    }

    async fn make_tester(
        self: Rc<Self>,
        _: test_init::MakeTesterParams,
        mut results: test_init::MakeTesterResults,
    ) -> Result<(), capnp::Error> {
        results.get().set_result(capnp_rpc::new_client(Tester {
            record: self.record.clone(),
            saved: RefCell::new(None),
        }));
        Ok(())
    }
}

struct Tester {
    record: Rc<RefCell<Record>>,
    saved: RefCell<Option<callback::Client>>,
}

impl tester::Server for Tester {
    fn destroy(
        self: Rc<Self>,
        _: tester::DestroyParams,
        _: tester::DestroyResults,
    ) -> impl std::future::Future<Output = Result<(), capnp::Error>> + 'static {
        self.record.borrow_mut().destroys_received += 1;
        async move {
            // Slow, like a C++ destructor that joins a thread; cancelled if the
            // client closes the connection first.
            tokio::time::sleep(Duration::from_millis(200)).await;
            self.saved.borrow_mut().take();
            self.record.borrow_mut().destroys_answered += 1;
            Ok(())
        }
    }

    async fn save_callback(
        self: Rc<Self>,
        params: tester::SaveCallbackParams,
        _: tester::SaveCallbackResults,
    ) -> Result<(), capnp::Error> {
        *self.saved.borrow_mut() = Some(params.get()?.get_callback()?);
        Ok(())
    }

    fn call_saved_callback(
        self: Rc<Self>,
        params: tester::CallSavedCallbackParams,
        mut results: tester::CallSavedCallbackResults,
    ) -> impl std::future::Future<Output = Result<(), capnp::Error>> + 'static {
        let setup = || -> Result<_, capnp::Error> {
            let p = params.get()?;
            let ctx = p.get_context()?;
            let cb = self
                .saved
                .borrow()
                .clone()
                .ok_or_else(|| capnp::Error::failed("no saved callback".into()))?;
            let mut req = cb.call_request();
            // The caller's callbackThread is where its callback runs.
            req.get()
                .init_context()
                .set_thread(ctx.get_callback_thread()?);
            req.get().set_arg(p.get_arg());
            Ok(req)
        };
        let req = setup();
        async move {
            let reply = req?.send().promise.await?;
            results.get().set_result(reply.get()?.get_result());
            Ok(())
        }
    }
}

/// Serves one connection on `listener` with [`Init`]; returns what the server saw once
/// the client closed the socket.
async fn serve_one(listener: tokio::net::UnixListener) -> Record {
    let record = Rc::new(RefCell::new(Record::default()));
    let (stream, _) = listener.accept().await.unwrap();
    let (r, w) = stream.into_split();
    use tokio_util::compat::{TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};
    let net = twoparty::VatNetwork::new(
        r.compat(),
        w.compat_write(),
        Side::Server,
        Default::default(),
    );
    let init: test_init::Client = capnp_rpc::new_client(Init {
        record: record.clone(),
    });
    let _ = RpcSystem::new(Box::new(net), Some(init.client)).await;
    // Let cancelled work (if any) settle.
    tokio::task::yield_now().await;
    let seen = std::mem::take(&mut *record.borrow_mut());
    seen
}

#[tokio::test(flavor = "current_thread")]
async fn an_exiting_client_waits_for_its_destroy_calls() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("destroy.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let local = tokio::task::LocalSet::new();
    let server = local.spawn_local(serve_one(listener));
    let client = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_mphub-test-peer"))
            .args(["client", "--scenario", "callback-outside-call", "--socket"])
            .arg(&path)
            .output()
    });
    let (out, record) = local
        .run_until(async move { tokio::join!(client, server) })
        .await;
    let out = out.unwrap().unwrap();
    assert!(
        out.status.success(),
        "client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let record = record.unwrap();
    assert!(record.destroys_received >= 1, "{record:?}");
    assert_eq!(
        record.destroys_answered, record.destroys_received,
        "the client closed the connection before its destroy calls were answered"
    );
}
