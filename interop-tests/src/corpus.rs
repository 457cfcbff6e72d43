//! The schema-corpus leg: any folder of libmultiprocess-annotated `.capnp` files is
//! generated with `mphub-build`, compiled, and smoke-run.
//!
//! For a folder, every `*.capnp` in it (and what it imports) goes through one
//! generation run in a scratch cargo project under the workspace's `target/`, built
//! offline with the workspace's lockfile and target folder (so no dependency is fetched
//! or rebuilt). The project's program serves every interface with a server that
//! implements nothing, connects to it over a unix socket, and calls every method the
//! client has (inherited ones included). Each call must fail with the unimplemented
//! error naming the interface that declares the method and the method: that proves the
//! interface IDs, ordinals and inheritance of every generated client and server.
//!
//! [`compile_cost`] compares the debug build time of a crate holding mphub's generated
//! module with that of a crate holding only capnpc's output for the same files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};

/// The workspace root (this crate lives in `interop-tests/`).
fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."))
}

/// The workspace's target folder (`$CARGO_TARGET_DIR` or `<workspace>/target`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
}

/// What one folder gave.
#[derive(Clone, Debug)]
pub struct FolderReport {
    /// The folder.
    pub folder: PathBuf,
    /// Schema files named (the folder's `*.capnp`).
    pub files: usize,
    /// Interfaces generated and served.
    pub interfaces: usize,
    /// Methods called.
    pub methods: usize,
    /// Calls that answered the expected unimplemented error.
    pub passed: usize,
    /// One line per failed call or step.
    pub failures: Vec<String>,
    /// Time to generate and compile the scratch project.
    pub build_time: Duration,
}

impl FolderReport {
    /// The report line printed per folder.
    pub fn line(&self) -> String {
        format!(
            "{}: {} files, {} interfaces, {}/{} methods answered Unimplemented naming interface and method{} (build {:.1} s)",
            self.folder.display(),
            self.files,
            self.interfaces,
            self.passed,
            self.methods,
            if self.failures.is_empty() {
                String::new()
            } else {
                format!(", {} FAILED", self.failures.len())
            },
            self.build_time.as_secs_f64()
        )
    }
}

/// The `*.capnp` files directly in `dir`, sorted.
pub fn schema_files(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.ends_with(".capnp") {
            files.push(name);
        }
    }
    files.sort();
    if files.is_empty() {
        bail!("{} holds no .capnp file", dir.display());
    }
    Ok(files)
}

