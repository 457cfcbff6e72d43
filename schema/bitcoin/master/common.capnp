# mphub: wire-identical to Bitcoin Core master (v32-dev) src/ipc/capnp/common.capnp
# (same file ID, names, ordinals).

@0xcd2c6232cb484a28;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("ipc::capnp::messages");

using Proxy = import "/mp/proxy.capnp";
$Proxy.includeTypes("ipc/capnp/common-types.h");

# Block hash (32 bytes, internal byte order) plus height.
struct BlockRef $Proxy.wrap("interfaces::BlockRef") {
    hash @0 :Data;
    height @1 :Int32;
}
