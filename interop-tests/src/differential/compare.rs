//! Field-by-field comparison of two recordings, with the fixture's named normalisations.

use serde_json::Value;

use super::fixture::{Normalisation, Recording};

/// One place where the demo node's answer differs from the reference node's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// The step's name (`"Mining.createNewBlock default"`).
    pub step: String,
    /// JSON pointer into the step's answer (`""` for the whole answer, `"/error"`).
    pub field: String,
    /// What the reference node answered (JSON text; `<missing>` when absent).
    pub expected: String,
    /// What the node under test answered.
    pub actual: String,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: expected {}, got {}",
            self.step,
            if self.field.is_empty() {
                "(whole answer)"
            } else {
                &self.field
            },
            self.expected,
            self.actual
        )
    }
}

/// Compares `actual` against `expected` step by step and field by field.
///
/// Steps are matched by position and must have the same names (a missing or extra step is a
/// divergence). Object keys are compared **in order**, because Core's JSON answers have a
/// fixed key order that clients may rely on. A field listed in `normalised` (step name and
/// JSON pointer) is not compared, only checked to be present on both sides.
pub fn compare(
    expected: &Recording,
    actual: &Recording,
    normalised: &[Normalisation],
) -> Vec<Divergence> {
    let mut out = Vec::new();
    let n = expected.steps.len().max(actual.steps.len());
    for i in 0..n {
        match (expected.steps.get(i), actual.steps.get(i)) {
            (Some(e), Some(a)) if e.step == a.step => {
                let skip: Vec<&str> = normalised
                    .iter()
                    .filter(|n| n.step == e.step)
                    .map(|n| n.field.as_str())
                    .collect();
                diff_value(&e.step, "", &e.answer, &a.answer, &skip, &mut out);
            }
            (e, a) => {
                out.push(Divergence {
                    step: e.or(a).map(|s| s.step.clone()).unwrap_or_default(),
                    field: String::new(),
                    expected: e.map_or("<no such step>".into(), |s| format!("step {:?}", s.step)),
                    actual: a.map_or("<no such step>".into(), |s| format!("step {:?}", s.step)),
                });
                // After a mismatch in the step sequence every later step would differ too.
                break;
            }
        }
    }
    out
}

fn show(v: Option<&Value>) -> String {
    match v {
        Some(v) => {
            let text = v.to_string();
            let count = text.chars().count();
            if count > 200 {
                let head: String = text.chars().take(200).collect();
                format!("{head}… ({count} chars)")
            } else {
                text
            }
        }
        None => "<missing>".into(),
    }
}

fn diff_value(
    step: &str,
    pointer: &str,
    expected: &Value,
    actual: &Value,
    skip: &[&str],
    out: &mut Vec<Divergence>,
) {
    if skip.contains(&pointer) {
        return;
    }
    let push = |out: &mut Vec<Divergence>, field: &str, e: Option<&Value>, a: Option<&Value>| {
        out.push(Divergence {
            step: step.into(),
            field: field.into(),
            expected: show(e),
            actual: show(a),
        })
    };
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let ek: Vec<&String> = e.keys().collect();
            let ak: Vec<&String> = a.keys().collect();
            for key in &ek {
                let child = format!("{pointer}/{}", escape(key));
                match a.get(*key) {
                    Some(av) => diff_value(step, &child, &e[*key], av, skip, out),
                    None => push(out, &child, Some(&e[*key]), None),
                }
            }
            for key in &ak {
                if !e.contains_key(*key) {
                    push(
                        out,
                        &format!("{pointer}/{}", escape(key)),
                        None,
                        Some(&a[*key]),
                    );
                }
            }
            let common_e: Vec<&&String> = ek.iter().filter(|k| a.contains_key(**k)).collect();
            let common_a: Vec<&&String> = ak.iter().filter(|k| e.contains_key(**k)).collect();
            if common_e != common_a {
                push(
                    out,
                    &format!("{pointer} (key order)"),
                    Some(&Value::from(
                        common_e.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                    )),
                    Some(&Value::from(
                        common_a.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                    )),
                );
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                diff_value(step, &format!("{pointer}/{i}"), ev, av, skip, out);
            }
        }
        (e, a) if e == a => {}
        (e, a) => push(out, pointer, Some(e), Some(a)),
    }
}

/// JSON pointer escaping (RFC 6901).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::differential::fixture::Step;
    use serde_json::json;

    fn rec(steps: &[(&str, Value)]) -> Recording {
        Recording {
            steps: steps
                .iter()
                .map(|(s, a)| Step {
                    step: (*s).into(),
                    answer: a.clone(),
                })
                .collect(),
        }
    }

    #[test]
    fn equal_recordings_have_no_divergence() {
        let a = rec(&[("x", json!({"a": 1, "b": [1, 2]}))]);
        assert!(compare(&a, &a.clone(), &[]).is_empty());
    }

    #[test]
    fn a_changed_field_is_reported_by_pointer() {
        let e = rec(&[("x", json!({"a": 1, "b": [1, 2]}))]);
        let a = rec(&[("x", json!({"a": 1, "b": [1, 3]}))]);
        let d = compare(&e, &a, &[]);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].field, "/b/1");
        assert_eq!((d[0].expected.as_str(), d[0].actual.as_str()), ("2", "3"));
    }

    #[test]
    fn key_order_counts() {
        let e: Value = serde_json::from_str(r#"{"result":1,"error":null,"id":1}"#).unwrap();
        let a: Value = serde_json::from_str(r#"{"error":null,"id":1,"result":1}"#).unwrap();
        let d = compare(&rec(&[("x", e)]), &rec(&[("x", a)]), &[]);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].field.contains("key order"), "{d:?}");
    }

    #[test]
    fn normalised_fields_are_skipped_but_must_exist() {
        let e = rec(&[("rpc uptime", json!({"result": 5, "id": 1}))]);
        let a = rec(&[("rpc uptime", json!({"result": 9, "id": 1}))]);
        let n = [Normalisation {
            step: "rpc uptime".into(),
            field: "/result".into(),
            reason: "seconds since start".into(),
        }];
        assert!(compare(&e, &a, &n).is_empty());
        let gone = rec(&[("rpc uptime", json!({"id": 1}))]);
        assert_eq!(compare(&e, &gone, &n)[0].field, "/result");
        // Without the normalisation the same pair diverges.
        assert_eq!(compare(&e, &a, &[]).len(), 1);
        // A missing or extra step is a divergence, and comparison stops there.
        let short = rec(&[]);
        assert_eq!(compare(&e, &short, &n).len(), 1);
    }
}
