//! One test per construct of the corpus: the generated code compiled and run, Rust
//! client ⇄ Rust server over a real unix socket, at edge values. The first tests check
//! mphub's decoding and encoding against the capnp compiler's, with no peer involved.

use std::path::PathBuf;
use std::process::Command;

use capnp::{any_pointer, dynamic_value};
use mphub::wire::{Value, WriteCx};
use mphub_corpus_peer::corpus::corpus::{self as api, CorpusClient, CorpusServer};
use mphub_corpus_peer::server::CorpusImpl;
use mphub_corpus_peer::{client, fixtures};

/// capnpc's plain code for the corpus (see build.rs): capnp-rust's own reflection.
#[allow(clippy::all, dead_code, unused, missing_docs)]
mod raw {
    pub mod corpus_capnp {
        include!(concat!(env!("OUT_DIR"), "/raw/corpus/api/corpus_capnp.rs"));
    }
    pub mod base_capnp {
        include!(concat!(env!("OUT_DIR"), "/raw/corpus/api/base_capnp.rs"));
    }
    pub mod shapes_capnp {
        include!(concat!(
            env!("OUT_DIR"),
            "/raw/corpus/types/shapes_capnp.rs"
        ));
    }
    pub mod generic_capnp {
        include!(concat!(
            env!("OUT_DIR"),
            "/raw/corpus/types/generic_capnp.rs"
        ));
    }
}

fn schema_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schema")
}

