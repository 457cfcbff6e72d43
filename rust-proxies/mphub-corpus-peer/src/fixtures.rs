//! The corpus fixtures written out in Rust: the same values as the schema's
//! `Corpus.fixtures` constant, which the capnp compiler encodes. Comparing the two
//! checks mphub's decoding (constant → Rust) and encoding (Rust → bytes) against the
//! compiler's.

use mphub::Text;

use crate::corpus::generic::{Expected, Failure, Pair, PairInt64, Result as Res, ResultVoid};
use crate::corpus::shapes::{
    Annotated, Choice, Color, Empty, Generics, Keywords, KeywordsWhich, OuterInner, OuterKind,
    Point, Scalars, Shapes, ShapesGroup, ShapesShape, ShapesWhich, Tree,
};

fn t(s: &str) -> Text {
    Text::from(s)
}

fn leaf(value: i32) -> Tree {
    Tree {
        value,
        ..Tree::default()
    }
}

/// `fixtures.scalars`: defaults, zeros, maxima, minima.
pub fn scalars() -> Vec<Scalars> {
    vec![
        Scalars::default(),
        Scalars {
            b: false,
            i8: 0,
            i16: 0,
            i32: 0,
            i64: 0,
            u8: 0,
            u16: 0,
            u32: 0,
            u64: 0,
            f32: 0.0,
            f64: 0.0,
            text: t(""),
            data: vec![],
            color: Color::Red,
            ints: vec![],
            point: Some(Point::default()),
            plain: 0,
        },
        Scalars {
            b: true,
            i8: i8::MAX,
            i16: i16::MAX,
            i32: i32::MAX,
            i64: i64::MAX,
            u8: u8::MAX,
            u16: u16::MAX,
            u32: u32::MAX,
            u64: u64::MAX,
            f32: f32::MAX,
            f64: f64::MAX,
            text: Text::from_bytes("NUL \0 and UTF-8 é €".as_bytes()),
            data: vec![0x00, 0x01, 0xfe, 0xff],
            color: Color::Green,
            ints: vec![i32::MIN, 0, i32::MAX],
            point: Some(Point { x: -1, y: 1 }),
            plain: -1,
        },
        Scalars {
            i8: i8::MIN,
            i16: i16::MIN,
            i32: i32::MIN,
            i64: i64::MIN,
            f32: f32::NEG_INFINITY,
            f64: f64::INFINITY,
            plain: i32::MIN,
            ..Scalars::default()
        },
    ]
}

/// `fixtures.shapes`: enums, nested lists, groups, unions, recursion, nesting.
pub fn shapes() -> Vec<Shapes> {
    let tree = Tree {
        value: 1,
        children: vec![
            leaf(2),
            Tree {
                value: 3,
                children: vec![leaf(4)],
                next: None,
            },
        ],
        next: Some(Box::new(Tree {
            value: 5,
            next: Some(Box::new(Tree {
                value: 6,
                next: Some(Box::new(Tree {
                    value: 7,
                    next: Some(Box::new(leaf(8))),
                    ..Tree::default()
                })),
                ..Tree::default()
            })),
            ..Tree::default()
        })),
    };
    vec![
        Shapes::default(),
        Shapes {
            color: Color::Blue,
            colors: vec![Color::Red, Color::Green, Color::Blue],
            matrix: vec![vec![], vec![1], vec![2, 3]],
            words: vec![vec![t("a"), t("")], vec![]],
            flags: vec![true, false, true, true, false, false, false, false, true],
            voids: vec![(), (), ()],
            empty: Some(Empty {}),
            empties: vec![Empty {}, Empty {}],
            group: ShapesGroup {
                a: 7,
                b: t("grouped"),
            },
            shape: ShapesShape::Square(Some(Point { x: 3, y: 4 })),
            tree: Some(tree),
            any: Default::default(),
            nested: Some(OuterInner {
                kind: OuterKind::Large,
                label: t("inner"),
            }),
            kind: OuterKind::Large,
            which: ShapesWhich::Number(-5),
        },
        Shapes {
            shape: ShapesShape::Circle(2.5),
            which: ShapesWhich::Label(t("")),
            tree: Some(leaf(-1)),
            ..Shapes::default()
        },
        Shapes {
            shape: ShapesShape::None,
            which: ShapesWhich::Nothing,
            ..Shapes::default()
        },
    ]
}

/// `fixtures.choice`: every member of a union-only struct.
pub fn choice() -> Vec<Choice> {
    vec![
        Choice::None,
        Choice::Count(u32::MAX),
        Choice::Name(t("")),
        Choice::Name(t("named")),
        Choice::Point(Some(Point { x: 9, y: -9 })),
        Choice::Tree(Some(Tree {
            value: 1,
            next: Some(Box::new(leaf(2))),
            ..Tree::default()
        })),
    ]
}

/// `fixtures.generics`: generic structs with every kind of binding.
pub fn generics() -> Vec<Generics> {
    vec![
        Generics::default(),
        Generics {
            text_data: Some(Pair {
                key: t("k"),
                value: vec![0xbe, 0xef],
            }),
            text_list: Some(Pair {
                key: t("list"),
                value: vec![t("a"), t("b"), t("")],
            }),
            deep: vec![Pair {
                key: t("outer"),
                value: vec![
                    Pair {
                        key: t("inner"),
                        value: vec![t("x"), t("y")],
                    },
                    Pair {
                        key: t("empty"),
                        value: vec![],
                    },
                ],
            }],
            result: Some(Res {
                value: Scalars {
                    text: t("ok"),
                    ..Scalars::default()
                },
                error: None,
            }),
            failed: Some(Res {
                value: t(""),
                error: Some(Failure {
                    code: 7,
                    message: t("failed"),
                }),
            }),
            void: Some(ResultVoid {
                error: Some(Failure {
                    code: 1,
                    message: t("void failed"),
                }),
            }),
            ok: Some(Expected::Value(vec![0x01])),
            err: Some(Expected::Error(Failure {
                code: 2,
                message: t("err"),
            })),
            counts: vec![
                PairInt64 {
                    key: vec![0xaa],
                    value: -1,
                },
                PairInt64 {
                    key: vec![0xbb],
                    value: i64::MAX,
                },
                PairInt64 {
                    key: vec![0xaa],
                    value: 0,
                },
            ],
            nested: Some(Pair {
                key: t("n"),
                value: Pair {
                    key: vec![],
                    value: vec![Point { x: 1, y: 2 }, Point { x: 3, y: 4 }],
                },
            }),
            unbound: None,
        },
    ]
}

/// `fixtures.keywords`: fields named like Rust keywords and mphub's own items.
pub fn keywords() -> Vec<Keywords> {
    vec![
        Keywords::default(),
        Keywords {
            r#type: 1,
            self_: t("self"),
            r#match: true,
            r#fn: vec![1, 2],
            which_: 3,
            which: KeywordsWhich::Await(4),
        },
        Keywords {
            which: KeywordsWhich::Async,
            ..Keywords::default()
        },
    ]
}

/// `fixtures.annotated`: `$Proxy.skip` and `$Proxy.name` fields.
pub fn annotated() -> Vec<Annotated> {
    vec![
        Annotated::default(),
        Annotated {
            hidden: vec![0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef],
            renamed: 42,
            plain: t("plain"),
        },
    ]
}