fn folder_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "corpus".into())
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Writes a scratch cargo project (`Cargo.toml`, lockfile, `build.rs`) whose build
/// script generates `dir`'s files with mphub-build or capnpc; with `main_rs` it is the
/// smoke program, else a library holding only the generated code. Returns its folder.
fn scratch_project(
    name: &str,
    dir: &Path,
    files: &[String],
    flavour: Flavour,
    main_rs: Option<&str>,
) -> anyhow::Result<PathBuf> {
    let ws = workspace();
    let tag = if main_rs.is_some() {
        "smoke"
    } else {
        flavour.tag()
    };
    let root = target_dir()
        .join("mphub-corpus")
        .join(format!("{name}-{tag}"));
    std::fs::create_dir_all(root.join("src"))?;
    let package = format!("mphub-corpus-{}-{tag}", name.to_lowercase());
    let (deps, build_deps) = match flavour {
        Flavour::Mphub => (
            format!(
                "mphub = {{ path = {:?} }}\ntokio = {{ version = \"1\", features = [\"rt-multi-thread\", \"macros\"] }}\n",
                ws.join("rust-proxies/mphub")
            ),
            format!("mphub-build = {{ path = {:?} }}\n", ws.join("rust-proxies/mphub-build")),
        ),
        Flavour::Capnpc => (
            "capnp = \"0.27\"\ncapnp-rpc = \"0.27\"\n".to_string(),
            "capnpc = \"0.27\"\n".to_string(),
        ),
    };
    // The smoke program's name is unique per folder: every scratch project shares the
    // workspace's target folder.
    let kind = if main_rs.is_some() {
        format!(
            "[[bin]]\nname = \"smoke-{}\"\npath = \"src/main.rs\"\n",
            name.to_lowercase()
        )
    } else {
        "[lib]\npath = \"src/lib.rs\"\n".to_string()
    };
    write_if_changed(
        &root.join("Cargo.toml"),
        &format!(
            "[package]\nname = {package:?}\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n{kind}\n[dependencies]\n{deps}\n[build-dependencies]\n{build_deps}\n[workspace]\n"
        ),
    )?;
    let lock = std::fs::read_to_string(ws.join("Cargo.lock"))
        .context("reading the workspace's Cargo.lock")?;
    if !root.join("Cargo.lock").exists() {
        std::fs::write(root.join("Cargo.lock"), lock)?;
    }
    let file_list: String = files.iter().map(|f| format!("{f:?}, ")).collect();
    let build_rs = match flavour {
        Flavour::Mphub => format!(
            "fn main() {{\n    let mut b = mphub_build::Builder::new({dir:?});\n    for f in [{file_list}] {{\n        b = b.file(f);\n    }}\n    b.module(\"gen\").run().unwrap_or_else(|e| panic!(\"{{e}}\"));\n}}\n"
        ),
        Flavour::Capnpc => format!(
            "fn main() {{\n    let imports = std::path::PathBuf::from(std::env::var(\"OUT_DIR\").unwrap()).join(\"imports\");\n    std::fs::create_dir_all(imports.join(\"mp\")).unwrap();\n    std::fs::create_dir_all(imports.join(\"capnp\")).unwrap();\n    std::fs::write(imports.join(\"mp/proxy.capnp\"), {proxy:?}).unwrap();\n    std::fs::write(imports.join(\"capnp/c++.capnp\"), {cxx:?}).unwrap();\n    let mut c = capnpc::CompilerCommand::new();\n    c.src_prefix({dir:?}).src_prefix(&imports).import_path({dir:?}).import_path(&imports);\n    c.file(imports.join(\"mp/proxy.capnp\"));\n    for f in [{file_list}] {{\n        c.file(std::path::Path::new({dir:?}).join(f));\n    }}\n    c.run().unwrap();\n}}\n",
            proxy = include_str!("../../schema/mp/proxy.capnp"),
            cxx = include_str!("../../schema/capnp/c++.capnp"),
        ),
    };
    write_if_changed(&root.join("build.rs"), &build_rs)?;
    match (flavour, main_rs) {
        (Flavour::Mphub, Some(main)) => write_if_changed(&root.join("src/main.rs"), main)?,
        (Flavour::Mphub, None) => write_if_changed(
            &root.join("src/lib.rs"),
            "//! mphub's generated module, compiled alone.\n#[allow(missing_docs, unused)]\npub mod gen {\n    include!(concat!(env!(\"OUT_DIR\"), \"/gen/mphub_gen.rs\"));\n}\n",
        )?,
        (Flavour::Capnpc, _) => {
            let mut lib = String::from("//! capnpc's output, compiled alone.\n");
            for f in files {
                let stem = f.trim_end_matches(".capnp").replace(['-', '.'], "_");
                writeln!(
                    lib,
                    "#[allow(clippy::all, unused)]\npub mod {stem}_capnp {{\n    include!(concat!(env!(\"OUT_DIR\"), \"/{stem}_capnp.rs\"));\n}}"
                )
                .ok();
            }
            // capnpc refers to the bundled imports' modules too.
            lib.push_str("#[allow(clippy::all, unused)]\npub mod proxy_capnp {\n    include!(concat!(env!(\"OUT_DIR\"), \"/mp/proxy_capnp.rs\"));\n}\n");
            write_if_changed(&root.join("src/lib.rs"), &lib)?;
        }
    }
    Ok(root)
}

#[derive(Clone, Copy, PartialEq)]
enum Flavour {
    Mphub,
    Capnpc,
}

impl Flavour {
    fn tag(self) -> &'static str {
        match self {
            Flavour::Mphub => "mphub",
            Flavour::Capnpc => "capnpc",
        }
    }
}

