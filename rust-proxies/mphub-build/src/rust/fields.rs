//! Fields: which ones Rust sees (mpgen's rules), their Rust types, and the expressions
//! that read and write them.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::Gen;
use crate::names::camel;
use crate::schema::{DefaultValue, Field, FieldKind, IntTy, Struct, Ty};
use crate::BuildError;

/// Where a value appears. Interfaces differ: a capability to send is a
/// [`mphub::Cap`], a received one at the top of a call is an `Option<XClient>`, and
/// inside structs, lists and generic arguments it is a `Cap` both ways.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Pos {
    /// A struct member or an output-struct field.
    Member,
    /// A param the client sends.
    ClientArg,
    /// A result the client receives.
    ClientOut,
    /// A param the server implementation receives.
    ServerArg,
    /// A result the server implementation returns.
    ServerOut,
}

/// A field Rust sees, with the `hasX` flag that makes it optional and the `wantX`
/// param that makes an output optional.
#[derive(Clone, Copy)]
pub struct Visible<'s> {
    pub field: &'s Field,
    pub flag: Option<&'s Field>,
    pub wanted: bool,
    /// A struct member whose struct contains this struct (a recursive type): boxed.
    pub boxed: bool,
}

fn is_bool(f: &Field) -> bool {
    f.ty() == Some(&Ty::Bool)
}

/// The `hasX` flag of field `f` in `s`, if any.
pub fn flag_of<'s>(s: &'s Struct, f: &Field) -> Option<&'s Field> {
    let want = format!("has{}", upper_first(&f.name));
    s.fields
        .iter()
        .find(|g| g.name == want && is_bool(g) && g.discriminant == f.discriminant)
}

fn upper_first(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// True when `f` is the `hasX` flag of a sibling field (hidden: it becomes an `Option`).
pub fn is_flag(s: &Struct, f: &Field) -> bool {
    if !is_bool(f) {
        return false;
    }
    let Some(rest) = f.name.strip_prefix("has") else {
        return false;
    };
    let mut c = rest.chars();
    let target = match c.next() {
        Some(first) => first.to_lowercase().collect::<String>() + c.as_str(),
        None => return false,
    };
    s.fields
        .iter()
        .any(|g| g.name == target && g.discriminant == f.discriminant)
}

fn hidden(s: &Struct, f: &Field) -> bool {
    is_flag(s, f) || matches!(f.ty(), Some(Ty::Void | Ty::Context | Ty::ThreadMap))
}

/// Plain (non-union) members of a struct as Rust sees them.
pub fn members(s: &Struct) -> Vec<Visible<'_>> {
    s.plain_fields()
        .filter(|f| !hidden(s, f))
        .map(|f| Visible {
            field: f,
            flag: flag_of(s, f),
            wanted: false,
            boxed: false,
        })
        .collect()
}

/// Params the caller passes (no `context`, `ThreadMap`, `hasX` flags or `Void`).
pub fn inputs(params: &Struct) -> Vec<Visible<'_>> {
    members(params)
}

/// Result fields returned as values (no flags, no exception slots, no `ThreadMap`).
pub fn outputs(results: &Struct) -> Vec<&Field> {
    results
        .plain_fields()
        .filter(|f| !hidden(results, f) && f.exception.is_none())
        .collect()
}

/// Outputs with their flags and `wantX` params.
pub fn visible_outputs<'s>(params: &'s Struct, results: &'s Struct) -> Vec<Visible<'s>> {
    outputs(results)
        .into_iter()
        .map(|f| Visible {
            field: f,
            flag: flag_of(results, f),
            wanted: params
                .fields
                .iter()
                .any(|p| p.name == format!("want{}", upper_first(&f.name)) && is_bool(p)),
            boxed: false,
        })
        .collect()
}

/// Result fields carrying `$Proxy.exception`.
pub fn exceptions(results: &Struct) -> Vec<&Field> {
    results
        .fields
        .iter()
        .filter(|f| f.exception.is_some())
        .collect()
}

