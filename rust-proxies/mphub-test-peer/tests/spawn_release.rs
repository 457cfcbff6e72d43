//! A spawned child whose connection fails is reaped and leaves no file descriptor
//! behind (issue 9, defect 5). This test counts the file descriptors of the whole test
//! process, so it is the only test in this binary: any test running beside it opens
//! sockets of its own.

use std::time::Duration;

use mphub_test_peer::test_schema::TestInitClient;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Zombie children of this process.
fn zombies() -> Vec<u32> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split(' ').collect();
        if fields.first() == Some(&"Z") && fields.get(1) == Some(&me.as_str()) {
            out.push(entry.file_name().to_string_lossy().parse().unwrap_or(0));
        }
    }
    out
}

/// Spawns `/bin/true` as a Bitcoin Core-convention child: it exits at once, so the
/// connection fails with a disconnect.
async fn spawn_failing_child(rt: &mphub::Runtime) {
    let err =
        mphub::spawn::<TestInitClient>(rt, "/bin/true", &[], mphub::SpawnConvention::BitcoinCore)
            .await
            .err()
            .expect("a child that exits at once cannot serve");
    assert!(
        err.is_disconnected() || err.to_string().contains("exited"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spawned_child_whose_connection_fails_is_reaped() {
    let rt = mphub::Runtime::new().unwrap();
    // The first spawn sets up process-wide state that stays open by design (tokio's
    // SIGCHLD listener); count from after it.
    spawn_failing_child(&rt).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = open_fds();
    for _ in 0..3 {
        spawn_failing_child(&rt).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(zombies(), Vec::<u32>::new(), "spawn left zombie children");
    let after = open_fds();
    assert!(
        after <= before,
        "spawn left {} file descriptors open",
        after - before
    );
}
