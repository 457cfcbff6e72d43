# mphub corpus: a base interface that another file extends.

@0x8d3e0ae76b7d087c;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mphub::corpus::base");

using Proxy = import "/mp/proxy.capnp";

interface Named {
    name @0 (context :Proxy.Context) -> (result :Text);
}
