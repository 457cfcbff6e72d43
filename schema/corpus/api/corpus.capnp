# mphub corpus: one interface whose methods carry every construct libmultiprocess
# schemas use, and fixtures (edge values) for the value constructs. Written by mphub.
#
# Value constructs come in threes: echoX returns what it got, getX returns fixture
# #index of fixturesX, checkX compares what it got with fixture #index. Clients and
# servers in every language implement them from these consts, so the wire encoding is
# checked against the capnp compiler's own encoding of the fixtures.

@0xb4c67801e768ab45;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mphub::corpus");

using Proxy = import "/mp/proxy.capnp";
using G = import "../types/generic.capnp";
using S = import "../types/shapes.capnp";
using Base = import "base.capnp";

# Extends an interface of another file.
interface Counter extends(Base.Named) {
    destroy @0 (context :Proxy.Context) -> ();
    increment @1 (context :Proxy.Context, by :Int64) -> (result :Int64);
}

# Extends an interface that extends another.
interface Derived extends(Counter) {
    reset @0 (context :Proxy.Context) -> (result :Int64);
}

# Called by the server without a context.
interface Listener {
    notify @0 (value :Int32) -> ();
}

# A callback (libmultiprocess's ProxyCallback: a std::function in C++), passed inside a
# struct and a list, as Bitcoin Core PR #29409's RPCCommand.actor.
interface Mapper $Proxy.wrap("ProxyCallback<std::function<int32_t(int32_t)>>") {
    destroy @0 (context :Proxy.Context) -> ();
    call @1 (context :Proxy.Context, value :Int32) -> (result :Int32);
}

struct Job {
    label @0 :Text;
    mapper @1 :Mapper;
    then @2 :List(Mapper);
    tagged @3 :Tagged(Text);
}

# A generic struct with a callback field of its own (C++: a template without operator==).
struct Tagged(Tag) {
    tag @0 :Tag;
    mapper @1 :Mapper;
}

# Named like the Rust traits generated server traits are bounded by: the generated code
# must name those traits by path (a struct `Sized` once broke it).
struct Sized {
    send @0 :Bool;
}
struct Send {}
struct Sync {}

# Interfaces inside a struct, a list and generics.
struct Holder {
    label @0 :Text;
    counter @1 :Counter;
    counters @2 :List(Counter);
    boxed @3 :G.Pair(Text, Counter);
    result @4 :G.Result(Counter);
}

# In/out under one name with different param and result types (Core's FoundBlock).
struct FindParam {
    wantHash @0 :Bool;
    wantHeight @1 :Bool;
    next @2 :FindParam;
}

struct FindResult {
    hash @0 :Data;
    height @1 :Int32;
    next @2 :FindResult;
    found @3 :Bool;
}

# The fixture lists, one per value construct (Corpus.fixtures).
struct Fixtures {
    scalars @0 :List(S.Scalars);
    shapes @1 :List(S.Shapes);
    choice @2 :List(S.Choice);
    generics @3 :List(S.Generics);
    keywords @4 :List(S.Keywords);
    annotated @5 :List(S.Annotated);
}

interface Corpus {
    construct @0 (threadMap :Proxy.ThreadMap) -> (threadMap :Proxy.ThreadMap);

    echoScalars @1 (context :Proxy.Context, value :S.Scalars) -> (result :S.Scalars);
    getScalars @2 (context :Proxy.Context, index :UInt32) -> (result :S.Scalars);
    checkScalars @3 (context :Proxy.Context, index :UInt32, value :S.Scalars) -> (ok :Bool, detail :Text);
    echoShapes @4 (context :Proxy.Context, value :S.Shapes) -> (result :S.Shapes);
    getShapes @5 (context :Proxy.Context, index :UInt32) -> (result :S.Shapes);
    checkShapes @6 (context :Proxy.Context, index :UInt32, value :S.Shapes) -> (ok :Bool, detail :Text);
    echoChoice @7 (context :Proxy.Context, value :S.Choice) -> (result :S.Choice);
    getChoice @8 (context :Proxy.Context, index :UInt32) -> (result :S.Choice);
    checkChoice @9 (context :Proxy.Context, index :UInt32, value :S.Choice) -> (ok :Bool, detail :Text);
    echoGenerics @10 (context :Proxy.Context, value :S.Generics) -> (result :S.Generics);
    getGenerics @11 (context :Proxy.Context, index :UInt32) -> (result :S.Generics);
    checkGenerics @12 (context :Proxy.Context, index :UInt32, value :S.Generics) -> (ok :Bool, detail :Text);
    echoKeywords @13 (context :Proxy.Context, value :S.Keywords) -> (result :S.Keywords);
    getKeywords @14 (context :Proxy.Context, index :UInt32) -> (result :S.Keywords);
    checkKeywords @15 (context :Proxy.Context, index :UInt32, value :S.Keywords) -> (ok :Bool, detail :Text);
    echoAnnotated @16 (context :Proxy.Context, value :S.Annotated) -> (result :S.Annotated);
    getAnnotated @17 (context :Proxy.Context, index :UInt32) -> (result :S.Annotated);
    checkAnnotated @18 (context :Proxy.Context, index :UInt32, value :S.Annotated) -> (ok :Bool, detail :Text);

    # Interfaces: returned, in lists, in structs, derived passed where the base is expected.
    makeCounter @19 (context :Proxy.Context, name :Text, start :Int64) -> (result :Counter);
    makeDerived @20 (context :Proxy.Context, name :Text) -> (result :Derived);
    makeCounters @21 (context :Proxy.Context, count :UInt32) -> (result :List(Counter));
    sumCounters @22 (context :Proxy.Context, counters :List(Counter)) -> (result :Int64);
    echoHolder @23 (context :Proxy.Context, value :Holder) -> (result :Holder);
    readName @24 (context :Proxy.Context, named :Base.Named) -> (result :Text);

