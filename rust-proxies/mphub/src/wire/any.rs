//! `AnyPointer` (and generic parameters left unbound): kept as an opaque copy.

use capnp::any_pointer;

use super::list::{read_pointer_list, write_pointer_list};
use super::{Element, ReadCx, Value, WriteCx};
use crate::error::{Error, Result};

/// An `AnyPointer` value: whatever the peer sent, copied into a message of its own.
///
/// Shape: the serialized message (standard framing) whose root pointer is the value;
/// empty for a null pointer. It round-trips unchanged; capabilities inside it cannot be
/// carried (reading one fails with [`Error::Malformed`]).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AnyValue(Vec<u8>);

impl std::fmt::Debug for AnyValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            f.write_str("AnyValue(null)")
        } else {
            write!(f, "AnyValue({} bytes)", self.0.len())
        }
    }
}

impl AnyValue {
    /// True for a null pointer.
    pub fn is_null(&self) -> bool {
        self.0.is_empty()
    }

    /// The serialized message holding the value (empty for null).
    pub fn as_message_bytes(&self) -> &[u8] {
        &self.0
    }

    /// A value from a serialized message whose root pointer is the value.
    pub fn from_message_bytes(bytes: Vec<u8>) -> Self {
        AnyValue(bytes)
    }

    /// Encodes `value` (a struct, list, `Text`, ...; no capabilities) as an `AnyValue`.
    pub fn from_value<T: Value>(value: &T) -> Result<Self> {
        let mut message = capnp::message::Builder::new_default();
        value.write(
            message.init_root::<any_pointer::Builder<'_>>(),
            &WriteCx::detached(),
        )?;
        Ok(AnyValue(capnp::serialize::write_message_to_words(&message)))
    }

    /// Decodes the value as a `T` (a null value reads as `T`'s empty value).
    pub fn to_value<T: Value>(&self) -> Result<T> {
        if self.0.is_empty() {
            let empty = capnp::message::Builder::new_default();
            return T::read(empty.get_root_as_reader()?, &ReadCx::detached());
        }
        let mut bytes = &self.0[..];
        let message =
            capnp::serialize::read_message(&mut bytes, capnp::message::ReaderOptions::new())?;
        T::read(message.get_root()?, &ReadCx::detached())
    }
}

impl Value for AnyValue {
    fn read(p: any_pointer::Reader<'_>, cx: &ReadCx<'_>) -> Result<Self> {
        if p.is_null() {
            return Ok(AnyValue::default());
        }
        let size = p.target_size()?;
        if size.cap_count > 0 {
            return Err(Error::Malformed(
                "capabilities inside an AnyPointer value are not supported".into(),
            ));
        }
        // Kept as words: the copy is as large as the value on the wire.
        cx.charge::<capnp::Word>(u32::try_from(size.word_count).unwrap_or(u32::MAX))?;
        let mut message = capnp::message::Builder::new_default();
        message.set_root(p)?;
        Ok(AnyValue(capnp::serialize::write_message_to_words(&message)))
    }

    fn write(&self, p: any_pointer::Builder<'_>, _cx: &WriteCx<'_>) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let mut bytes = &self.0[..];
        let message =
            capnp::serialize::read_message(&mut bytes, capnp::message::ReaderOptions::new())?;
        let root: any_pointer::Reader<'_> = message.get_root()?;
        let mut p = p;
        p.set_as::<any_pointer::Owned>(root)?;
        Ok(())
    }
}

impl Element for AnyValue {
    fn read_list(p: any_pointer::Reader<'_>, cx: &ReadCx<'_>) -> Result<Vec<Self>> {
        read_pointer_list(p, cx)
    }
    fn write_list(items: &[Self], p: any_pointer::Builder<'_>, cx: &WriteCx<'_>) -> Result<()> {
        write_pointer_list(items, p, cx)
    }
}
