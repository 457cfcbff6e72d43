# mphub: wire-identical to Bitcoin Core master (v32-dev) src/ipc/capnp/rpc.capnp
# (same file ID, names, ordinals).

@0x9c3505dc45e146ac;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("ipc::capnp::messages");

using Common = import "common.capnp";
using Proxy = import "/mp/proxy.capnp";
$Proxy.include("interfaces/rpc.h");
$Proxy.includeTypes("ipc/capnp/rpc-types.h");

# JSON-RPC over IPC (used by bitcoin-cli -ipcconnect). No authentication.
interface Rpc $Proxy.wrap("interfaces::Rpc") {
    executeRpc @0 (context :Proxy.Context, request :Text, uri :Text, user :Text) -> (result :Text);
}
