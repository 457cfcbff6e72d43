//! The recorded answers of a real `bitcoin-node` and the normalisations that go with them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use mphub_bitcoin::CoreVersion;

/// One scripted call (or a short fixed sequence of calls) and what the node answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Names the interface, method and input (`"Mining.createNewBlock blockReservedWeight=0"`).
    pub step: String,
    /// The answer as JSON: byte fields in hex, failures as `{"error": "<what()>"}`.
    pub answer: Value,
}

/// The answers of one session, in call order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    /// The steps in the order the session ran them.
    pub steps: Vec<Step>,
}

/// A field that is not compared, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Normalisation {
    /// The step's name.
    pub step: String,
    /// JSON pointer into the step's answer (RFC 6901; `""` is the whole answer).
    pub field: String,
    /// Why the field cannot match (e.g. seconds since the node started).
    pub reason: String,
}

/// A fixture file: the real node's recording for one schema version, the conditions it was
/// recorded under, and the normalisations.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fixture {
    /// What this file is (kept in the file for a reader who finds it without the docs).
    pub about: String,
    /// The schema version the session used (`"master"`, `"v31"`).
    pub schema: String,
    /// The user agent of the node recorded (`"/Satoshi:31.99.0/"`).
    pub recorded_from: String,
    /// `-mocktime` both nodes run with, in seconds since the Unix epoch.
    pub mocktime: u32,
    /// Fields not compared, each with its reason.
    pub normalised: Vec<Normalisation>,
    /// The real node's answers.
    pub recording: Recording,
}

/// The default mock time: 2023-11-14 22:13:20 UTC. Later than regtest genesis by more than
/// Core's 24-hour maximum tip age, so a fresh node starts in initial block download.
pub const MOCKTIME: u32 = 1_700_000_000;

/// Where the fixture for `version` lives in this source tree.
pub fn fixture_path(version: CoreVersion) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("differential")
        .join(format!("{}.json", version.as_str()))
}

impl Fixture {
    /// Reads and parses a fixture file. Errors name the file.
    pub fn load(path: &Path) -> Result<Fixture> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Writes the fixture, pretty-printed with keys in recorded order.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }
}
