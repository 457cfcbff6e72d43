//! Builds the `mphub-cpp-capnp-peer` executable:
//! 1. `capnp compile -oc++` the schemas the peer speaks (schema/test, schema/mp/proxy.capnp,
//!    Bitcoin Core's master init.capnp and everything it imports) into `OUT_DIR/gen`;
//! 2. compiles the generated code and `src/*.cpp` with the compiler `cc` picks (C++17, -O2;
//!    our own sources with -Wall -Wextra -Werror);
//! 3. links them against the system Cap'n Proto into `OUT_DIR/mphub-cpp-capnp-peer` and
//!    exports that path as `MPHUB_CPP_CAPNP_PEER` for `peer_path()`.
//!
//! Needs the `capnp` tool, libcapnp-dev (0.9 or newer) and a C++ compiler:
//! `depends/install.sh` installs them (Debian: capnproto libcapnp-dev g++ pkg-config).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::SystemTime;

/// Schemas, relative to the repository's `schema/` directory (the `/mp/...` import root).
const SCHEMAS: &[&str] = &[
    "test/test.capnp",
    "mp/proxy.capnp",
    "bitcoin/master/init.capnp",
    "bitcoin/master/echo.capnp",
    "bitcoin/master/mining.capnp",
    "bitcoin/master/rpc.capnp",
    "bitcoin/master/common.capnp",
    "corpus/api/corpus.capnp",
    "corpus/api/base.capnp",
    "corpus/types/shapes.capnp",
    "corpus/types/generic.capnp",
];

/// Our C++ sources and headers, in `src/`.
const SOURCES: &[&str] = &[
    "main.cpp",
    "common.cpp",
    "threads.cpp",
    "proxies.cpp",
    "server.cpp",
    "client.cpp",
    "scenarios.cpp",
    "corpus.cpp",
];
const HEADERS: &[&str] = &[
    "common.h",
    "threads.h",
    "proxies.h",
    "server.h",
    "client.h",
    "corpus.h",
];

const INSTALL_HINT: &str = "install Cap'n Proto with depends/install.sh \
     (Debian/Ubuntu: apt-get install capnproto libcapnp-dev g++ pkg-config)";

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let schema_root = manifest.join("../../schema");
    let src = manifest.join("src");

    println!("cargo:rerun-if-changed=build.rs");
    for s in SCHEMAS {
        println!("cargo:rerun-if-changed={}", schema_root.join(s).display());
    }
    for f in SOURCES.iter().chain(HEADERS) {
        println!("cargo:rerun-if-changed={}", src.join(f).display());
    }

    let capnp_include = find_capnp_include();
    let gen = out.join("gen");
    generate(&schema_root, &capnp_include, &gen);

    let objects_dir = out.join("obj");
    fs::create_dir_all(&objects_dir).expect("creating obj dir");

    // Generated code: compiled as is (not ours to keep warning-free).
    let generated = cc_config(&out).warnings(false).get_compiler();
    // Our sources: warnings are errors. Generated headers come in through -isystem so
    // that only our own code is held to that.
    let ours = cc_config(&out)
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .get_compiler();

    let gen_headers: Vec<PathBuf> = SCHEMAS.iter().map(|s| gen.join(format!("{s}.h"))).collect();
    let our_headers: Vec<PathBuf> = HEADERS.iter().map(|h| src.join(h)).collect();

    let mut jobs = Vec::new();
    for s in SCHEMAS {
        let source = gen.join(format!("{s}.c++"));
        let object = objects_dir.join(format!("gen_{}.o", s.replace(['/', '.'], "_")));
        let deps: Vec<PathBuf> = std::iter::once(source.clone())
            .chain(gen_headers.iter().cloned())
            .collect();
        jobs.push(Job {
            tool: &generated,
            source,
            object,
            deps,
        });
    }
    for f in SOURCES {
        let source = src.join(f);
        let object = objects_dir.join(format!("{}.o", f.replace('.', "_")));
        let deps: Vec<PathBuf> = std::iter::once(source.clone())
            .chain(our_headers.iter().cloned())
            .chain(gen_headers.iter().cloned())
            .collect();
        jobs.push(Job {
            tool: &ours,
            source,
            object,
            deps,
        });
    }
    let objects: Vec<PathBuf> = jobs.iter().map(|j| j.object.clone()).collect();
    compile_all(&jobs, &gen, &src);

    let exe = out.join("mphub-cpp-capnp-peer");
    let mut link = ours.to_command();
    link.arg("-o").arg(&exe).args(&objects);
    link.args(capnp_libs()).arg("-pthread");
    run(&mut link, "linking mphub-cpp-capnp-peer");

    println!("cargo:rustc-env=MPHUB_CPP_CAPNP_PEER={}", exe.display());
}

fn cc_config(out: &Path) -> cc::Build {
    let mut b = cc::Build::new();
    b.cpp(true)
        .std("c++17")
        .opt_level(2)
        .debug(false)
        .cargo_metadata(false)
        .out_dir(out);
    b
}

