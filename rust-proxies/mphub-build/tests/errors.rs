//! Nothing silent: a construct mphub-build cannot map fails generation with a message
//! naming the schema file, the declaration and the field or method, in words.

use std::path::{Path, PathBuf};

/// A folder of schema files, removed when dropped.
struct SchemaDir(tempfile::TempDir);

impl std::ops::Deref for SchemaDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for SchemaDir {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

fn schema_dir(name: &str, files: &[(&str, &str)]) -> SchemaDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("mphub-build-errors-{name}-"))
        .tempdir()
        .expect("a temporary folder");
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    SchemaDir(dir)
}

fn generate(dir: &Path, file: &str) -> Result<String, String> {
    let out = mphub_build::Builder::new(dir)
        .file(file)
        .generate()
        .map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(dir);
    out
}

fn refused(name: &str, body: &str, want: &[&str]) {
    let text = format!("@0xc0ffee0123456789;\nusing Proxy = import \"/mp/proxy.capnp\";\n{body}\n");
    let dir = schema_dir(name, &[("bad.capnp", &text)]);
    let err = generate(&dir, "bad.capnp").expect_err("generation must fail");
    for w in want {
        assert!(
            err.contains(w),
            "{name}: error {err:?} does not contain {w:?}"
        );
    }
    assert!(
        !err.contains("0x"),
        "{name}: error names a node ID instead of words: {err}"
    );
}

#[test]
fn generic_interface_is_refused_by_name() {
    refused(
        "generic-interface",
        "interface Store(T) { get @0 () -> (value :T); }",
        &["bad.capnp", "interface Store", "generic interfaces"],
    );
}

#[test]
fn generic_method_is_refused_by_name() {
    refused(
        "generic-method",
        "interface Box { put @0 [T] (value :T) -> (); }",
        &[
            "bad.capnp",
            "interface Box",
            "method put",
            "generic methods",
        ],
    );
}

#[test]
fn capability_anypointer_is_refused_by_name() {
    refused(
        "any-capability",
        "struct Holder { cap @0 :Capability; }",
        &["bad.capnp", "struct Holder", "field cap", "Capability"],
    );
}

#[test]
fn nested_use_of_an_outer_generic_parameter_is_refused_by_name() {
    refused(
        "nested-generic",
        "struct Outer(T) { struct Inner { value @0 :T; } inner @0 :Inner; }",
        &[
            "bad.capnp",
            "Outer.Inner",
            "field value",
            "nested declarations of generic structs",
        ],
    );
}

#[test]
fn thread_fields_are_refused_by_name() {
    refused(
        "thread-field",
        "struct Bad { thread @0 :Proxy.Thread; }",
        &["bad.capnp", "struct Bad", "field thread", "Proxy.Thread"],
    );
}

#[test]
fn compiler_errors_name_the_file() {
    let dir = schema_dir(
        "syntax",
        &[("broken.capnp", "@0xc0ffee0123456789;\nstruct {")],
    );
    let err = generate(&dir, "broken.capnp").expect_err("must fail");
    assert!(err.contains("broken.capnp"), "{err}");
}

#[test]
fn imports_across_folders_and_bundled_files_resolve() {
    // `../` imports and `/mp/proxy.capnp` / `/capnp/c++.capnp` (bundled by mphub-build).
    let dir = schema_dir(
        "imports",
        &[
            (
                "api/api.capnp",
                "@0xc0ffee012345678a;\nusing Cxx = import \"/capnp/c++.capnp\";\n$Cxx.namespace(\"x\");\n\
                 using Proxy = import \"/mp/proxy.capnp\";\nusing T = import \"../types/types.capnp\";\n\
                 interface Api { get @0 (context :Proxy.Context) -> (result :T.Thing); }\n",
            ),
            ("types/types.capnp", "@0xc0ffee012345678b;\nstruct Thing { n @0 :Int32; }\n"),
        ],
    );
    let code = generate(&dir, "api/api.capnp").expect("generation");
    assert!(code.contains("pub mod api"), "a module per file");
    assert!(
        code.contains("pub mod types"),
        "imported files are generated too"
    );
    assert!(
        code.contains("super::types::Thing"),
        "cross-file references"
    );
}

#[test]
fn generated_code_stays_within_120_columns() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schema");
    for file in [
        "test/test.capnp",
        "corpus/api/corpus.capnp",
        "bitcoin/master/init.capnp",
    ] {
        let code = mphub_build::Builder::new(&root)
            .file(file)
            .generate()
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let longest = code.lines().map(str::len).max().unwrap_or(0);
        assert!(
            longest <= 120,
            "{file}: a generated line has {longest} characters"
        );
        assert!(
            code.starts_with("// @generated by mphub-build"),
            "{file}: marked generated"
        );
    }
}