fn write_if_changed(path: &Path, text: &str) -> anyhow::Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// `cargo build` of a scratch project, offline, in the workspace's target folder.
fn cargo_build(project: &Path) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .arg("build")
        .arg("--offline")
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(project.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .context("running cargo")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(40).collect();
        bail!(
            "building {} failed:\n{}",
            project.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    Ok(start.elapsed())
}

/// The smoke program: serve every interface with an empty server, call every method.
fn smoke_main(inspection: &mphub_build::Inspection) -> String {
    let mut servers = String::new();
    let mut calls = String::new();
    for (n, i) in inspection.interfaces.iter().enumerate() {
        writeln!(servers, "struct Smoke{n};").ok();
        for trait_path in std::iter::once(&i.server).chain(i.ancestor_servers.iter()) {
            writeln!(servers, "impl gen::{trait_path} for Smoke{n} {{}}").ok();
        }
        writeln!(
            calls,
            "    {{\n        let path = dir.join(\"i{n}.sock\");\n        let _listener = mphub::listen(&rt, &path, gen::{}::into_cap(Smoke{n}))?;\n        let c: gen::{} = mphub::connect(&rt, &path).await?;\n        interfaces += 1;",
            i.server, i.client
        )
        .ok();
        for m in &i.methods {
            let args: Vec<String> = m
                .params
                .iter()
                .map(|t| {
                    format!(
                        "<{} as ::std::default::Default>::default()",
                        t.replace("super::", "gen::")
                    )
                })
                .collect();
            writeln!(
                calls,
                "        check(&mut report, {:?}, c.{}({}).await);",
                format!("{}.{}", m.declared_in, m.name),
                m.rust_name,
                args.join(", ")
            )
            .ok();
        }
        writeln!(calls, "    }}").ok();
    }
    format!(
        r#"//! Generated by mphub-interop: every interface served with nothing implemented,
//! every method called; each must answer Unimplemented naming interface and method.
#[allow(missing_docs, unused)]
mod gen {{
    include!(concat!(env!("OUT_DIR"), "/gen/mphub_gen.rs"));
}}

{servers}
struct Report {{
    methods: usize,
    passed: usize,
}}

fn check<T: std::fmt::Debug>(report: &mut Report, method: &str, got: mphub::Result<T>) {{
    report.methods += 1;
    match got {{
        Err(mphub::Error::Unimplemented(text)) if text.contains(method) => report.passed += 1,
        other => println!("FAIL {{method}}: {{other:?}}"),
    }}
}}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {{
    let dir = std::env::args().nth(1).map(std::path::PathBuf::from).ok_or("usage: smoke DIR")?;
    let rt = mphub::Runtime::new()?;
    let mut report = Report {{ methods: 0, passed: 0 }};
    let mut interfaces = 0;
{calls}
    println!("RESULT {{interfaces}} {{}} {{}}", report.methods, report.passed);
    Ok(())
}}
"#
    )
}

/// Generates, compiles and smoke-runs every `*.capnp` of `dir`.
pub fn run_folder(dir: &Path) -> anyhow::Result<FolderReport> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("schema folder {}", dir.display()))?;
    let files = schema_files(&dir)?;
    let mut builder = mphub_build::Builder::new(&dir);
    for f in &files {
        builder = builder.file(f);
    }
    let inspection = builder
        .inspect()
        .map_err(|e| anyhow!("generating {}: {e}", dir.display()))?;
    let project = scratch_project(
        &folder_name(&dir),
        &dir,
        &files,
        Flavour::Mphub,
        Some(&smoke_main(&inspection)),
    )?;
    let build_time = cargo_build(&project)?;
    let exe = target_dir().join(format!("debug/smoke-{}", folder_name(&dir).to_lowercase()));
    let sockets = tempfile::tempdir()?;
    let out = Command::new(&exe)
        .arg(sockets.path())
        .output()
        .with_context(|| format!("running {}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut report = FolderReport {
        folder: dir.clone(),
        files: files.len(),
        interfaces: 0,
        methods: 0,
        passed: 0,
        failures: stdout
            .lines()
            .filter(|l| l.starts_with("FAIL"))
            .map(String::from)
            .collect(),
        build_time,
    };
    match stdout.lines().find_map(|l| l.strip_prefix("RESULT ")) {
        Some(result) => {
            let n: Vec<usize> = result.split(' ').filter_map(|x| x.parse().ok()).collect();
            if let [i, m, p] = n[..] {
                report.interfaces = i;
                report.methods = m;
                report.passed = p;
            }
        }
        None => report.failures.push(format!(
            "the smoke program did not finish ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
    if report.interfaces != inspection.interfaces.len() && report.failures.is_empty() {
        report.failures.push(format!(
            "served {} of {} interfaces",
            report.interfaces,
            inspection.interfaces.len()
        ));
    }
    Ok(report)
}

/// Debug build times of mphub's generated module and of capnpc's output for `dir`.
#[derive(Clone, Debug)]
pub struct CompileCost {
    /// Median over the rounds, mphub's module.
    pub mphub: Duration,
    /// Median over the rounds, capnpc's output.
    pub capnpc: Duration,
    /// Lines of generated Rust: mphub, capnpc.
    pub lines: (usize, usize),
    /// Rounds measured (interleaved).
    pub rounds: usize,
}

impl CompileCost {
    /// mphub's time over capnpc's.
    pub fn ratio(&self) -> f64 {
        self.mphub.as_secs_f64() / self.capnpc.as_secs_f64().max(1e-9)
    }
}

/// Measures [`CompileCost`] for `dir`: both crates are built once (dependencies and
/// build scripts warm), then each round touches each crate's `lib.rs` and rebuilds it,
/// alternating which goes first; medians are reported.
pub fn compile_cost(dir: &Path, rounds: usize) -> anyhow::Result<CompileCost> {
    let dir = dir.canonicalize()?;
    let files = schema_files(&dir)?;
    let name = folder_name(&dir);
    let mphub = scratch_project(&name, &dir, &files, Flavour::Mphub, None)?;
    let capnpc = scratch_project(&name, &dir, &files, Flavour::Capnpc, None)?;
    cargo_build(&mphub)?;
    cargo_build(&capnpc)?;
    let mut times = (Vec::new(), Vec::new());
    for round in 0..rounds.max(1) {
        let order = if round % 2 == 0 {
            [&mphub, &capnpc]
        } else {
            [&capnpc, &mphub]
        };
        for project in order {
            let lib = project.join("src/lib.rs");
            let text = std::fs::read_to_string(&lib)?;
            std::fs::write(&lib, text)?;
            let t = cargo_build(project)?;
            if *project == mphub {
                times.0.push(t);
            } else {
                times.1.push(t);
            }
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let lines = (
        count_lines(
            &target_dir(),
            "mphub_gen.rs",
            &format!("mphub-corpus-{}-mphub", name.to_lowercase()),
        )?,
        count_lines(
            &target_dir(),
            "_capnp.rs",
            &format!("mphub-corpus-{}-capnpc", name.to_lowercase()),
        )?,
    );
    Ok(CompileCost {
        mphub: median(&mut times.0),
        capnpc: median(&mut times.1),
        lines,
        rounds: rounds.max(1),
    })
}

/// Lines of the files ending in `suffix` in the newest build folder of `package`.
fn count_lines(target: &Path, suffix: &str, package: &str) -> anyhow::Result<usize> {
    let build = target.join("debug/build");
    let mut newest: Option<(std::time::SystemTime, PathBuf)> = None;
    for entry in std::fs::read_dir(&build)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(package) && entry.path().join("out").exists() {
            let t = entry.metadata()?.modified()?;
            if newest.as_ref().is_none_or(|(n, _)| t > *n) {
                newest = Some((t, entry.path().join("out")));
            }
        }
    }
    let Some((_, out)) = newest else { return Ok(0) };
    let mut lines = 0;
    let mut stack = vec![out];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let p = entry?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                lines += std::fs::read_to_string(&p)?.lines().count();
            }
        }
    }
    Ok(lines)
}
