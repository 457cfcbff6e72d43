//! The demo node against the recorded answers of a real `bitcoin-node` (issue 12), and,
//! with `MPHUB_BITCOIN_NODE` set, against the real node live.
//!
//! - `demo_node_matches_the_recorded_<schema>`: runs in CI without a node.
//! - `real_nodes_match_fixture_and_demo`: for every binary in `MPHUB_BITCOIN_NODE`
//!   (`:`-separated), runs the session against it and compares it with the demo node run
//!   in the same way and with the fixture of its schema; `MPHUB_DIFFERENTIAL_RECORD=1`
//!   rewrites the fixture from the real node (keeping its normalisations) first.

use mphub_bitcoin::CoreVersion;
use mphub_interop::differential::{compare, fixture_path, nodes, Divergence, Fixture, MOCKTIME};

fn report(what: &str, divergences: &[Divergence], compared: usize) {
    println!(
        "{what}: {compared} steps compared, {} divergences",
        divergences.len()
    );
    for d in divergences {
        println!("  {d}");
    }
}

fn demo_against_fixture(version: CoreVersion) {
    let path = fixture_path(version);
    let fixture = Fixture::load(&path).unwrap();
    assert_eq!(fixture.schema, version.as_str(), "{}", path.display());
    let demo = nodes::run_demo(version, fixture.mocktime).unwrap();
    let d = compare(&fixture.recording, &demo, &fixture.normalised);
    report(
        &format!(
            "demo node ({version}) vs {} recorded",
            fixture.recorded_from
        ),
        &d,
        fixture.recording.steps.len(),
    );
    assert!(
        d.is_empty(),
        "{} divergences from {}",
        d.len(),
        path.display()
    );
}

#[test]
fn demo_node_matches_the_recorded_master() {
    demo_against_fixture(CoreVersion::Master);
}

#[test]
fn demo_node_matches_the_recorded_v31() {
    demo_against_fixture(CoreVersion::V31);
}

#[test]
fn demo_node_matches_the_recorded_pr29409_chain() {
    demo_against_fixture(CoreVersion::Pr29409);
}

/// The harness's self-test: a deliberately changed answer must be caught.
#[test]
fn a_changed_answer_fails_the_comparison() {
    let fixture = Fixture::load(&fixture_path(CoreVersion::Master)).unwrap();
    let demo = nodes::run_demo(CoreVersion::Master, fixture.mocktime).unwrap();
    assert!(compare(&fixture.recording, &demo, &fixture.normalised).is_empty());
    let mut changed = demo.clone();
    let step = changed
        .steps
        .iter_mut()
        .find(|s| s.step == "Mining.checkBlock 3 bytes")
        .expect("the session has this step");
    step.answer["reason"] = "something else".into();
    let d = compare(&fixture.recording, &changed, &fixture.normalised);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(
        (d[0].step.as_str(), d[0].field.as_str()),
        ("Mining.checkBlock 3 bytes", "/reason")
    );
    // A normalised field changed is not a divergence; removed, it is.
    let n = fixture
        .normalised
        .first()
        .expect("the fixture normalises something");
    let mut changed = demo.clone();
    let step = changed.steps.iter_mut().find(|s| s.step == n.step).unwrap();
    let field = step
        .answer
        .pointer_mut(&n.field)
        .expect("normalised field present");
    *field = "changed".into();
    assert!(compare(&fixture.recording, &changed, &fixture.normalised).is_empty());
}

#[test]
fn real_nodes_match_fixture_and_demo() {
    let Some(binaries) = std::env::var_os("MPHUB_BITCOIN_NODE") else {
        println!("SKIPPED: MPHUB_BITCOIN_NODE is not set (`:`-separated bitcoin-node binaries built with IPC)");
        return;
    };
    let record = std::env::var_os("MPHUB_DIFFERENTIAL_RECORD").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for binary in std::env::split_paths(&binaries).filter(|p| !p.as_os_str().is_empty()) {
        let real = nodes::run_real(&binary, MOCKTIME).unwrap();
        let path = fixture_path(real.version);
        let mut fixture = Fixture::load(&path).unwrap();
        if record {
            fixture.recorded_from = real.user_agent.clone();
            fixture.mocktime = MOCKTIME;
            fixture.recording = real.recording.clone();
            fixture.save(&path).unwrap();
            println!(
                "recorded {} ({}) into {}",
                real.user_agent,
                real.version,
                path.display()
            );
        }
        let demo = nodes::run_demo(real.version, MOCKTIME).unwrap();
        let live = compare(&real.recording, &demo, &fixture.normalised);
        report(
            &format!("demo node ({}) vs live {}", real.version, real.user_agent),
            &live,
            real.recording.steps.len(),
        );
        let recorded = compare(&fixture.recording, &real.recording, &fixture.normalised);
        report(
            &format!(
                "live {} vs fixture ({})",
                real.user_agent, fixture.recorded_from
            ),
            &recorded,
            fixture.recording.steps.len(),
        );
        if !live.is_empty() || !recorded.is_empty() {
            failures.push(binary.display().to_string());
        }
    }
    assert!(failures.is_empty(), "divergences with {failures:?}");
}