/// Pointer indices of `Proxy.ThreadMap` fields (handled by the runtime).
pub fn thread_maps(s: &Struct) -> Vec<u16> {
    s.fields
        .iter()
        .filter_map(|f| match &f.kind {
            FieldKind::Slot {
                offset,
                ty: Ty::ThreadMap,
                ..
            } => Some(*offset as u16),
            _ => None,
        })
        .collect()
}

/// Pointer index of the `Proxy.Context` param, if any.
pub fn context_index(params: &Struct) -> Option<u16> {
    params.fields.iter().find_map(|f| match &f.kind {
        FieldKind::Slot {
            offset,
            ty: Ty::Context,
            ..
        } => Some(*offset as u16),
        _ => None,
    })
}

fn int_literal(t: IntTy, v: i128) -> Literal {
    match t {
        IntTy::I8 => Literal::i8_suffixed(v as i8),
        IntTy::I16 => Literal::i16_suffixed(v as i16),
        IntTy::I32 => Literal::i32_suffixed(v as i32),
        IntTy::I64 => Literal::i64_suffixed(v as i64),
        IntTy::U8 => Literal::u8_suffixed(v as u8),
        IntTy::U16 => Literal::u16_suffixed(v as u16),
        IntTy::U32 => Literal::u32_suffixed(v as u32),
        IntTy::U64 => Literal::u64_suffixed(v as u64),
    }
}

