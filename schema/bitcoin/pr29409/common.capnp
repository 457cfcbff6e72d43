# mphub: wire-identical to src/ipc/capnp/common.capnp of Bitcoin Core PR #29409 (same file
# ID, names and ordinals).

@0xcd2c6232cb484a28;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("ipc::capnp::messages");

using Proxy = import "/mp/proxy.capnp";
$Proxy.includeTypes("ipc/capnp/common-types.h");

struct BlockRef $Proxy.wrap("interfaces::BlockRef") {
    hash @0 :Data;
    height @1 :Int32;
}

# A translatable message (Core's bilingual_str).
struct BilingualStr $Proxy.wrap("bilingual_str") {
    original @0 :Text;
    translated @1 :Text;
}

# util::Result<Value>: a value, or an error message.
struct Result(Value) {
    value @0 :Value;
    error @1 :BilingualStr;
}

struct ResultVoid(Value) {
    error @0 :BilingualStr;
}

# std::pair / map entries.
struct Pair(Key, Value) {
    key @0 :Key;
    value @1 :Value;
}

struct PairInt64(Key) {
    key @0 :Key;
    value @1 :Int64;
}
