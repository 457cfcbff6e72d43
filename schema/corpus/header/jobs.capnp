# mphub corpus, header mode: callbacks inside a struct and a list mapped against a
# hand-written C++ header (libmultiprocess's rules: the $Proxy.include header declares the
# $Proxy.wrap names), as Bitcoin Core PR #29409's RPCCommand.actor is. Written by mphub.

@0xe2b0c5a9d4f61733;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mphub::corpus::header");

using Proxy = import "/mp/proxy.capnp";
$Proxy.include("jobs/jobs.h");

interface Step $Proxy.wrap("ProxyCallback<jobs::Step>") {
    destroy @0 (context :Proxy.Context) -> ();
    call @1 (context :Proxy.Context, value :Int32) -> (result :Int32);
}

struct Plan $Proxy.wrap("jobs::Plan") {
    name @0 :Text;
    step @1 :Step;
    steps @2 :List(Step);
}

interface Runner $Proxy.wrap("jobs::Runner") {
    construct @0 (threadMap :Proxy.ThreadMap) -> (threadMap :Proxy.ThreadMap);
    run @1 (context :Proxy.Context, plan :Plan, value :Int32) -> (result :Int32);
    make @2 (context :Proxy.Context, offset :Int32) -> (result :Plan);
}
