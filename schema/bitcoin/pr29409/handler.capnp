# mphub: wire-identical to src/ipc/capnp/handler.capnp of Bitcoin Core PR #29409 (same file
# ID, names and ordinals).

@0xebd8f46e2f369076;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("ipc::capnp::messages");

using Proxy = import "/mp/proxy.capnp";
$Proxy.include("interfaces/handler.h");
$Proxy.includeTypes("ipc/capnp/handler-types.h");

# A registration (notifications, RPC command): disconnect or destroy it to stop the calls.
interface Handler $Proxy.wrap("interfaces::Handler") {
    destroy @0 (context :Proxy.Context) -> ();
    disconnect @1 (context :Proxy.Context) -> ();
}