/// `Corpus.fixtures` as the capnp compiler encodes it (`capnp eval --binary`).
fn compiler_fixtures() -> capnp::message::Reader<capnp::serialize::OwnedSegments> {
    let root = schema_root();
    let out = Command::new(std::env::var("CAPNP").unwrap_or_else(|_| "capnp".into()))
        .arg("eval")
        .arg("--binary")
        .arg(format!("--import-path={}", root.display()))
        .arg(root.join("corpus/api/corpus.capnp"))
        .arg("Corpus.fixtures")
        .output()
        .expect("running capnp eval (is capnproto installed? see depends/install.sh)");
    assert!(
        out.status.success(),
        "capnp eval failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut bytes = &out.stdout[..];
    capnp::serialize::read_message(&mut bytes, capnp::message::ReaderOptions::new()).unwrap()
}

/// `value` encoded by mphub as the root of a message.
fn encode<T: Value>(value: &T) -> capnp::message::Builder<capnp::message::HeapAllocator> {
    let mut message = capnp::message::Builder::new_default();
    value
        .write(
            message.init_root::<any_pointer::Builder<'_>>(),
            &WriteCx::detached(),
        )
        .unwrap();
    message
}

fn same<T: PartialEq + std::fmt::Debug>(a: T, b: T, at: &str) -> Result<(), String> {
    if a == b {
        Ok(())
    } else {
        Err(format!("{at}: {a:?} vs {b:?}"))
    }
}

fn name(field: capnp::schema::Field) -> String {
    field
        .get_proto()
        .get_name()
        .ok()
        .and_then(|n| n.to_str().ok())
        .unwrap_or("?")
        .to_string()
}

/// Compares two values through capnp-rust's reflection (which applies schema defaults,
/// so a null pointer equals an empty or default value); says where they differ.
fn dynamic_eq(
    a: dynamic_value::Reader<'_>,
    b: dynamic_value::Reader<'_>,
    at: &str,
) -> Result<(), String> {
    use dynamic_value::Reader as V;
    let e = |e: capnp::Error| format!("{at}: {e}");
    match (a, b) {
        (V::Struct(a), V::Struct(b)) => {
            for field in a.get_schema().get_non_union_fields().map_err(e)? {
                // Two unset pointers are equal (and reading them would recurse forever
                // into the defaults of a recursive struct).
                if !a.has(field).map_err(e)? && !b.has(field).map_err(e)? {
                    continue;
                }
                let at = format!("{at}.{}", name(field));
                dynamic_eq(a.get(field).map_err(e)?, b.get(field).map_err(e)?, &at)?;
            }
            match (
                a.which().map_err(|x| format!("{at}: {x}"))?,
                b.which().map_err(|x| format!("{at}: {x}"))?,
            ) {
                (None, None) => Ok(()),
                (Some(fa), Some(fb)) if fa.get_index() == fb.get_index() => {
                    if !a.has(fa).map_err(e)? && !b.has(fb).map_err(e)? {
                        return Ok(());
                    }
                    let at = format!("{at}.{}", name(fa));
                    dynamic_eq(a.get(fa).map_err(e)?, b.get(fb).map_err(e)?, &at)
                }
                (fa, fb) => Err(format!(
                    "{at}: union member {:?} vs {:?}",
                    fa.map(name),
                    fb.map(name)
                )),
            }
        }
        (V::List(a), V::List(b)) => {
            same(a.len(), b.len(), &format!("{at} length"))?;
            for i in 0..a.len() {
                dynamic_eq(
                    a.get(i).map_err(e)?,
                    b.get(i).map_err(e)?,
                    &format!("{at}[{i}]"),
                )?;
            }
            Ok(())
        }
        (V::Text(a), V::Text(b)) => same(a.as_bytes(), b.as_bytes(), at),
        (V::Data(a), V::Data(b)) => same(a, b, at),
        (V::Enum(a), V::Enum(b)) => same(a.get_value(), b.get_value(), at),
        (V::Void, V::Void) => Ok(()),
        (V::Bool(a), V::Bool(b)) => same(a, b, at),
        (V::Int8(a), V::Int8(b)) => same(a, b, at),
        (V::Int16(a), V::Int16(b)) => same(a, b, at),
        (V::Int32(a), V::Int32(b)) => same(a, b, at),
        (V::Int64(a), V::Int64(b)) => same(a, b, at),
        (V::UInt8(a), V::UInt8(b)) => same(a, b, at),
        (V::UInt16(a), V::UInt16(b)) => same(a, b, at),
        (V::UInt32(a), V::UInt32(b)) => same(a, b, at),
        (V::UInt64(a), V::UInt64(b)) => same(a, b, at),
        (V::Float32(a), V::Float32(b)) => same(a.to_bits(), b.to_bits(), at),
        (V::Float64(a), V::Float64(b)) => same(a.to_bits(), b.to_bits(), at),
        (V::AnyPointer(a), V::AnyPointer(b)) => same(a.is_null(), b.is_null(), at),
        _ => Err(format!("{at}: values of different kinds")),
    }
}

#[test]
fn fixtures_decode_as_written_in_rust() {
    // The generated constant decodes the compiler's bytes with mphub's decoder; it must
    // equal the values written out by hand in Rust.
    let all = api::corpus_fixtures();
    assert_eq!(all.scalars, fixtures::scalars());
    assert_eq!(all.shapes, fixtures::shapes());
    assert_eq!(all.choice, fixtures::choice());
    assert_eq!(all.generics, fixtures::generics());
    assert_eq!(all.keywords, fixtures::keywords());
    assert_eq!(all.annotated, fixtures::annotated());
}

#[test]
fn encoding_matches_the_capnp_compiler() {
    // The Rust fixtures encoded by mphub, read back by capnp-rust's reflection, equal
    // the compiler's encoding of the schema constant read the same way.
    let ours = encode(&api::Fixtures {
        scalars: fixtures::scalars(),
        shapes: fixtures::shapes(),
        choice: fixtures::choice(),
        generics: fixtures::generics(),
        keywords: fixtures::keywords(),
        annotated: fixtures::annotated(),
    });
    let ours: raw::corpus_capnp::fixtures::Reader<'_> = ours.get_root_as_reader().unwrap();
    let compiled = compiler_fixtures();
    let theirs: raw::corpus_capnp::fixtures::Reader<'_> = compiled.get_root().unwrap();
    if let Err(e) = dynamic_eq(ours.into(), theirs.into(), "fixtures") {
        panic!("mphub's encoding differs from the capnp compiler's at {e}");
    }
}

/// A Rust corpus server on a fresh socket and a client connected to it.
struct Pair {
    _dir: tempfile::TempDir,
    _server_rt: mphub::Runtime,
    _listener: mphub::Listener,
    client: CorpusClient,
}

async fn pair() -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corpus.sock");
    let server_rt = mphub::Runtime::new().unwrap();
    let listener = mphub::listen(&server_rt, &path, CorpusImpl.into_cap()).unwrap();
    let client_rt = mphub::Runtime::new().unwrap();
    let client = mphub::connect(&client_rt, &path).await.unwrap();
    Pair {
        _dir: dir,
        _server_rt: server_rt,
        _listener: listener,
        client,
    }
}