    # Several declared exceptions (which = 1, 2, 3 raises the first, second, third).
    raise @25 (context :Proxy.Context, which :UInt8) -> (result :Int32, failure :G.Failure $Proxy.exception("mphub::corpus::Failure"), message :Text $Proxy.exception("std::exception"), note :Text $Proxy.exception("mphub::corpus::Note"));
    find @26 (context :Proxy.Context, key :Data, block :FindParam) -> (block :FindResult, result :Bool);
    start @27 (context :Proxy.Context, argv :List(Text) $Proxy.count(2)) -> (result :UInt32);
    tick @28 (context :Proxy.Context, nothing :Void, step :Int32) -> (result :Int32);
    addNoContext @29 (a :Int32, b :Int32) -> (result :Int32);
    subscribe @30 (context :Proxy.Context, listener :Listener, count :Int32) -> ();

    # Declared out of ordinal order.
    late @32 (context :Proxy.Context) -> (result :Int32);
    early @31 (context :Proxy.Context) -> (result :Int32);

    # Names that are Rust keywords, or that generated clients and servers use.
    type @33 (context :Proxy.Context, self :Int32, match :Int32) -> (result :Int32);
    local @34 (context :Proxy.Context) -> (result :Int32);
    intoCap @35 (context :Proxy.Context) -> (result :Int32);
    count @36 (context :Proxy.Context) -> (result :Int32);
    countBlocking @37 (context :Proxy.Context) -> (result :Int32);

    # Optional results: hasX and wantX.
    maybe @38 (context :Proxy.Context, want :Bool) -> (result :S.Point, hasResult :Bool);
    divide @39 (context :Proxy.Context, a :Int32, b :Int32, wantRemainder :Bool) -> (result :Int32, remainder :Int32);

    # Callbacks inside values: runJob applies job.mapper, then each of job.then, to value
    # (a null mapper is skipped); makeJob returns a Job whose mapper adds offset and whose
    # then doubles, both served by the server.
    runJob @40 (context :Proxy.Context, job :Job, value :Int32) -> (result :Int32);
    makeJob @41 (context :Proxy.Context, offset :Int32) -> (result :Job);

    # Edge values of the value constructs (empty, defaults, extremes, nesting).
    const fixtures :Fixtures = (
        scalars = [
            (),
            (b = false, i8 = 0, i16 = 0, i32 = 0, i64 = 0, u8 = 0, u16 = 0, u32 = 0, u64 = 0,
             f32 = 0, f64 = 0, text = "", data = "", color = red, ints = [], point = (), plain = 0),
            (b = true, i8 = 127, i16 = 32767, i32 = 2147483647, i64 = 9223372036854775807,
             u8 = 255, u16 = 65535, u32 = 4294967295, u64 = 18446744073709551615,
             f32 = 3.4028234e38, f64 = 1.7976931348623157e308,
             text = "NUL \x00 and UTF-8 \xc3\xa9 \xe2\x82\xac", data = 0x"00 01 fe ff",
             color = green, ints = [-2147483648, 0, 2147483647], point = (x = -1, y = 1), plain = -1),
            (i8 = -128, i16 = -32768, i32 = -2147483648, i64 = -9223372036854775808,
             f32 = -inf, f64 = inf, plain = -2147483648)
        ],
        shapes = [
            (),
            (color = blue, colors = [red, green, blue], matrix = [[], [1], [2, 3]],
             words = [["a", ""], []], flags = [true, false, true, true, false, false, false, false, true],
             voids = [void, void, void], empty = (), empties = [(), ()],
             group = (a = 7, b = "grouped"), shape = (square = (x = 3, y = 4)), number = -5,
             tree = (value = 1, children = [(value = 2), (value = 3, children = [(value = 4)])],
                     next = (value = 5, next = (value = 6, next = (value = 7, next = (value = 8))))),
             nested = (kind = large, label = "inner"), kind = large),
            (shape = (circle = 2.5), label = "", tree = (value = -1)),
            (shape = (none = void), nothing = void)
        ],
        choice = [
            (none = void),
            (count = 4294967295),
            (name = ""),
            (name = "named"),
            (point = (x = 9, y = -9)),
            (tree = (value = 1, next = (value = 2)))
        ],
        generics = [
            (),
            (textData = (key = "k", value = 0x"beef"),
             textList = (key = "list", value = ["a", "b", ""]),
             deep = [(key = "outer", value = [(key = "inner", value = ["x", "y"]), (key = "empty", value = [])])],
             result = (value = (text = "ok")),
             failed = (error = (code = 7, message = "failed")),
             void = (error = (code = 1, message = "void failed")),
             ok = (value = 0x"01"),
             err = (error = (code = 2, message = "err")),
             counts = [(key = 0x"aa", value = -1), (key = 0x"bb", value = 9223372036854775807), (key = 0x"aa", value = 0)],
             nested = (key = "n", value = (key = "", value = [(x = 1, y = 2), (x = 3, y = 4)])))
        ],
        keywords = [
            (),
            (type = 1, self = "self", match = true, fn = [1, 2], which = 3, await = 4),
            (async = void)
        ],
        annotated = [
            (),
            (hidden = 0x"0123456789abcdef", renamed = 42, plain = "plain")
        ]
    );
}
