//! Structs: pointers to them, lists of them, whole messages, and constants.
//!
//! [`Raw<S>`] gives any [`Struct`] the capnp-level identity (`Owned`, list element,
//! pointer target) that capnp's own list and pointer code needs, without capnpc output.

use std::marker::PhantomData;

use capnp::any_pointer;
use capnp::private::layout::{self, PointerBuilder, PointerReader};
use capnp::traits::{FromPointerBuilder, FromPointerReader, HasStructSize, SetterInput};

use super::{Element, ReadCx, Struct, StructBuilder, StructReader, Value, WriteCx};
use crate::error::{Error, Result};

/// capnp-level marker for the struct type `S` (its `Owned` type).
pub struct Raw<S>(PhantomData<fn() -> S>);

/// capnp-level reader of a struct of type `S`.
#[derive(Clone, Copy)]
pub struct RawReader<'a>(pub(crate) layout::StructReader<'a>);

/// capnp-level builder of a struct of type `S`.
pub struct RawBuilder<'a, S>(pub(crate) layout::StructBuilder<'a>, PhantomData<fn() -> S>);

impl<S> capnp::introspect::Introspect for Raw<S> {
    fn introspect() -> capnp::introspect::Type {
        // mphub structs carry no capnpc schema; only capnp's own Debug output uses this.
        capnp::introspect::TypeVariant::AnyPointer.into()
    }
}

impl<S: Struct> capnp::traits::Owned for Raw<S> {
    type Reader<'a> = RawReader<'a>;
    type Builder<'a> = RawBuilder<'a, S>;
}

impl<S: Struct> capnp::traits::OwnedStruct for Raw<S> {
    type Reader<'a> = RawReader<'a>;
    type Builder<'a> = RawBuilder<'a, S>;
}

impl<'a> From<layout::StructReader<'a>> for RawReader<'a> {
    fn from(r: layout::StructReader<'a>) -> Self {
        RawReader(r)
    }
}

impl<'a> capnp::traits::IntoInternalStructReader<'a> for RawReader<'a> {
    fn into_internal_struct_reader(self) -> layout::StructReader<'a> {
        self.0
    }
}

impl<'a> FromPointerReader<'a> for RawReader<'a> {
    fn get_from_pointer(
        reader: &PointerReader<'a>,
        default: Option<&'a [capnp::Word]>,
    ) -> capnp::Result<Self> {
        Ok(RawReader(reader.get_struct(default)?))
    }
}

impl<S: Struct> SetterInput<Raw<S>> for RawReader<'_> {
    fn set_pointer_builder(
        mut pointer: PointerBuilder<'_>,
        value: Self,
        canonicalize: bool,
    ) -> capnp::Result<()> {
        pointer.set_struct(&value.0, canonicalize)
    }
}

impl<'a, S> From<layout::StructBuilder<'a>> for RawBuilder<'a, S> {
    fn from(b: layout::StructBuilder<'a>) -> Self {
        RawBuilder(b, PhantomData)
    }
}

impl<S: Struct> HasStructSize for RawBuilder<'_, S> {
    const STRUCT_SIZE: layout::StructSize = S::SIZE;
}

impl<'a, S: Struct> FromPointerBuilder<'a> for RawBuilder<'a, S> {
    fn init_pointer(builder: PointerBuilder<'a>, _size: u32) -> Self {
        RawBuilder(builder.init_struct(S::SIZE), PhantomData)
    }
    fn get_from_pointer(
        builder: PointerBuilder<'a>,
        default: Option<&'a [capnp::Word]>,
    ) -> capnp::Result<Self> {
        Ok(RawBuilder(
            builder.get_struct(S::SIZE, default)?,
            PhantomData,
        ))
    }
}