async fn scenario(name: &str) {
    let p = pair().await;
    if let Err(e) = client::run(&p.client, name).await {
        panic!("corpus scenario {name}: {e:#}");
    }
}

macro_rules! construct_tests {
    ($($test:ident => $scenario:literal,)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            scenario($scenario).await;
        }
    )*};
}

construct_tests! {
    primitives_and_defaults_on_every_type => "scalars",
    enums_groups_unions_nested_lists_recursion => "shapes",
    union_only_struct_as_rust_enum => "choice",
    generics_bound_to_every_pointer_kind => "generics",
    rust_keywords_and_generated_names_in_fields => "keywords",
    proxy_skip_name_and_count_zero_struct => "annotated",
    large_deep_and_anypointer_values => "large",
    interfaces_returned_and_inherited_across_files => "interfaces",
    extends_two_levels_and_derived_as_base => "extends",
    lists_of_interfaces_both_ways => "interface-lists",
    interfaces_inside_structs_lists_and_generics => "interface-structs",
    callbacks_inside_structs_and_lists_both_ways => "callback-structs",
    several_declared_exceptions_in_one_method => "exceptions",
    in_out_params_of_different_types => "in-out",
    proxy_count_n_param => "count-param",
    void_param => "void-param",
    methods_without_context_both_ways => "no-context",
    ordinals_out_of_declaration_order => "ordinals",
    method_names_rust_or_mphub_use => "names",
    has_and_want_optional_results => "optional",
}

#[test]
fn every_scenario_has_a_test() {
    let source = include_str!("constructs.rs");
    for s in client::SCENARIOS {
        assert!(
            source.contains(&format!("=> \"{s}\"")),
            "scenario {s} has no test"
        );
    }
}

#[test]
fn generic_struct_helpers_convert_to_std_types() {
    use mphub::Text;
    use mphub_corpus_peer::corpus::generic::{Expected, Failure, Pair, Result as Res, ResultVoid};
    use std::collections::BTreeMap;

    // A map travels as List(Pair(K, V)): order and duplicates kept, tuples on request.
    let entries: Vec<Pair<Text, Vec<u8>>> =
        vec![("a".into(), vec![1]).into(), ("a".into(), vec![2]).into()];
    let pairs: Vec<(Text, Vec<u8>)> = entries.clone().into_iter().map(Into::into).collect();
    assert_eq!(pairs, vec![("a".into(), vec![1]), ("a".into(), vec![2])]);
    let map: BTreeMap<Text, Vec<u8>> = entries.into_iter().map(Into::into).collect();
    assert_eq!(map.len(), 1, "a map keeps the last duplicate");

    let failure = Failure {
        code: 3,
        message: "no".into(),
    };
    let ok: Res<Text> = Ok::<Text, Failure>("yes".into()).into();
    assert_eq!(ok.clone().into_result(), Ok(Text::from("yes")));
    let err: Res<Text> = Err(failure.clone()).into();
    assert_eq!(err.into_result(), Err(failure.clone()));
    let void: ResultVoid = Err(failure.clone()).into();
    assert_eq!(void.into_result(), Err(failure.clone()));
    assert_eq!(ResultVoid::default().into_result(), Ok(()));
    let expected: Expected<Vec<u8>, Failure> = Ok(vec![9]).into();
    assert_eq!(expected.into_result(), Ok(vec![9]));
    let expected: Expected<Vec<u8>, Failure> = Err(failure.clone()).into();
    assert_eq!(expected.into_result(), Err(failure));
}
