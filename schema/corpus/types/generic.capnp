# mphub corpus: generic structs as libmultiprocess schemas use them (Core's
# common.capnp: Pair, PairInt64, Result, ResultVoid; the multiprocess branch's Expected).

@0xd590c1d4a41299e2;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mphub::corpus::generic");

# A map entry: maps travel as List(Pair(K, V)).
struct Pair(Key, Value) {
    key @0 :Key;
    value @1 :Value;
}

struct PairInt64(Key) {
    key @0 :Key;
    value @1 :Int64;
}

# util::Result<T>: a value, or an error.
struct Result(Value) {
    value @0 :Value;
    error @1 :Failure;
}

# util::Result<void>: the parameter is never used.
struct ResultVoid(Value) {
    error @0 :Failure;
}

# A generic union.
struct Expected(Value, Error) {
    union {
        value @0 :Value;
        error @1 :Error;
    }
}

struct Failure {
    code @0 :Int32;
    message @1 :Text;
}
