# mphub: interop test schema (our own file ID). Exercises the libmultiprocess
# mapping conventions: context/thread dispatch, primitives, text/data, lists,
# maps, optionals (hasX), out and in/out params, exceptions, callbacks,
# capabilities as arguments and renamed methods.

@0xda83a0c16efe24b7;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mphub::test::messages");

using Proxy = import "/mp/proxy.capnp";
$Proxy.include("mphub/test/test.h");
$Proxy.includeTypes("mphub/test/test-types.h");

# Bootstrap interface.
interface TestInit $Proxy.wrap("mphub::test::TestInit") {
    construct @0 (threadMap :Proxy.ThreadMap) -> (threadMap :Proxy.ThreadMap);
    makeTester @1 (context :Proxy.Context) -> (result :Tester);
    makeCounter @2 (context :Proxy.Context, start :Int64) -> (result :Counter);
}

# One field of every primitive type.
struct Primitives $Proxy.wrap("mphub::test::Primitives") {
    b @0 :Bool;
    i8 @1 :Int8;
    i16 @2 :Int16;
    i32 @3 :Int32;
    i64 @4 :Int64;
    u8 @5 :UInt8;
    u16 @6 :UInt16;
    u32 @7 :UInt32;
    u64 @8 :UInt64;
    f32 @9 :Float32;
    f64 @10 :Float64;
}

# Struct with text, a list and an optional member (weight + hasWeight).
struct Point $Proxy.wrap("mphub::test::Point") {
    x @0 :Int32;
    y @1 :Int32;
    label @2 :Text;
    tags @3 :List(Text);
    weight @4 :Float64;
    hasWeight @5 :Bool;
}

# Map entry (a map travels as List(Pair)); deliberately not wrapped.
struct Pair {
    key @0 :Text;
    value @1 :Int64;
}

# Payload of the C++ exception type mphub::test::TestError.
struct TestError $Proxy.wrap("mphub::test::TestError") {
    code @0 :Int32;
    message @1 :Text;
}

interface Tester $Proxy.wrap("mphub::test::Tester") {
    destroy @0 (context :Proxy.Context) -> ();
    passPrimitives @1 (context :Proxy.Context, arg :Primitives) -> (result :Primitives);
    addInt64 @2 (context :Proxy.Context, a :Int64, b :Int64) -> (result :Int64);
    passText @3 (context :Proxy.Context, arg :Text) -> (result :Text);
    passData @4 (context :Proxy.Context, arg :Data) -> (result :Data);
    passOptionalData @5 (context :Proxy.Context, arg :Data, hasArg :Bool) -> (result :Data, hasResult :Bool);
    passInts @6 (context :Proxy.Context, arg :List(Int32)) -> (result :List(Int32));
    passTexts @7 (context :Proxy.Context, arg :List(Text)) -> (result :List(Text));
    passDatas @8 (context :Proxy.Context, arg :List(Data)) -> (result :List(Data));
    passMap @9 (context :Proxy.Context, arg :List(Pair)) -> (result :List(Pair));
    passPoint @10 (context :Proxy.Context, arg :Point) -> (result :Point);
    maybeInt @11 (context :Proxy.Context, want :Bool) -> (result :Int32, hasResult :Bool);
    divide @12 (context :Proxy.Context, a :Int32, b :Int32, wantRemainder :Bool) -> (result :Int32, remainder :Int32);
    addInOut @13 (context :Proxy.Context, x :Int32, sum :Int32) -> (sum :Int32);
    split @14 (context :Proxy.Context, text :Text, at :UInt32) -> (head :Text, tail :Text);
    raise @15 (context :Proxy.Context, code :Int32, message :Text) -> (error :TestError $Proxy.exception("mphub::test::TestError"));
    checkedDivide @16 (context :Proxy.Context, a :Int32, b :Int32) -> (result :Int32, error :TestError $Proxy.exception("mphub::test::TestError"));
    fail @17 (context :Proxy.Context, message :Text) -> ();
    # No context: executes on the server's event-loop thread.
    addNoContext @18 (a :Int32, b :Int32) -> (result :Int32);
    # Slow call; returns the name of the server thread that ran it.
    sleepMs @19 (context :Proxy.Context, ms :UInt32) -> (result :Text);
    threadName @20 (context :Proxy.Context) -> (result :Text);
    appendLog @21 (context :Proxy.Context, value :Int32) -> ();
    takeLog @22 (context :Proxy.Context) -> (result :List(Int32));
    callCallback @23 (context :Proxy.Context, callback :Callback, arg :Int32) -> (result :Int32);
    saveCallback @24 (context :Proxy.Context, callback :Callback) -> ();
    # Server invokes the saved callback from a fresh thread, outside any request.
    callSavedCallback @25 (context :Proxy.Context, arg :Int32) -> (result :Int32);
    # Server and client call each other back and forth `depth` times.
    recurse @26 (context :Proxy.Context, callback :Callback, depth :Int32) -> (result :Int32);
    readCounter @27 (context :Proxy.Context, counter :Counter) -> (result :Int64);
    renamedMethod @28 (context :Proxy.Context, value :Int32) -> (result :Int32) $Proxy.name("renamed_method");
    # Counters alive in this server process, so a client can observe its destroy calls.
    liveCounters @29 (context :Proxy.Context) -> (result :Int64);
}

interface Counter $Proxy.wrap("mphub::test::Counter") {
    destroy @0 (context :Proxy.Context) -> ();
    increment @1 (context :Proxy.Context) -> (result :Int64);
    get @2 (context :Proxy.Context) -> (result :Int64);
}

# Client-implemented function object int32_t(int32_t).
interface Callback $Proxy.wrap("ProxyCallback<std::function<int32_t(int32_t)>>") {
    destroy @0 (context :Proxy.Context) -> ();
    call @1 (context :Proxy.Context, arg :Int32) -> (result :Int32);
}
