//! Interfaces: capabilities to send ([`Cap`]) and received client proxies.

use capnp::any_pointer;

use super::list::{read_pointer_list, write_pointer_list};
use super::{Element, ReadCx, Value, WriteCx};
use crate::error::Result;
use crate::{Cap, ProxyClient};

/// A received capability as a client proxy (`None` when null).
pub(crate) fn read_client<C: ProxyClient>(
    p: any_pointer::Reader<'_>,
    cx: &ReadCx<'_>,
) -> Result<Option<C>> {
    if p.is_null() {
        return Ok(None);
    }
    let client = p.get_as_capability::<capnp::capability::Client>()?;
    cx.conn()?.import::<C>(client).map(Some)
}

/// Puts a capability to send into an empty pointer (null stays null).
pub(crate) fn write_cap<C>(
    value: &Cap<C>,
    p: any_pointer::Builder<'_>,
    cx: &WriteCx<'_>,
) -> Result<()> {
    if value.is_null() {
        return Ok(());
    }
    if let Some(client) = value.to_client(cx.conn()?)? {
        let mut p = p;
        p.set_as_capability(client.hook);
    }
    Ok(())
}

/// Inside structs, lists and generic arguments an interface is a [`Cap`] both ways.
impl<C: ProxyClient> Value for Cap<C> {
    fn read(p: any_pointer::Reader<'_>, cx: &ReadCx<'_>) -> Result<Self> {
        Ok(read_client::<C>(p, cx)?.into())
    }
    fn write(&self, p: any_pointer::Builder<'_>, cx: &WriteCx<'_>) -> Result<()> {
        write_cap(self, p, cx)
    }
}

impl<C: ProxyClient> Element for Cap<C> {
    fn read_list(p: any_pointer::Reader<'_>, cx: &ReadCx<'_>) -> Result<Vec<Self>> {
        read_pointer_list(p, cx)
    }
    fn write_list(items: &[Self], p: any_pointer::Builder<'_>, cx: &WriteCx<'_>) -> Result<()> {
        write_pointer_list(items, p, cx)
    }
}
