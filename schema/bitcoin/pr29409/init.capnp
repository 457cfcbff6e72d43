# mphub: wire-identical to src/ipc/capnp/init.capnp of Bitcoin Core PR #29409 (multiprocess
# wallet/chain interface, braidpool/bitcoin @ c82fa40e4091ffcc7e1d4c9d501bc46999580791):
# same file ID, names and ordinals. Its Init offers the older Mining at @2 and Chain at @3.

@0xf2c5cfa319406aa6;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("ipc::capnp::messages");

using Proxy = import "/mp/proxy.capnp";
$Proxy.include("interfaces/chain.h");
$Proxy.include("interfaces/echo.h");
$Proxy.include("interfaces/init.h");
$Proxy.include("interfaces/mining.h");
$Proxy.includeTypes("ipc/capnp/init-types.h");

using Chain = import "chain.capnp";
using Echo = import "echo.capnp";
using Mining = import "mining.capnp";

# Bootstrap interface of a PR #29409 bitcoin-node.
interface Init $Proxy.wrap("interfaces::Init") {
    construct @0 (threadMap :Proxy.ThreadMap) -> (threadMap :Proxy.ThreadMap);
    makeEcho @1 (context :Proxy.Context) -> (result :Echo.Echo);
    makeMining @2 (context :Proxy.Context) -> (result :Mining.Mining);
    makeChain @3 (context :Proxy.Context) -> (result :Chain.Chain);
}