#[test]
fn cxx_bridge_refuses_what_it_cannot_map_by_name() {
    let dir = schema_dir(
        "cxx",
        &[(
            "u.capnp",
            "@0xc0ffee012345678c;\nusing Proxy = import \"/mp/proxy.capnp\";\n\
             struct Shape { union { a @0 :Int32; b @1 :Text; } }\n\
             interface Drawer $Proxy.wrap(\"Drawer\") { draw @0 (context :Proxy.Context, shape :Shape) -> (); }\n",
        )],
    );
    let err = mphub_build::CxxBuilder::new(&dir)
        .file("u.capnp")
        .proxies("::x")
        .out_dir(dir.join("out"))
        .run()
        .expect_err("the C++ bridge must refuse a union");
    let err = err.to_string();
    for w in ["u.capnp", "interface Drawer", "method draw", "union"] {
        assert!(err.contains(w), "{err:?} does not contain {w:?}");
    }
}

#[test]
fn cxx_bridge_maps_enums_and_groups_only_with_generated_types() {
    let dir = schema_dir(
        "cxx-enum",
        &[(
            "e.capnp",
            "@0xc0ffee012345678d;\nusing Proxy = import \"/mp/proxy.capnp\";\n\
             enum Color { red @0; green @1; }\n\
             struct Pixel $Proxy.wrap(\"Pixel\") { color @0 :Color; pos :group { x @1 :Int32; y @2 :Int32; } }\n\
             interface Painter $Proxy.wrap(\"Painter\") { paint @0 (context :Proxy.Context, pixel :Pixel) -> (); }\n",
        )],
    );
    let builder = || {
        mphub_build::CxxBuilder::new(&dir)
            .file("e.capnp")
            .proxies("::x")
            .out_dir(dir.join("out"))
    };
    let err = builder()
        .run()
        .expect_err("without generated types the C++ bridge must refuse an enum")
        .to_string();
    for w in [
        "e.capnp",
        "interface Painter",
        "method paint",
        "field pixel",
        "field color",
        "enum",
    ] {
        assert!(err.contains(w), "{err:?} does not contain {w:?}");
    }
    let out = builder()
        .generate_types(Some("paint"))
        .run()
        .expect("with generated types an enum maps to an enum class");
    let types = std::fs::read_to_string(out.types_header.expect("a types header")).unwrap();
    assert!(
        types.contains("enum class Color : std::uint16_t { red = 0, green = 1 };")
            && types.contains("    ::paint::Color color{0};")
            && types
                .contains("struct PixelPos\n{\n    std::int32_t x{0};\n    std::int32_t y{0};\n")
            && types.contains("friend bool operator==(const PixelPos& a, const PixelPos& b) { return a.x == b.x && a.y == b.y; }")
            && types.contains("    ::paint::PixelPos pos{};"),
        "{types}"
    );
}

#[test]
fn cxx_bridge_refuses_a_group_without_generated_types_by_name() {
    let dir = schema_dir(
        "cxx-group",
        &[(
            "g.capnp",
            "@0xc0ffee012345678e;\nusing Proxy = import \"/mp/proxy.capnp\";\n\
             struct Box $Proxy.wrap(\"Box\") { size :group { w @0 :Int32; h @1 :Int32; } }\n\
             interface Packer $Proxy.wrap(\"Packer\") { pack @0 (context :Proxy.Context, box :Box) -> (); }\n",
        )],
    );
    let err = mphub_build::CxxBuilder::new(&dir)
        .file("g.capnp")
        .proxies("::x")
        .out_dir(dir.join("out"))
        .run()
        .expect_err("without generated types the C++ bridge must refuse a group")
        .to_string();
    for w in [
        "g.capnp",
        "interface Packer",
        "method pack",
        "field box",
        "field size",
        "group",
    ] {
        assert!(err.contains(w), "{err:?} does not contain {w:?}");
    }
}