/// The include directory that holds `capnp/c++.capnp` and the C++ headers.
fn find_capnp_include() -> PathBuf {
    let mut candidates = Vec::new();
    if let Ok(o) = Command::new("pkg-config")
        .args(["--variable=includedir", "capnp"])
        .output()
    {
        if o.status.success() {
            let dir = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if !dir.is_empty() {
                candidates.push(PathBuf::from(dir));
            }
        }
    }
    candidates.push(PathBuf::from("/usr/include"));
    candidates.push(PathBuf::from("/usr/local/include"));
    for dir in candidates {
        if dir.join("capnp/c++.capnp").is_file() && dir.join("capnp/rpc-twoparty.h").is_file() {
            return dir;
        }
    }
    panic!(
        "Cap'n Proto C++ headers (capnp/rpc-twoparty.h, capnp/c++.capnp) not found: {INSTALL_HINT}"
    );
}

fn capnp_libs() -> Vec<String> {
    if let Ok(o) = Command::new("pkg-config")
        .args(["--libs", "capnp-rpc"])
        .output()
    {
        if o.status.success() {
            let libs: Vec<String> = String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .map(str::to_string)
                .collect();
            if !libs.is_empty() {
                return libs;
            }
        }
    }
    ["-lcapnp-rpc", "-lcapnp", "-lkj-async", "-lkj"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Runs `capnp compile -oc++`, replacing generated files only when their content changed
/// (so unchanged schemas don't force every object to be rebuilt).
fn generate(schema_root: &Path, capnp_include: &Path, gen: &Path) {
    match Command::new("capnp").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        _ => panic!("the `capnp` schema compiler is not installed: {INSTALL_HINT}"),
    }
    let staging = gen.with_file_name("gen.new");
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).expect("creating gen staging dir");
    let mut cmd = Command::new("capnp");
    cmd.arg("compile")
        .arg("-I")
        .arg(schema_root)
        .arg("-I")
        .arg(capnp_include)
        .arg(format!("--src-prefix={}", schema_root.display()))
        .arg(format!("-oc++:{}", staging.display()));
    for s in SCHEMAS {
        cmd.arg(schema_root.join(s));
    }
    run(&mut cmd, "capnp compile -oc++");
    for s in SCHEMAS {
        for ext in ["h", "c++"] {
            let name = format!("{s}.{ext}");
            let new = fs::read(staging.join(&name)).expect("reading generated file");
            let dest = gen.join(&name);
            if fs::read(&dest).ok().as_deref() != Some(&new[..]) {
                fs::create_dir_all(dest.parent().unwrap()).expect("creating gen dir");
                fs::write(&dest, &new).expect("writing generated file");
            }
        }
    }
    let _ = fs::remove_dir_all(&staging);
}

struct Job<'a> {
    tool: &'a cc::Tool,
    source: PathBuf,
    object: PathBuf,
    deps: Vec<PathBuf>,
}

fn mtime(p: &Path) -> Option<SystemTime> {
    fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// Compiles the out-of-date objects, as many at once as cargo allows (NUM_JOBS).
fn compile_all(jobs: &[Job<'_>], gen: &Path, src: &Path) {
    let pending: Vec<&Job<'_>> = jobs
        .iter()
        .filter(|j| {
            let Some(obj) = mtime(&j.object) else {
                return true;
            };
            j.deps.iter().any(|d| mtime(d).is_none_or(|t| t >= obj))
        })
        .collect();
    let parallel = std::env::var("NUM_JOBS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(2)
        .max(1);
    let queue = Mutex::new(pending.into_iter());
    let failures = Mutex::new(Vec::<String>::new());
    std::thread::scope(|scope| {
        for _ in 0..parallel {
            scope.spawn(|| loop {
                let Some(job) = queue.lock().unwrap().next() else {
                    break;
                };
                let mut cmd = job.tool.to_command();
                cmd.arg("-isystem")
                    .arg(gen)
                    .arg("-I")
                    .arg(src)
                    .arg("-x")
                    .arg("c++")
                    .arg("-c")
                    .arg(&job.source)
                    .arg("-o")
                    .arg(&job.object);
                match cmd.output() {
                    Ok(o) if o.status.success() => {}
                    Ok(o) => {
                        let _ = fs::remove_file(&job.object);
                        failures.lock().unwrap().push(format!(
                            "{}:\n{}{}",
                            job.source.display(),
                            String::from_utf8_lossy(&o.stdout),
                            String::from_utf8_lossy(&o.stderr)
                        ));
                    }
                    Err(e) => failures.lock().unwrap().push(format!(
                        "{}: cannot run the C++ compiler: {e}",
                        job.source.display()
                    )),
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    if !failures.is_empty() {
        panic!("C++ compilation failed:\n{}", failures.join("\n"));
    }
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "{what}: cannot run {:?}: {e} ({INSTALL_HINT})",
            cmd.get_program()
        )
    });
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
