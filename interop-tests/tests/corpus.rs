//! The schema-corpus leg (`mphub-interop corpus`): every `.capnp` of a folder is
//! generated, compiled and smoke-run (every interface served with nothing implemented,
//! every method called, each answering the unimplemented error that names its
//! interface and method).
//!
//! Always run on mphub's own corpus (`schema/corpus/api`, which imports across folders
//! and extends across files). `MPHUB_SCHEMA_CORPUS=DIR[:DIR...]` adds folders of other
//! people's schemas, kept outside the repository (see README).

use std::path::PathBuf;

use mphub_interop::corpus;

fn check(dir: &std::path::Path) {
    let report = corpus::run_folder(dir).unwrap_or_else(|e| panic!("{}: {e:#}", dir.display()));
    println!("{}", report.line());
    assert!(
        report.failures.is_empty(),
        "{}:\n{}",
        dir.display(),
        report.failures.join("\n")
    );
    assert!(report.interfaces > 0, "{}: no interface", dir.display());
    assert_eq!(report.passed, report.methods, "{}", dir.display());
}

#[test]
fn own_corpus_generates_compiles_and_answers() {
    check(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schema/corpus/api"));
}

#[test]
fn foreign_corpora_generate_compile_and_answer() {
    let Some(dirs) = std::env::var_os("MPHUB_SCHEMA_CORPUS") else {
        println!(
            "SKIPPED: MPHUB_SCHEMA_CORPUS is not set (a `:`-separated list of folders of \
             libmultiprocess-annotated .capnp files, e.g. local copies of libmultiprocess's \
             test/mp/test and example folders and Bitcoin Core PR #29409's src/ipc/capnp)"
        );
        return;
    };
    for dir in std::env::split_paths(&dirs) {
        check(&dir);
    }
}