/// A recursive struct (a tree through a list and a field) reached by a method: the C++
/// bridge once recursed without end checking it (stack overflow). Without generated
/// types it is refused by name (no header type can hold the boxed field); with them the
/// field is `mphub::cxx::Boxed<Tree>` and the list a `std::vector<Tree>`.
#[test]
fn cxx_bridge_answers_on_recursive_structs() {
    let dir = schema_dir(
        "cxx-tree",
        &[(
            "t.capnp",
            "@0xc0ffee012345678f;\nusing Proxy = import \"/mp/proxy.capnp\";\n\
             struct Tree $Proxy.wrap(\"Tree\") { label @0 :Text; children @1 :List(Tree); next @2 :Tree; }\n\
             interface Forest $Proxy.wrap(\"Forest\") { plant @0 (context :Proxy.Context, tree :Tree) -> (); }\n",
        )],
    );
    let builder = || {
        mphub_build::CxxBuilder::new(&dir)
            .file("t.capnp")
            .proxies("::x")
            .out_dir(dir.join("out"))
    };
    let e = builder()
        .run()
        .expect_err("without generated types a recursive struct is refused by name")
        .to_string();
    for w in [
        "t.capnp",
        "interface Forest",
        "method plant",
        "field tree",
        "struct Tree, field children",
        "recursive",
        "generate_types",
    ] {
        assert!(e.contains(w), "{e:?} does not contain {w:?}");
    }
    let out = builder()
        .generate_types(Some("forest"))
        .run()
        .expect("with generated types a recursive struct maps");
    let types = std::fs::read_to_string(out.types_header.expect("a types header")).unwrap();
    assert!(
        types.contains("    std::vector<::forest::Tree> children{};")
            && types.contains("    ::mphub::cxx::Boxed<::forest::Tree> next{};"),
        "{types}"
    );
}

/// Two callback interfaces named by headers (as Core's `CRPCCommand::Actor`), with
/// generated types: each becomes a `std::function` alias in the types' namespace (also
/// without a configured one, where a qualifier that is a generated class could not hold
/// it), and a struct holding one has no `operator==`.
#[test]
fn cxx_bridge_aliases_header_named_callbacks_and_refuses_clashes_by_name() {
    let schema = |callbacks: &str| {
        format!(
            "@0xc0ffee012345678f;\nusing Proxy = import \"/mp/proxy.capnp\";\n{callbacks}\n\
             struct Command $Proxy.wrap(\"Command\") {{ name @0 :Text; actor @1 :Actor; }}\n\
             interface Table $Proxy.wrap(\"Table\") {{ add @0 (context :Proxy.Context, command :Command) -> (); }}\n"
        )
    };
    let actor = "interface Actor $Proxy.wrap(\"ProxyCallback<Command::Actor>\") { call @0 (context :Proxy.Context, value :Int32) -> (result :Bool); }";
    let run = |name: &str, text: String, ns: Option<&str>| {
        let dir = schema_dir(name, &[("c.capnp", &text)]);
        let out = mphub_build::CxxBuilder::new(&dir)
            .file("c.capnp")
            .proxies("::x")
            .cpp_namespace("demo::cxx")
            .generate_types(ns)
            .out_dir(dir.join("out"))
            .run()
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(std::fs::read_to_string(out.types_header.expect("types")).unwrap())
    };

    for (ns, alias) in [(Some("demo"), "demo"), (None, "demo::cxx")] {
        let types = run("cxx-alias", schema(actor), ns).unwrap();
        assert!(
            types.contains(&format!(
                "namespace {alias} {{\n//! capnp callback interface `Actor`: the function a `ProxyCallback` carries.\nusing Actor = std::function<bool(std::int32_t)>;"
            )),
            "{types}"
        );
        assert!(
            types.contains("    ::std::function<bool(std::int32_t)> actor{};")
                || types.contains(&format!("    ::{alias}::Actor actor{{}};")),
            "the member is the function object: {types}"
        );
        assert!(
            types.contains("No operator==: a callback member")
                && !types.contains("operator==(const Command&"),
            "{types}"
        );
    }

    let other = "interface Other $Proxy.wrap(\"ProxyCallback<Other::Actor>\") { call @0 (context :Proxy.Context, text :Text) -> (); }\n\
                 struct Uses { other @0 :Other; }\n\
                 interface Extra $Proxy.wrap(\"Extra\") { take @0 (context :Proxy.Context, uses :Uses) -> (); }";
    let err = run(
        "cxx-alias-twice",
        schema(&format!("{actor}\n{other}")),
        Some("demo"),
    )
    .expect_err("two callbacks, one alias, two signatures");
    for w in ["Actor", "Other", "demo::Actor", "different signatures"] {
        assert!(err.contains(w), "{err:?} does not contain {w:?}");
    }

    let clash = "interface Actor $Proxy.wrap(\"ProxyCallback<Command>\") { call @0 (context :Proxy.Context, value :Int32) -> (result :Bool); }";
    let err = run("cxx-alias-clash", schema(clash), Some("demo"))
        .expect_err("an alias named like a generated struct");
    for w in ["Actor", "demo::Command", "generated struct or class"] {
        assert!(err.contains(w), "{err:?} does not contain {w:?}");
    }
}
