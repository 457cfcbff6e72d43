//! Cap'n Proto encoding of the Rust values generated code uses.
//!
//! Generated code does not go through capnpc's typed accessors: each generated struct
//! knows its layout (data words, pointer count, every field's offset and default, taken
//! from the schema by `mphub-build`) and reads and writes its fields through
//! [`StructReader`] and [`StructBuilder`]. The conversions themselves live here, one
//! module per type family, like libmultiprocess's `type-*.h` headers:
//!
//! | module | Rust types | Cap'n Proto |
//! |---|---|---|
//! | `data` (this file) | `bool`, integers, floats, enums, `hasX` flags | data section, XOR-ed with the schema default |
//! | [`text`](self#) | [`Text`](crate::Text) | `Text` |
//! | `list` | `Vec<u8>`, `Vec<T>` | `Data`, `List(T)` (also `List(List(..))`, `List(Bool)`, `List(Void)`) |
//! | `structs` | generated structs, enums of unions, `Option<S>` | structs, groups, unions |
//! | `cap` | [`Cap`](crate::Cap), generated clients | interfaces |
//! | `any` | [`AnyValue`] | `AnyPointer`, unbound generic parameters |
//!
//! Decoding is bounded: every list charges the Rust memory of its elements (at least a
//! byte each, so `List(Void)` counts too) against the [`ReadCx`] budget of the message
//! it came in, which is proportional to the message's size on the wire.

mod any;
mod cap;
mod list;
mod structs;
mod text;

pub use any::AnyValue;
pub use capnp::private::layout::StructSize;
pub use list::{read_enum_list, write_enum_list};
pub use structs::{build_struct, decode_const, hex_bytes, read_root, Raw, RawBuilder, RawReader};

use std::cell::Cell;

use capnp::any_pointer;
use capnp::private::layout;

use crate::error::{Error, Result};
use crate::proxy::ConnRef;

/// Decoded bytes every message may use, however small it is.
pub const DECODE_FLOOR_BYTES: u64 = 1024 * 1024;

/// Decoded bytes a message may use per byte it takes on the wire, above the floor.
///
/// A list of `Void` or of empty structs costs nothing on the wire, and a one-word
/// struct may decode into a Rust struct of many fields, so without a bound a 240-byte
/// message could make us allocate gigabytes. Real data decodes into at most a few times
/// its wire size (strings and bytes 1×, a pointer into a 24-byte `Vec` 3×, a word of
/// 64 `Bool`s 8×); the budget allows 8× plus [`DECODE_FLOOR_BYTES`].
pub const DECODE_BYTES_PER_WIRE_BYTE: u64 = 8;

/// Reading context: the connection (to import capabilities) and the decode budget.
pub struct ReadCx<'c> {
    conn: Option<&'c ConnRef>,
    /// Bytes the decoded value may still take.
    budget: Cell<u64>,
}

impl<'c> ReadCx<'c> {
    /// A context for `message`, received on `conn`: its decode budget is
    /// [`DECODE_FLOOR_BYTES`] plus [`DECODE_BYTES_PER_WIRE_BYTE`] per byte of `message`.
    pub fn new(conn: &'c ConnRef, message: any_pointer::Reader<'_>) -> Result<Self> {
        let wire_bytes = message.target_size()?.word_count.saturating_mul(8);
        Ok(ReadCx {
            conn: Some(conn),
            budget: Cell::new(
                DECODE_FLOOR_BYTES
                    .saturating_add(wire_bytes.saturating_mul(DECODE_BYTES_PER_WIRE_BYTE)),
            ),
        })
    }

    /// A context for values that carry no capabilities and come from this process
    /// (schema defaults, constants): no budget.
    pub fn detached() -> ReadCx<'static> {
        ReadCx {
            conn: None,
            budget: Cell::new(u64::MAX),
        }
    }

    /// The connection, for capabilities.
    pub fn conn(&self) -> Result<&'c ConnRef> {
        self.conn.ok_or_else(|| {
            Error::Malformed("a capability appears where none can be received".into())
        })
    }

    /// Charges a list of `elements` Rust values of `T` to the budget, before they are
    /// allocated; each element costs `size_of::<T>()` bytes, and at least one (so a
    /// `List(Void)` counts too).
    ///
    /// # Errors
    /// [`Error::Malformed`] when the message would decode into more than its budget.
    pub fn charge<T>(&self, elements: u32) -> Result<()> {
        let cost = u64::from(elements) * std::mem::size_of::<T>().max(1) as u64;
        let left = self.budget.get();
        if cost > left {
            return Err(Error::Malformed(format!(
                "decoding a list of {elements} elements would exceed the message's decode \
                 budget ({} bytes per wire byte plus {} MiB)",
                DECODE_BYTES_PER_WIRE_BYTE,
                DECODE_FLOOR_BYTES / (1024 * 1024)
            )));
        }
        self.budget.set(left - cost);
        Ok(())
    }
}