/// The struct a pointer points to (null reads as a struct of defaults).
pub(crate) fn struct_at(p: any_pointer::Reader<'_>) -> Result<StructReader<'_>> {
    Ok(StructReader(p.get_as::<RawReader<'_>>()?.0))
}

/// A struct type is a pointer value: null reads as all defaults.
impl<S: Struct> Value for S {
    fn read(p: any_pointer::Reader<'_>, cx: &ReadCx<'_>) -> Result<Self> {
        S::read(struct_at(p)?, cx)
    }
    fn write(&self, p: any_pointer::Builder<'_>, cx: &WriteCx<'_>) -> Result<()> {
        let raw = p.init_as::<RawBuilder<'_, S>>();
        Struct::write(self, &mut StructBuilder(raw.0), cx)
    }
}

impl<S: Struct> Element for S {
    fn read_list(p: any_pointer::Reader<'_>, cx: &ReadCx<'_>) -> Result<Vec<Self>> {
        let list = p.get_as::<capnp::struct_list::Reader<'_, Raw<S>>>()?;
        cx.charge::<S>(list.len())?;
        let mut out = Vec::with_capacity(list.len() as usize);
        for r in list.iter() {
            out.push(<S as Struct>::read(StructReader(r.0), cx)?);
        }
        Ok(out)
    }
    fn write_list(items: &[Self], p: any_pointer::Builder<'_>, cx: &WriteCx<'_>) -> Result<()> {
        let mut list =
            p.initn_as::<capnp::struct_list::Builder<'_, Raw<S>>>(super::list::len(items.len())?);
        for (i, item) in items.iter().enumerate() {
            let raw = list.reborrow().get(i as u32);
            Struct::write(item, &mut StructBuilder(raw.0), cx)?;
        }
        Ok(())
    }
}

/// Decodes the root struct of a received message (the params or results of a call).
pub fn read_root<'a>(root: any_pointer::Reader<'a>) -> Result<StructReader<'a>> {
    struct_at(root)
}

/// Initialises `p` as a struct of `size` and fills it with `fill`. Params and results
/// structs have no Rust type to carry their size, so it is given here.
pub fn build_struct<R>(
    p: any_pointer::Builder<'_>,
    size: layout::StructSize,
    fill: impl FnOnce(StructBuilder<'_>) -> Result<R>,
) -> Result<R> {
    let mut p = p;
    let mut out = None;
    // `set_as` is the one public way to reach the pointer with a size known at run time.
    p.set_as::<any_pointer::Owned>(InitStruct {
        size,
        fill: Some(fill),
        out: &mut out,
    })?;
    out.unwrap_or_else(|| Err(Error::Usage("struct initialiser did not run".into())))
}

struct InitStruct<'o, F, R> {
    size: layout::StructSize,
    fill: Option<F>,
    out: &'o mut Option<Result<R>>,
}

impl<F, R> SetterInput<any_pointer::Owned> for InitStruct<'_, F, R>
where
    F: FnOnce(StructBuilder<'_>) -> Result<R>,
{
    fn set_pointer_builder(
        pointer: PointerBuilder<'_>,
        mut value: Self,
        _canonicalize: bool,
    ) -> capnp::Result<()> {
        if let Some(fill) = value.fill.take() {
            *value.out = Some(fill(StructBuilder(pointer.init_struct(value.size))));
        }
        Ok(())
    }
}

/// Bytes from hex chunks (`["00ff", "10"]` → `[0x00, 0xff, 0x10]`), as `mphub-build`
/// embeds binary schema values so that no generated line is long.
pub fn hex_bytes(chunks: &[&str]) -> Vec<u8> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        // The chunks come from mphub-build, never from a peer.
        _ => panic!("mphub: embedded schema value is not hex"),
    };
    chunks
        .iter()
        .flat_map(|c| c.as_bytes().chunks(2))
        .map(|pair| (digit(pair[0]) << 4) | pair.get(1).map_or(0, |d| digit(*d)))
        .collect()
}

/// Decodes a schema constant or default value that `mphub-build` embedded as a
/// serialized message (hex chunks, see [`hex_bytes`]) whose root pointer holds the value.
pub fn decode_const<T: Value>(message: &[&str]) -> T {
    let message = hex_bytes(message);
    let decoded = (|| -> Result<T> {
        let mut bytes = &message[..];
        let reader =
            capnp::serialize::read_message(&mut bytes, capnp::message::ReaderOptions::new())?;
        let root: any_pointer::Reader<'_> = reader.get_root()?;
        T::read(root, &ReadCx::detached())
    })();
    match decoded {
        Ok(v) => v,
        // The bytes come from the capnp compiler through mphub-build, never from a peer.
        Err(e) => panic!("mphub: embedded schema constant does not decode: {e}"),
    }
}
