//! Rust names for schema names: `snake_case` for fields and methods, `CamelCase` for
//! types and variants, keywords escaped, collisions resolved deterministically.

use std::collections::HashSet;

use proc_macro2::{Ident, Span};

/// Words of a camelCase / CamelCase / snake_case name. Acronyms stay whole
/// (`isRBFOptIn` → is, RBF, Opt, In) and digits stick to the word before them
/// (`addInt64` → add, Int64).
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' || c == '$' || c == '-' || c == '.' {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if c.is_uppercase() && !cur.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                out.push(std::mem::take(&mut cur));
            }
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `addInt64` → `add_int64`.
pub fn snake(name: &str) -> String {
    words(name)
        .iter()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join("_")
}

/// `addInt64` → `AddInt64`; `RBF` stays `RBF`.
pub fn camel(name: &str) -> String {
    words(name)
        .iter()
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// `fixtureValues` → `FIXTURE_VALUES`.
pub fn screaming(name: &str) -> String {
    snake(name).to_uppercase()
}

const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers.
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// An identifier for `name`, as a raw identifier (`r#type`) when it is a keyword, or
/// with a trailing `_` where Rust allows no raw form (`self_`).
pub fn ident(name: &str) -> Ident {
    if NOT_RAW.contains(&name) {
        Ident::new(&format!("{name}_"), Span::call_site())
    } else if KEYWORDS.contains(&name) {
        Ident::new_raw(name, Span::call_site())
    } else if name.starts_with(|c: char| c.is_ascii_digit()) || name.is_empty() {
        Ident::new(&format!("_{name}"), Span::call_site())
    } else {
        Ident::new(name, Span::call_site())
    }
}

/// True for Rust keywords (strict and reserved).
pub fn is_rust_keyword(name: &str) -> bool {
    KEYWORDS.contains(&name)
}

/// True for names that cannot even be raw identifiers (`self`, `crate`, ...).
pub fn is_keyword_like(name: &str) -> bool {
    NOT_RAW.contains(&name)
}

/// Hands out names within one Rust namespace, suffixing `_` on collisions.
#[derive(Default)]
pub struct Namespace {
    taken: HashSet<String>,
}

impl Namespace {
    /// A namespace where `reserved` names are already taken.
    pub fn with_reserved(reserved: &[&str]) -> Self {
        Namespace {
            taken: reserved.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// `wanted`, or `wanted_`, `wanted__`, ... if taken.
    pub fn claim(&mut self, wanted: &str) -> String {
        let mut name = wanted.to_string();
        while self.taken.contains(&name) || (NOT_RAW.contains(&name.as_str())) {
            name.push('_');
        }
        self.taken.insert(name.clone());
        name
    }

    /// A type name: `wanted`, or `wanted2`, `wanted3`, ... if taken (CamelCase stays
    /// CamelCase).
    pub fn claim_type(&mut self, wanted: &str) -> String {
        let mut name = wanted.to_string();
        let mut n = 1;
        while self.taken.contains(&name) || KEYWORDS.contains(&name.as_str()) {
            n += 1;
            name = format!("{wanted}{n}");
        }
        self.taken.insert(name.clone());
        name
    }

    /// True when `name` is taken.
    pub fn contains(&self, name: &str) -> bool {
        self.taken.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        assert_eq!(snake("addInt64"), "add_int64");
        assert_eq!(snake("isRBFOptIn"), "is_rbf_opt_in");
        assert_eq!(snake("getTransactionsByTxID"), "get_transactions_by_tx_id");
        assert_eq!(snake("URI"), "uri");
        assert_eq!(snake("m_json_version"), "m_json_version");
        assert_eq!(camel("fooBar"), "FooBar");
        assert_eq!(camel("value"), "Value");
        assert_eq!(screaming("fixtureValues"), "FIXTURE_VALUES");
        assert_eq!(ident("type").to_string(), "r#type");
        assert_eq!(ident("self").to_string(), "self_");
        let mut ns = Namespace::with_reserved(&["local"]);
        assert_eq!(ns.claim("local"), "local_");
        assert_eq!(ns.claim("get"), "get");
        assert_eq!(ns.claim("get"), "get_");
    }
}
