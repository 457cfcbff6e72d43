# mphub corpus: value shapes (enums, groups, unions, recursion, nesting, defaults,
# names Rust reserves, $Proxy annotations on struct fields).

@0xa00cadfb550ce303;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mphub::corpus::shapes");

using Proxy = import "/mp/proxy.capnp";
using G = import "generic.capnp";

enum Color {
    red @0;
    green @1;
    blue @2;
}

struct Point {
    x @0 :Int32;
    y @1 :Int32;
}

struct Empty {}

# Every primitive, each with a default of its own (on the wire a field holds its value
# XOR-ed with the default), and defaults on pointer fields.
struct Scalars {
    b @0 :Bool = true;
    i8 @1 :Int8 = -8;
    i16 @2 :Int16 = -1600;
    i32 @3 :Int32 = -320000;
    i64 @4 :Int64 = -64000000000;
    u8 @5 :UInt8 = 8;
    u16 @6 :UInt16 = 1600;
    u32 @7 :UInt32 = 320000;
    u64 @8 :UInt64 = 64000000000;
    f32 @9 :Float32 = 1.5;
    f64 @10 :Float64 = -2.25;
    text @11 :Text = "default text";
    data @12 :Data = 0x"00ff10";
    color @13 :Color = blue;
    ints @14 :List(Int32) = [1, 2, 3];
    point @15 :Point = (x = 1, y = 2);
    plain @16 :Int32;
}

# A recursive struct: by pointer and through a list.
struct Tree {
    value @0 :Int32;
    children @1 :List(Tree);
    next @2 :Tree;
}

struct Outer {
    inner @0 :Inner;
    struct Inner {
        kind @0 :Kind;
        label @1 :Text;
    }
    enum Kind {
        small @0;
        large @1;
    }
}

# Enums, nested lists, groups, a named union, an anonymous union beside plain fields.
struct Shapes {
    color @0 :Color;
    colors @1 :List(Color);
    matrix @2 :List(List(Int32));
    words @3 :List(List(Text));
    flags @4 :List(Bool);
    voids @5 :List(Void);
    empty @6 :Empty;
    empties @7 :List(Empty);
    group :group {
        a @8 :Int32;
        b @9 :Text;
    }
    shape :union {
        circle @10 :Float64;
        square @11 :Point;
        none @12 :Void;
    }
    union {
        nothing @13 :Void;
        number @14 :Int64;
        label @15 :Text;
    }
    tree @16 :Tree;
    any @17 :AnyPointer;
    nested @18 :Outer.Inner;
    kind @19 :Outer.Kind;
}

# A struct that is a union and nothing else.
struct Choice {
    union {
        none @0 :Void;
        count @1 :UInt32;
        name @2 :Text;
        point @3 :Point;
        tree @4 :Tree;
    }
}

# Names that are Rust keywords or that mphub itself uses.
struct Keywords {
    type @0 :Int32;
    self @1 :Text;
    match @2 :Bool;
    fn @3 :List(Int32);
    which @4 :UInt8;
    union {
        async @5 :Void;
        await @6 :Int32;
    }
}

# $Proxy annotations on fields: skip and name do not change the wire, and the struct
# is still sent whole although $Proxy.count(0) keeps it out of C++ argument lists.
struct Annotated $Proxy.count(0) {
    hidden @0 :Data $Proxy.skip;
    renamed @1 :Int32 $Proxy.name("m_renamed");
    plain @2 :Text;
}

# Generic structs bound to Text, Data, structs, lists, nested generics, and unbound.
struct Generics {
    textData @0 :G.Pair(Text, Data);
    textList @1 :G.Pair(Text, List(Text));
    deep @2 :List(G.Pair(Text, List(G.Pair(Text, List(Text)))));
    result @3 :G.Result(Scalars);
    failed @4 :G.Result(Text);
    void @5 :G.ResultVoid;
    ok @6 :G.Expected(Data, G.Failure);
    err @7 :G.Expected(Data, G.Failure);
    counts @8 :List(G.PairInt64(Data));
    nested @9 :G.Pair(Text, G.Pair(Data, List(Point)));
    unbound @10 :G.Pair;
}