fn f64_expr(v: f64) -> TokenStream {
    if v.is_finite() {
        // Exponent form: short and exact (`1.7976931348623157e308f64`).
        format!("{v:e}f64")
            .parse()
            .unwrap_or_else(|_| quote!(0.0f64))
    } else {
        let bits = Literal::u64_suffixed(v.to_bits());
        quote!(f64::from_bits(#bits))
    }
}

fn f32_expr(v: f32) -> TokenStream {
    if v.is_finite() {
        format!("{v:e}f32")
            .parse()
            .unwrap_or_else(|_| quote!(0.0f32))
    } else {
        let bits = Literal::u32_suffixed(v.to_bits());
        quote!(f32::from_bits(#bits))
    }
}

/// The default of a data field as a Rust expression of its type (the XOR mask).
pub fn data_default(ty: &Ty, d: &DefaultValue) -> TokenStream {
    match (ty, d) {
        (Ty::Bool, DefaultValue::Bool(b)) => quote!(#b),
        (Ty::Bool, _) => quote!(false),
        (Ty::Int(t), DefaultValue::Int(v)) => {
            let l = int_literal(*t, *v);
            quote!(#l)
        }
        (Ty::Int(t), _) => {
            let l = int_literal(*t, 0);
            quote!(#l)
        }
        (Ty::Float32, DefaultValue::Float32(v)) => f32_expr(*v),
        (Ty::Float32, _) => quote!(0.0f32),
        (Ty::Float64, DefaultValue::Float64(v)) => f64_expr(*v),
        (Ty::Float64, _) => quote!(0.0f64),
        (Ty::Enum(_), DefaultValue::Enum(v)) => {
            let l = Literal::u16_suffixed(*v);
            quote!(#l)
        }
        (Ty::Enum(_), _) => quote!(0u16),
        _ => quote!(()),
    }
}

/// A byte string literal (short values).
pub fn bytes_literal(bytes: &[u8]) -> Literal {
    Literal::byte_string(bytes)
}

/// Bytes as hex chunks of 32 bytes, `&["00ff..", ..]`, for `mphub::wire::hex_bytes` and
/// `mphub::wire::decode_const`: long values stay readable and within line limits.
pub fn hex_chunks(bytes: &[u8]) -> TokenStream {
    let chunks = bytes.chunks(32).map(|c| {
        let hex: String = c.iter().map(|b| format!("{b:02x}")).collect();
        quote!(#hex)
    });
    quote!(&[#(#chunks),*])
}

/// A `Vec<u8>` expression for `bytes` (a literal when short, hex chunks when long).
pub fn bytes_expr(bytes: &[u8]) -> TokenStream {
    if bytes.len() <= 32 {
        let b = bytes_literal(bytes);
        quote!(#b.to_vec())
    } else {
        let h = hex_chunks(bytes);
        quote!(::mphub::wire::hex_bytes(#h))
    }
}

impl Gen<'_> {
    /// Rust type of a value in "value position": list elements, generic arguments,
    /// the inside of an `Option`. `params` are the enclosing struct's generic names.
    pub(crate) fn value_ty(
        &self,
        from: u64,
        params: &[String],
        ty: &Ty,
    ) -> Result<TokenStream, BuildError> {
        Ok(match ty {
            Ty::Void => quote!(()),
            Ty::Bool => quote!(bool),
            Ty::Int(t) => match t {
                IntTy::I8 => quote!(i8),
                IntTy::I16 => quote!(i16),
                IntTy::I32 => quote!(i32),
                IntTy::I64 => quote!(i64),
                IntTy::U8 => quote!(u8),
                IntTy::U16 => quote!(u16),
                IntTy::U32 => quote!(u32),
                IntTy::U64 => quote!(u64),
            },
            Ty::Float32 => quote!(f32),
            Ty::Float64 => quote!(f64),
            Ty::Text => quote!(::mphub::Text),
            Ty::Data => quote!(::std::vec::Vec<u8>),
            Ty::List(inner) => {
                let inner = self.value_ty(from, params, inner)?;
                quote!(::std::vec::Vec<#inner>)
            }
            Ty::Enum(id) => self.path(from, *id, ""),
            Ty::Struct(id, args) => {
                let path = self.path(from, *id, "");
                let kept = self.kept_args(*id, args);
                if kept.is_empty() {
                    path
                } else {
                    let args = kept
                        .iter()
                        .map(|a| self.value_ty(from, params, a))
                        .collect::<Result<Vec<_>, _>>()?;
                    quote!(#path<#(#args),*>)
                }
            }
            Ty::Interface(id) => {
                let client = self.path(from, *id, "Client");
                quote!(::mphub::Cap<#client>)
            }
            Ty::Param(i) => {
                let name = params
                    .get(*i)
                    .map(|p| camel(p))
                    .unwrap_or_else(|| format!("P{i}"));
                let id = format_ident!("{}", name);
                quote!(#id)
            }
            Ty::AnyPointer => quote!(::mphub::wire::AnyValue),
            Ty::Context | Ty::ThreadMap => quote!(()),
        })
    }

    /// Rust type of a visible field at `pos` (optionality included).
    pub(crate) fn field_ty(
        &self,
        from: u64,
        params: &[String],
        v: &Visible<'_>,
        pos: Pos,
    ) -> Result<TokenStream, BuildError> {
        let FieldKind::Slot { ty, .. } = &v.field.kind else {
            let FieldKind::Group(g) = v.field.kind else {
                unreachable!()
            };
            let path = self.path(from, g, "");
            let generics = self.generics(g);
            return Ok(if generics.is_empty() {
                path
            } else {
                quote!(#path<#(#generics),*>)
            });
        };
        let base = match ty {
            Ty::Interface(id) => {
                let client = self.path(from, *id, "Client");
                return Ok(match pos {
                    Pos::ClientOut | Pos::ServerArg => quote!(::std::option::Option<#client>),
                    _ => quote!(::mphub::Cap<#client>),
                });
            }
            Ty::Struct(..) => {
                let inner = self.value_ty(from, params, ty)?;
                return Ok(if v.boxed {
                    quote!(::std::option::Option<::std::boxed::Box<#inner>>)
                } else {
                    quote!(::std::option::Option<#inner>)
                });
            }
            _ => self.value_ty(from, params, ty)?,
        };
        let optional =
            v.flag.is_some() || (v.wanted && matches!(pos, Pos::ClientOut | Pos::ServerOut));
        Ok(if optional {
            quote!(::std::option::Option<#base>)
        } else {
            base
        })
    }

    /// Expression reading visible field `v` from struct reader `r` (with `cx` in scope).
    pub(crate) fn read_field(
        &self,
        from: u64,
        params: &[String],
        v: &Visible<'_>,
        pos: Pos,
    ) -> Result<TokenStream, BuildError> {
        let f = v.field;
        let (offset, ty, default) = match &f.kind {
            FieldKind::Group(g) => {
                let path = self.path(from, *g, "");
                return Ok(quote!(<#path as ::mphub::wire::Struct>::read(r, cx)?));
            }
            FieldKind::Slot {
                offset,
                ty,
                default,
            } => (*offset, ty, default),
        };
        let raw_offset = offset;
        let offset = Literal::u32_unsuffixed(offset);
        let value = match ty {
            Ty::Void => quote!(()),
            Ty::Bool | Ty::Int(_) | Ty::Float32 | Ty::Float64 => {
                let d = data_default(ty, default);
                quote!(r.get(#offset, #d))
            }
            Ty::Enum(id) => {
                let path = self.path(from, *id, "");
                let d = data_default(ty, default);
                quote!(r.get_enum::<#path>(#offset, #d))
            }
            Ty::Interface(id) => {
                let index = Literal::u16_unsuffixed(raw_offset as u16);
                let client = self.path(from, *id, "Client");
                return Ok(match pos {
                    Pos::ClientOut | Pos::ServerArg => {
                        quote!(r.read_client::<#client>(#index, cx)?)
                    }
                    _ => quote!(r.read::<::mphub::Cap<#client>>(#index, cx)?),
                });
            }
            Ty::Struct(..) => {
                let index = Literal::u16_unsuffixed(raw_offset as u16);
                let t = self.value_ty(from, params, ty)?;
                let read = match default {
                    DefaultValue::Message(bytes) => {
                        let b = hex_chunks(bytes);
                        quote! {
                            match r.read_struct::<#t>(#index, cx)? {
                                Some(v) => Some(v),
                                None => Some(::mphub::wire::decode_const::<#t>(#b)),
                            }
                        }
                    }
                    _ => quote!(r.read_struct::<#t>(#index, cx)?),
                };
                let read = if v.boxed {
                    quote!((#read).map(::std::boxed::Box::new))
                } else {
                    read
                };
                return Ok(match v.flag {
                    Some(flag) => {
                        let (foff, fdef) = flag_slot(flag);
                        quote!(if r.get(#foff, #fdef) { Some(r.read::<#t>(#index, cx)?) } else { None })
                    }
                    None => read,
                });
            }
            _ => {
                let index = Literal::u16_unsuffixed(raw_offset as u16);
                let t = self.value_ty(from, params, ty)?;
                match default {
                    DefaultValue::Text(bytes) => {
                        let b = bytes_literal(bytes);
                        quote!(r.read_or::<#t>(#index, cx, || ::mphub::Text::from_bytes(&#b[..]))?)
                    }
                    DefaultValue::Data(bytes) => {
                        let b = bytes_expr(bytes);
                        quote!(r.read_or::<#t>(#index, cx, || #b)?)
                    }
                    DefaultValue::Message(bytes) => {
                        let b = hex_chunks(bytes);
                        quote!(r.read_or::<#t>(#index, cx, || ::mphub::wire::decode_const::<#t>(#b))?)
                    }
                    _ => quote!(r.read::<#t>(#index, cx)?),
                }
            }
        };
        Ok(match v.flag {
            Some(flag) => {
                let (foff, fdef) = flag_slot(flag);
                quote!(if r.get(#foff, #fdef) { Some(#value) } else { None })
            }
            None => value,
        })
    }

    /// Statements writing visible field `v` (the expression `value` is a reference to
    /// the field's Rust value, e.g. `&self.x`) into struct builder `b` (with `cx` in scope).
    pub(crate) fn write_field(
        &self,
        from: u64,
        params: &[String],
        v: &Visible<'_>,
        pos: Pos,
        value: TokenStream,
    ) -> Result<TokenStream, BuildError> {
        let write = self.write_field_inner(v, pos, value.clone())?;
        // A pointer field equal to its schema default stays null: null reads as the
        // default, and the message then encodes as the capnp compiler's would.
        let pointer_default = matches!(
            &v.field.kind,
            FieldKind::Slot {
                default: DefaultValue::Text(_) | DefaultValue::Data(_) | DefaultValue::Message(_),
                ..
            }
        );
        if pointer_default && v.flag.is_none() && !v.boxed {
            let default = self.default_expr(from, params, v)?;
            let place = deref(&value);
            return Ok(quote! {
                if #place != #default {
                    #write
                }
            });
        }
        Ok(write)
    }

    fn write_field_inner(
        &self,
        v: &Visible<'_>,
        pos: Pos,
        value: TokenStream,
    ) -> Result<TokenStream, BuildError> {
        let f = v.field;
        let (offset, ty, default) = match &f.kind {
            FieldKind::Group(_) => {
                return Ok(quote!(::mphub::wire::Struct::write(#value, b, cx)?;));
            }
            FieldKind::Slot {
                offset,
                ty,
                default,
            } => (*offset, ty, default),
        };
        let index = Literal::u16_unsuffixed(offset as u16);
        let offset = Literal::u32_unsuffixed(offset);
        // Writes a non-optional value referenced by `x`.
        let write_one = |x: TokenStream| -> TokenStream {
            match ty {
                Ty::Void => quote!(let _ = #x;),
                Ty::Bool | Ty::Int(_) | Ty::Float32 | Ty::Float64 => {
                    let d = data_default(ty, default);
                    let x = deref(&x);
                    quote!(b.set(#offset, #x, #d);)
                }
                Ty::Enum(_) => {
                    let d = data_default(ty, default);
                    let x = deref(&x);
                    quote!(b.set_enum(#offset, #x, #d);)
                }
                Ty::Interface(_) => quote!(b.write_cap(#index, #x, cx)?;),
                _ => quote!(b.write(#index, #x, cx)?;),
            }
        };
        if let Ty::Interface(_) = ty {
            // Already nullable: a flag, if any, says whether it is set.
            let write = write_one(value.clone());
            return Ok(match v.flag {
                Some(flag) => {
                    let (foff, fdef) = flag_slot(flag);
                    quote! { #write b.set(#foff, !(#value).is_null(), #fdef); }
                }
                None => write,
            });
        }
        if let (Ty::Struct(..), None) = (ty, v.flag) {
            // `&self.x` → `self.x`; a reference `x` is used as is (methods auto-deref).
            let place = receiver(&value);
            return Ok(if v.boxed {
                quote!(b.write_struct(#index, #place.as_deref(), cx)?;)
            } else {
                quote!(b.write_struct(#index, #place.as_ref(), cx)?;)
            });
        }
        if let Some(flag) = v.flag {
            let (foff, fdef) = flag_slot(flag);
            let write = write_one(quote!(x));
            return Ok(quote! {
                match #value {
                    Some(x) => {
                        #write
                        b.set(#foff, true, #fdef);
                    }
                    None => b.set(#foff, false, #fdef),
                }
            });
        }
        if v.wanted && matches!(pos, Pos::ServerOut) {
            let write = write_one(quote!(x));
            return Ok(quote! {
                if let Some(x) = #value {
                    #write
                }
            });
        }
        Ok(write_one(value))
    }
}

/// The value behind a reference expression: `&a.b` → `a.b`, `x` → `*x`.
fn deref(x: &TokenStream) -> TokenStream {
    let mut tokens = x.clone().into_iter();
    match tokens.next() {
        Some(proc_macro2::TokenTree::Punct(p)) if p.as_char() == '&' => tokens.collect(),
        _ => quote!(*#x),
    }
}

/// An expression to call a method on: `&a.b` → `a.b`, anything else unchanged.
fn receiver(x: &TokenStream) -> TokenStream {
    let mut tokens = x.clone().into_iter();
    match tokens.next() {
        Some(proc_macro2::TokenTree::Punct(p)) if p.as_char() == '&' => tokens.collect(),
        _ => x.clone(),
    }
}

/// Offset and default of a `hasX` flag.
fn flag_slot(flag: &Field) -> (Literal, TokenStream) {
    match &flag.kind {
        FieldKind::Slot {
            offset, default, ..
        } => (
            Literal::u32_unsuffixed(*offset),
            data_default(&Ty::Bool, default),
        ),
        FieldKind::Group(_) => (Literal::u32_unsuffixed(0), quote!(false)),
    }
}
