//! `Text`: bytes copied verbatim (no UTF-8 check, NULs kept), as libmultiprocess does.

use capnp::any_pointer;

use super::list::{read_pointer_list, write_pointer_list};
use super::{Element, ReadCx, Value, WriteCx};
use crate::error::Result;
use crate::Text;

impl Value for Text {
    fn read(p: any_pointer::Reader<'_>, cx: &ReadCx<'_>) -> Result<Self> {
        let t = p.get_as::<capnp::text::Reader<'_>>()?;
        cx.charge::<u8>(t.as_bytes().len() as u32)?;
        Ok(Text::from_bytes(t.as_bytes()))
    }
    fn write(&self, p: any_pointer::Builder<'_>, _cx: &WriteCx<'_>) -> Result<()> {
        let mut p = p;
        p.set_as::<capnp::text::Owned>(capnp::text::Reader::from(self.as_bytes()))?;
        Ok(())
    }
}

impl Element for Text {
    fn read_list(p: any_pointer::Reader<'_>, cx: &ReadCx<'_>) -> Result<Vec<Self>> {
        read_pointer_list(p, cx)
    }
    fn write_list(items: &[Self], p: any_pointer::Builder<'_>, cx: &WriteCx<'_>) -> Result<()> {
        write_pointer_list(items, p, cx)
    }
}
