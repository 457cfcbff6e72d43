# mphub: wire-identical to libmultiprocess include/mp/proxy.capnp
# (same file ID, annotation IDs, type IDs and ordinals).

@0xcc316e3f71a040fb;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mp");

# Code-generation hints read by mpgen. None of them affects the wire format.
annotation include @0xb899f3c154fdb458 (file) :Text;
annotation includeTypes @0xbcec15648e8a0cf1 (file) :Text;
annotation wrap @0xe6f46079b7b1405e (interface, struct) :Text;
annotation count @0xd02682b319f69b38 (param, struct, interface) :Int32;
annotation exception @0x996a183200992f88 (param) :Text;
annotation name @0xb594888f63f4dbb9 (field, method) :Text;
annotation skip @0x824c08b82695d8dd (field) :Void;

# Hands out server-side worker threads; returned by Init.construct.
interface ThreadMap @0xee5e37179ad9dc9d $count(0) {
    makeThread @0 (name :Text) -> (result :Thread);
    makePool @1 (count :UInt32) -> ();
}

# Handle to one worker thread living in the process that created it.
interface Thread @0x81c1e2600d0b56c5 {
    getName @0 () -> (result :Text);
}

# Passed as param @0 of most methods: which thread should run the call, and
# which caller thread is waiting for it (used for callbacks).
struct Context @0x9c44e6645d0b22c6 $count(0) {
    thread @0 :Thread;
    callbackThread @1 :Thread;
}
