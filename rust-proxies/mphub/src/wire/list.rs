//! Lists: `List(T)` is `Vec<T>`; `Data` and `List(UInt8)` (the same bytes on the wire)
//! are `Vec<u8>`.

use capnp::any_pointer;
use capnp::{any_pointer_list, data, primitive_list};

use super::{Element, Enum, ReadCx, Value, WriteCx};
use crate::error::{Error, Result};

/// A list length as Cap'n Proto's `u32`, refusing lists that cannot be sent.
pub(crate) fn len(len: usize) -> Result<u32> {
    u32::try_from(len)
        .map_err(|_| Error::Usage(format!("list of {len} elements is too long to send")))
}

impl<T: Element> Value for Vec<T> {
    fn read(p: any_pointer::Reader<'_>, cx: &ReadCx<'_>) -> Result<Self> {
        T::read_list(p, cx)
    }
    fn write(&self, p: any_pointer::Builder<'_>, cx: &WriteCx<'_>) -> Result<()> {
        T::write_list(self, p, cx)
    }
}

macro_rules! primitive_element {
    ($($t:ty),*) => {$(
        impl Element for $t {
            fn read_list(p: any_pointer::Reader<'_>, cx: &ReadCx<'_>) -> Result<Vec<Self>> {
                let list = p.get_as::<primitive_list::Reader<'_, $t>>()?;
                cx.charge::<$t>(list.len())?;
                Ok(list.iter().collect())
            }
            fn write_list(items: &[Self], p: any_pointer::Builder<'_>, _cx: &WriteCx<'_>) -> Result<()> {
                let mut list = p.initn_as::<primitive_list::Builder<'_, $t>>(len(items.len())?);
                for (i, v) in items.iter().enumerate() {
                    list.set(i as u32, *v);
                }
                Ok(())
            }
        }
    )*};
}
primitive_element!(bool, i8, i16, i32, i64, u16, u32, u64, f32, f64, ());

/// Bytes: one copy each way (`Data` and `List(UInt8)` share this encoding).
impl Element for u8 {
    fn read_list(p: any_pointer::Reader<'_>, cx: &ReadCx<'_>) -> Result<Vec<Self>> {
        let bytes = p.get_as::<data::Reader<'_>>()?;
        cx.charge::<u8>(bytes.len() as u32)?;
        Ok(bytes.to_vec())
    }
    fn write_list(items: &[Self], p: any_pointer::Builder<'_>, _cx: &WriteCx<'_>) -> Result<()> {
        let n = len(items.len())?;
        p.initn_as::<data::Builder<'_>>(n).copy_from_slice(items);
        Ok(())
    }
}

/// Reads a list of pointers (Text, Data, lists, capabilities, `AnyPointer`).
pub(crate) fn read_pointer_list<T: Value>(
    p: any_pointer::Reader<'_>,
    cx: &ReadCx<'_>,
) -> Result<Vec<T>> {
    let list = p.get_as::<any_pointer_list::Reader<'_>>()?;
    cx.charge::<T>(list.len())?;
    let mut out = Vec::with_capacity(list.len() as usize);
    for i in 0..list.len() {
        out.push(T::read(list.get(i), cx)?);
    }
    Ok(out)
}

/// Writes a list of pointers.
pub(crate) fn write_pointer_list<T: Value>(
    items: &[T],
    p: any_pointer::Builder<'_>,
    cx: &WriteCx<'_>,
) -> Result<()> {
    let mut list = p.initn_as::<any_pointer_list::Builder<'_>>(len(items.len())?);
    for (i, v) in items.iter().enumerate() {
        v.write(list.reborrow().get(i as u32), cx)?;
    }
    Ok(())
}

/// `List(List(T))`.
impl<T: Element> Element for Vec<T> {
    fn read_list(p: any_pointer::Reader<'_>, cx: &ReadCx<'_>) -> Result<Vec<Self>> {
        read_pointer_list(p, cx)
    }
    fn write_list(items: &[Self], p: any_pointer::Builder<'_>, cx: &WriteCx<'_>) -> Result<()> {
        write_pointer_list(items, p, cx)
    }
}

/// Reads `List(E)` for a generated enum `E` (generated `Element` impls call this).
pub fn read_enum_list<E: Enum>(p: any_pointer::Reader<'_>, cx: &ReadCx<'_>) -> Result<Vec<E>> {
    let list = p.get_as::<primitive_list::Reader<'_, u16>>()?;
    cx.charge::<E>(list.len())?;
    Ok(list.iter().map(E::from_ordinal).collect())
}

/// Writes `List(E)` for a generated enum `E`.
pub fn write_enum_list<E: Enum>(items: &[E], p: any_pointer::Builder<'_>) -> Result<()> {
    let mut list = p.initn_as::<primitive_list::Builder<'_, u16>>(len(items.len())?);
    for (i, v) in items.iter().enumerate() {
        list.set(i as u32, v.ordinal());
    }
    Ok(())
}