/// Writing context: the connection capabilities are sent on.
pub struct WriteCx<'c> {
    conn: Option<&'c ConnRef>,
}

impl<'c> WriteCx<'c> {
    /// A context for a message sent on `conn`.
    pub fn new(conn: &'c ConnRef) -> Self {
        WriteCx { conn: Some(conn) }
    }

    /// A context for messages that carry no capabilities.
    pub fn detached() -> WriteCx<'static> {
        WriteCx { conn: None }
    }

    /// The connection, for capabilities.
    pub fn conn(&self) -> Result<&'c ConnRef> {
        self.conn
            .ok_or_else(|| Error::Usage("a capability can only be sent in an IPC message".into()))
    }
}

/// A Rust value stored behind a Cap'n Proto pointer (Text, Data, lists, structs,
/// capabilities, `AnyPointer`). Generic parameters of generic structs are bound to
/// these types.
pub trait Value: Sized {
    /// Decodes the value; a null pointer reads as the empty value (libmultiprocess
    /// reads null `Text`/`Data`/lists as empty, and a null struct as its defaults).
    fn read(p: any_pointer::Reader<'_>, cx: &ReadCx<'_>) -> Result<Self>;
    /// Encodes the value into an empty pointer.
    fn write(&self, p: any_pointer::Builder<'_>, cx: &WriteCx<'_>) -> Result<()>;
}

/// A Rust type that can be a list element: `List(T)` is `Vec<T>`.
pub trait Element: Sized {
    /// Decodes a whole list (a null pointer reads as an empty list).
    fn read_list(p: any_pointer::Reader<'_>, cx: &ReadCx<'_>) -> Result<Vec<Self>>;
    /// Encodes a whole list into an empty pointer.
    fn write_list(items: &[Self], p: any_pointer::Builder<'_>, cx: &WriteCx<'_>) -> Result<()>;
}

/// A Cap'n Proto struct (or group) type. Generated code implements it.
pub trait Struct: Sized {
    /// Data words and pointers of the struct (for groups: of the enclosing struct).
    const SIZE: StructSize;
    /// Decodes the struct's fields.
    fn read(r: StructReader<'_>, cx: &ReadCx<'_>) -> Result<Self>;
    /// Encodes the struct's fields into a zeroed struct.
    fn write(&self, b: &mut StructBuilder<'_>, cx: &WriteCx<'_>) -> Result<()>;
}

/// A Cap'n Proto enum, carried as its `UInt16` ordinal. Generated enums implement it
/// and keep values they do not name, so nothing a newer peer sends is lost.
pub trait Enum: Copy {
    /// The enum from its ordinal.
    fn from_ordinal(ordinal: u16) -> Self;
    /// The enum's ordinal.
    fn ordinal(self) -> u16;
}

/// A primitive stored in a struct's data section. On the wire a field holds its value
/// XOR-ed with the schema default, so a zeroed struct reads as all defaults.
pub trait Primitive: Copy {
    /// Reads the field at `offset` (in units of the type's size).
    fn get(r: &layout::StructReader<'_>, offset: u32, default: Self) -> Self;
    /// Writes the field at `offset`.
    fn set(b: &layout::StructBuilder<'_>, offset: u32, value: Self, default: Self);
}

macro_rules! int_primitive {
    ($($t:ty),*) => {$(
        impl Primitive for $t {
            #[inline]
            fn get(r: &layout::StructReader<'_>, offset: u32, default: Self) -> Self {
                r.get_data_field_mask::<$t>(offset as usize, default)
            }
            #[inline]
            fn set(b: &layout::StructBuilder<'_>, offset: u32, value: Self, default: Self) {
                b.set_data_field_mask::<$t>(offset as usize, value, default)
            }
        }
    )*};
}
int_primitive!(i8, i16, i32, i64, u8, u16, u32, u64);

macro_rules! float_primitive {
    ($($t:ty),*) => {$(
        impl Primitive for $t {
            #[inline]
            fn get(r: &layout::StructReader<'_>, offset: u32, default: Self) -> Self {
                r.get_data_field_mask::<$t>(offset as usize, default.to_bits())
            }
            #[inline]
            fn set(b: &layout::StructBuilder<'_>, offset: u32, value: Self, default: Self) {
                b.set_data_field_mask::<$t>(offset as usize, value, default.to_bits())
            }
        }
    )*};
}
float_primitive!(f32, f64);

impl Primitive for bool {
    #[inline]
    fn get(r: &layout::StructReader<'_>, offset: u32, default: Self) -> Self {
        r.get_bool_field_mask(offset as usize, default)
    }
    #[inline]
    fn set(b: &layout::StructBuilder<'_>, offset: u32, value: Self, default: Self) {
        b.set_bool_field_mask(offset as usize, value, default)
    }
}

/// Read access to one struct of a received message, by field offset.
#[derive(Clone, Copy)]
pub struct StructReader<'a>(pub(crate) layout::StructReader<'a>);

impl<'a> StructReader<'a> {
    /// A primitive field at `offset` (units of the type's size; bits for `bool`).
    #[inline]
    pub fn get<T: Primitive>(&self, offset: u32, default: T) -> T {
        T::get(&self.0, offset, default)
    }

