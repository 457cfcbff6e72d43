# mphub's copy of Cap'n Proto's `/capnp/c++.capnp`: the annotations C++ code generators
# read. Written from the file and annotation IDs (wire-identical), so that a schema
# importing "/capnp/c++.capnp" compiles with only the `capnp` tool installed.
# mphub-build bundles it; the C++ plugins find the same IDs in the system copy.

@0xbdf87d7bb8304e81;
$namespace("capnp::annotations");

annotation namespace @0xb9c6f99ebf805f2c (file) :Text;
annotation name @0xf264a779fef191ce (field, enumerant, struct, enum, interface, method, param, group, union) :Text;
annotation allowCancellation @0xac7096ff8cfc9dce (interface, method, file) :Void;
