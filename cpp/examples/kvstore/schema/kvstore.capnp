# A C++ project's own libmultiprocess-annotated schema: a versioned key-value store.
# The $Proxy.wrap names are what a libmultiprocess user would declare in a C++ header;
# this project has no such header, so mphub generates the classes (GENERATE_TYPES).

@0xeb3ecbd23e31edba;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("kvstore::messages");

using Proxy = import "/mp/proxy.capnp";
$Proxy.include("kvstore/store.h");

interface StoreInit $Proxy.wrap("kvstore::StoreInit") {
    construct @0 (threadMap :Proxy.ThreadMap) -> (threadMap :Proxy.ThreadMap);
    makeStore @1 (context :Proxy.Context, label :Text) -> (result :Store);
}

enum Kind {
    text @0;
    blob @1;
}

struct Entry $Proxy.wrap("kvstore::Entry") {
    key @0 :Text;
    value @1 :Data;
    version @2 :UInt64;
    kind @3 :Kind;
    # Names that are keywords in Rust (type) and in C++ (new).
    type @4 :Text;
    new @5 :Bool;
    # A group: kvstore::EntryMeta, held inline.
    meta :group {
        author @6 :Text;
        tags @7 :List(Text);
    }
}

# Thrown by `get` for a missing key.
struct NotFound $Proxy.wrap("kvstore::NotFound") {
    key @0 :Text;
    message @1 :Text;
}

# Generic structs: one C++ template each (kvstore::Pair<K, V>, kvstore::Sized<K>, ...).
struct Pair(Key, Value) {
    key @0 :Key;
    value @1 :Value;
}

# Like Core's PairInt64: capnp binds parameters to pointer types only.
struct Sized(Key) {
    key @0 :Key;
    size @1 :UInt64;
}

struct Maybe(Value) {
    value @0 :Value;
    error @1 :Text;
}

# Unions: kvstore::Query is one and nothing else; kvstore::Stat has one beside a field.
struct Query {
    union {
        all @0 :Void;
        prefix @1 :Text;
        keys @2 :List(Text);
        kind @3 :Kind;
    }
}

struct Stat {
    key @0 :Text;
    union {
        missing @1 :Void;
        size @2 :UInt64;
        entry @3 :Entry;
    }
}

# An empty struct (cxx has no empty shared structs: the bridge pads it).
struct Nothing {}

# Anything with a label; a Store is one (extends).
interface Named $Proxy.wrap("kvstore::Named") {
    destroy @0 (context :Proxy.Context) -> ();
    label @1 (context :Proxy.Context) -> (result :Text);
}

interface Store extends(Named) $Proxy.wrap("kvstore::Store") {
    destroy @0 (context :Proxy.Context) -> ();
    # Stores the entry and returns its new version (1 for a new key).
    put @1 (context :Proxy.Context, entry :Entry) -> (result :UInt64);
    get @2 (context :Proxy.Context, key :Text) -> (result :Entry, error :NotFound $Proxy.exception("kvstore::NotFound"));
    # Entries whose key starts with `prefix`, in key order.
    scan @3 (context :Proxy.Context, prefix :Text) -> (result :List(Entry));
    # The value of `key` if present (hasResult false otherwise).
    find @4 (context :Proxy.Context, key :Text) -> (result :Data, hasResult :Bool);
    # The kind of every entry, in key order.
    kinds @5 (context :Proxy.Context) -> (result :List(Kind));
    countKind @6 (context :Proxy.Context, kind :Kind) -> (result :UInt32);
    # "<label>: <entries>" of any Named (a Store passed where its base is expected too).
    describe @7 (context :Proxy.Context, named :Named) -> (result :Text);
    # The keys under each prefix, one inner list per prefix (a list of lists).
    keysByPrefix @8 (context :Proxy.Context, prefixes :List(Text)) -> (result :List(List(Text)));
    # Stores batches of entries; returns how many were stored.
    putBatches @9 (context :Proxy.Context, batches :List(List(Entry))) -> (result :UInt32);
    # Value sizes by key (a list of a generic struct bound to Text, with a UInt64 field).
    sizes @10 (context :Proxy.Context) -> (result :List(Sized(Text)));
    # Stores text values given as pairs; returns how many.
    putPairs @11 (context :Proxy.Context, pairs :List(Pair(Text, Data))) -> (result :UInt32);
    # The entry, or an error text instead of an exception (a generic bound to a struct).
    tryGet @12 (context :Proxy.Context, key :Text) -> (result :Maybe(Entry));
    # The keys a query selects, in key order.
    select @13 (context :Proxy.Context, query :Query) -> (result :List(Text));
    # Missing, the size of a text entry, or the whole entry of a blob.
    stat @14 (context :Proxy.Context, key :Text) -> (result :Stat);
    # Takes and returns an empty struct; the result is the number of entries.
    count @15 (context :Proxy.Context, nothing :Nothing) -> (result :UInt32, echoed :Nothing);
}