    /// An enum field at `offset` (units of 16 bits).
    #[inline]
    pub fn get_enum<E: Enum>(&self, offset: u32, default: u16) -> E {
        E::from_ordinal(self.get::<u16>(offset, default))
    }

    /// True when pointer `index` is set.
    #[inline]
    pub fn has(&self, index: u16) -> bool {
        !self.0.is_pointer_field_null(index as usize)
    }

    /// Pointer `index`, untyped.
    #[inline]
    pub fn pointer(&self, index: u16) -> any_pointer::Reader<'a> {
        any_pointer::Reader::new(self.0.get_pointer_field(index as usize))
    }

    /// A pointer field holding a [`Value`] (null reads as the empty value).
    #[inline]
    pub fn read<T: Value>(&self, index: u16, cx: &ReadCx<'_>) -> Result<T> {
        T::read(self.pointer(index), cx)
    }

    /// A pointer field with a schema default: null reads as `default()`.
    pub fn read_or<T: Value>(
        &self,
        index: u16,
        cx: &ReadCx<'_>,
        default: impl FnOnce() -> T,
    ) -> Result<T> {
        if self.has(index) {
            self.read(index, cx)
        } else {
            Ok(default())
        }
    }

    /// A struct-typed pointer field: `None` when null.
    pub fn read_struct<S: Struct>(&self, index: u16, cx: &ReadCx<'_>) -> Result<Option<S>> {
        if self.has(index) {
            <S as Struct>::read(structs::struct_at(self.pointer(index))?, cx).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A capability field received as a client proxy: `None` when null.
    pub fn read_client<C: crate::ProxyClient>(
        &self,
        index: u16,
        cx: &ReadCx<'_>,
    ) -> Result<Option<C>> {
        cap::read_client(self.pointer(index), cx)
    }

    /// The union discriminant at `offset` (units of 16 bits).
    #[inline]
    pub fn discriminant(&self, offset: u32) -> u16 {
        self.get::<u16>(offset, 0)
    }
}

/// Write access to one struct of a message being built, by field offset.
pub struct StructBuilder<'a>(pub(crate) layout::StructBuilder<'a>);

impl<'a> StructBuilder<'a> {
    /// The same builder, for a shorter lifetime.
    pub fn reborrow(&mut self) -> StructBuilder<'_> {
        StructBuilder(self.0.reborrow())
    }

    /// Sets a primitive field at `offset` (units of the type's size; bits for `bool`).
    #[inline]
    pub fn set<T: Primitive>(&mut self, offset: u32, value: T, default: T) {
        T::set(&self.0, offset, value, default)
    }

    /// Sets an enum field at `offset` (units of 16 bits).
    #[inline]
    pub fn set_enum<E: Enum>(&mut self, offset: u32, value: E, default: u16) {
        self.set::<u16>(offset, value.ordinal(), default)
    }

    /// Sets the union discriminant at `offset` (units of 16 bits).
    #[inline]
    pub fn set_discriminant(&mut self, offset: u32, value: u16) {
        self.set::<u16>(offset, value, 0)
    }

    /// Pointer `index`, untyped.
    #[inline]
    pub fn pointer(&mut self, index: u16) -> any_pointer::Builder<'_> {
        any_pointer::Builder::new(self.0.reborrow().get_pointer_field(index as usize))
    }

    /// Writes a [`Value`] into pointer `index`.
    #[inline]
    pub fn write<T: Value>(&mut self, index: u16, value: &T, cx: &WriteCx<'_>) -> Result<()> {
        value.write(self.pointer(index), cx)
    }

    /// Writes a struct-typed pointer field; `None` leaves it null.
    pub fn write_struct<S: Struct>(
        &mut self,
        index: u16,
        value: Option<&S>,
        cx: &WriteCx<'_>,
    ) -> Result<()> {
        match value {
            Some(v) => Value::write(v, self.pointer(index), cx),
            None => Ok(()),
        }
    }

    /// Writes a capability to send (`Cap::null()` leaves the pointer null).
    pub fn write_cap<C>(
        &mut self,
        index: u16,
        value: &crate::Cap<C>,
        cx: &WriteCx<'_>,
    ) -> Result<()> {
        cap::write_cap(value, self.pointer(index), cx)
    }
}
