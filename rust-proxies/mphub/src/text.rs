//! `Text` values: Cap'n Proto `Text` carried as raw bytes.

use std::borrow::Cow;
use std::fmt;

/// A Cap'n Proto `Text` value.
///
/// libmultiprocess maps `Text` to `std::string` and copies bytes verbatim: no UTF-8
/// validation, embedded NULs kept. `Text` keeps exactly those bytes; use
/// [`Text::to_str`] or [`Text::to_string_lossy`] to view them as a string.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(Vec<u8>);

impl Text {
    /// A text value from raw bytes (any bytes, not necessarily UTF-8).
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Text(bytes.into())
    }
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// Consumes the value, returning the raw bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
    /// The text as `&str` if it is valid UTF-8.
    pub fn to_str(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.0)
    }
    /// The text with invalid UTF-8 replaced by U+FFFD.
    pub fn to_string_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string_lossy(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(s.as_bytes().to_vec())
    }
}
impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(s.into_bytes())
    }
}
impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Text(s.as_bytes().to_vec())
    }
}
impl From<Vec<u8>> for Text {
    fn from(b: Vec<u8>) -> Self {
        Text(b)
    }
}
impl From<&[u8]> for Text {
    fn from(b: &[u8]) -> Self {
        Text(b.to_vec())
    }
}
impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}
impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}
