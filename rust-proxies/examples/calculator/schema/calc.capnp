# A user's own libmultiprocess-annotated schema: a stack calculator whose server calls
# the client back. It imports only "/mp/proxy.capnp", which mphub-build carries.

@0x98019a68b44573e2;

using Proxy = import "/mp/proxy.capnp";

interface CalcInit {
    construct @0 (threadMap :Proxy.ThreadMap) -> (threadMap :Proxy.ThreadMap);
    makeCalculator @1 (context :Proxy.Context, name :Text) -> (result :Calculator);
}

enum Op {
    add @0;
    sub @1;
    mul @2;
    div @3;
}

interface Calculator {
    destroy @0 (context :Proxy.Context) -> ();
    push @1 (context :Proxy.Context, value :Float64) -> ();
    # Pops two values and pushes the result; fails with a declared exception when the
    # stack is too short or on a division by zero.
    apply @2 (context :Proxy.Context, op :Op) -> (result :Float64, error :Text $Proxy.exception("std::runtime_error"));
    stack @3 (context :Proxy.Context) -> (result :List(Float64));
    # The server calls `watcher` after every change, during the call that made it.
    watch @4 (context :Proxy.Context, watcher :Watcher) -> ();
}

interface Watcher {
    destroy @0 (context :Proxy.Context) -> ();
    changed @1 (context :Proxy.Context, depth :UInt32, top :Float64, hasTop :Bool) -> ();
}
