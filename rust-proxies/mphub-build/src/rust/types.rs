//! Structs (and groups and unions), enums and constants.

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use super::fields::{bytes_expr, bytes_literal, data_default, hex_chunks, members, Pos, Visible};
use super::Gen;
use crate::names::{camel, ident, Namespace};

use crate::schema::{Const, DefaultValue, Enum, Field, FieldKind, Struct, StructRole, Ty};
use crate::BuildError;

/// Where-clause bounds for generic parameters of mphub structs.
fn bounds(generics: &[Ident]) -> TokenStream {
    if generics.is_empty() {
        quote!()
    } else {
        quote!(<#(#generics: ::mphub::wire::Value + ::mphub::wire::Element),*>)
    }
}

fn default_bounds(generics: &[Ident]) -> TokenStream {
    if generics.is_empty() {
        quote!()
    } else {
        quote!(<#(#generics: ::std::default::Default),*>)
    }
}

fn type_args(generics: &[Ident]) -> TokenStream {
    if generics.is_empty() {
        quote!()
    } else {
        quote!(<#(#generics),*>)
    }
}

/// A union member as a Rust enum variant.
struct Variant<'s> {
    name: Ident,
    field: &'s Field,
    discriminant: u16,
}

impl Gen<'_> {
    fn doc_struct(&self, s: &Struct, kind: &str) -> String {
        let mut doc = format!(
            " {kind} `{}` (`{}`)",
            s.capnp_name,
            self.schema.file_path(s.id)
        );
        if let Some(w) = &s.wrap {
            doc.push_str(&format!(", C++ `{w}`"));
        }
        doc.push('.');
        doc
    }

    fn field_doc(&self, f: &Field, params: &[String]) -> String {
        let mut doc = match (f.ordinal, f.ty()) {
            (Some(o), Some(ty)) => format!(" `{} @{o} :{}`", f.name, self.capnp_ty(ty, params)),
            (Some(o), None) => format!(" `{} @{o}`", f.name),
            (None, _) => format!(" `{}` (group)", f.name),
        };
        if f.skip {
            doc.push_str(", `$Proxy.skip` (C++ fills it by hand; it is on the wire)");
        }
        if let Some(n) = &f.cpp_name {
            doc.push_str(&format!(", C++ member `{n}`"));
        }
        if let Some(c) = f.count.filter(|c| *c != 0 && *c != 1) {
            doc.push_str(&format!(", `$Proxy.count({c})`: {c} C++ arguments"));
        }
        doc.push('.');
        doc
    }

    /// The Rust default value of a visible member.
    pub(crate) fn default_expr(
        &self,
        from: u64,
        params: &[String],
        v: &Visible<'_>,
    ) -> Result<TokenStream, BuildError> {
        if v.flag.is_some() {
            return Ok(quote!(::std::option::Option::None));
        }
        let (ty, default) = match &v.field.kind {
            FieldKind::Group(g) => {
                let path = self.path(from, *g, "");
                return Ok(quote!(<#path as ::std::default::Default>::default()));
            }
            FieldKind::Slot { ty, default, .. } => (ty, default),
        };
        Ok(match (ty, default) {
            (Ty::Bool | Ty::Int(_) | Ty::Float32 | Ty::Float64, _) => data_default(ty, default),
            (Ty::Enum(id), _) => {
                let path = self.path(from, *id, "");
                let d = data_default(ty, default);
                quote!(<#path as ::mphub::wire::Enum>::from_ordinal(#d))
            }
            (Ty::Text, DefaultValue::Text(b)) => {
                let b = bytes_literal(b);
                quote!(::mphub::Text::from_bytes(&#b[..]))
            }
            (Ty::Data, DefaultValue::Data(b)) => bytes_expr(b),
            (Ty::Struct(..), DefaultValue::Message(b)) => {
                let t = self.value_ty(from, params, ty)?;
                let b = hex_chunks(b);
                quote!(Some(::mphub::wire::decode_const::<#t>(#b)))
            }
            (Ty::Struct(..), _) => quote!(::std::option::Option::None),
            (_, DefaultValue::Message(b)) => {
                let t = self.value_ty(from, params, ty)?;
                let b = hex_chunks(b);
                quote!(::mphub::wire::decode_const::<#t>(#b))
            }
            _ => quote!(::std::default::Default::default()),
        })
    }

    fn variants<'s>(&self, s: &'s Struct) -> Vec<Variant<'s>> {
        let mut ns = Namespace::with_reserved(&["Self"]);
        s.union_fields()
            .into_iter()
            .map(|f| Variant {
                name: format_ident!("{}", ns.claim(&camel(&f.name))),
                field: f,
                discriminant: f.discriminant.unwrap_or(0),
            })
            .collect()
    }

    /// Payload type of a variant (`None` for `Void`).
    fn variant_ty(
        &self,
        from: u64,
        s: &Struct,
        v: &Variant<'_>,
    ) -> Result<Option<TokenStream>, BuildError> {
        if v.field.ty() == Some(&Ty::Void) {
            return Ok(None);
        }
        let vis = Visible {
            field: v.field,
            flag: None,
            wanted: false,
            boxed: self.names.boxed.contains(&(s.id, v.field.index)),
        };
        self.field_ty(from, &s.params, &vis, Pos::Member).map(Some)
    }

    /// Items of an enum over the union of `s`: type, Default, and the Struct impl.
    fn union_items(
        &self,
        from: u64,
        s: &Struct,
        name: &Ident,
        generics: &[Ident],
        doc: &str,
    ) -> Result<TokenStream, BuildError> {
        let variants = self.variants(s);
        let offset = Literal::u32_unsuffixed(s.discriminant_offset.unwrap_or(0));
        let mut decls = Vec::new();
        let mut reads = Vec::new();
        let mut writes = Vec::new();
        let mut default = None;
        // A unit variant as the default can be derived (`#[default]`).
        let mut unit_default = false;
        for v in &variants {
            let vname = &v.name;
            let d = Literal::u16_unsuffixed(v.discriminant);
            let vdoc = self.field_doc(v.field, &s.params);
            let vis = Visible {
                field: v.field,
                flag: None,
                wanted: false,
                boxed: self.names.boxed.contains(&(s.id, v.field.index)),
            };
            match self.variant_ty(from, s, v)? {
                None => {
                    if v.discriminant == 0 {
                        default = Some(quote!(Self::#vname));
                        unit_default = true;
                        decls.push(quote!(#[doc = #vdoc] #[default] #vname));
                    } else {
                        decls.push(quote!(#[doc = #vdoc] #vname));
                    }
                    reads.push(quote!(#d => Self::#vname));
                    writes.push(quote!(Self::#vname => b.set_discriminant(#offset, #d)));
                }
                Some(t) => {
                    decls.push(quote!(#[doc = #vdoc] #vname(#t)));
                    let read = self.read_field(from, &s.params, &vis, Pos::Member)?;
                    reads.push(quote!(#d => Self::#vname(#read)));
                    let write = self.write_field(from, &s.params, &vis, Pos::Member, quote!(x))?;
                    writes.push(quote!(Self::#vname(x) => {
                        b.set_discriminant(#offset, #d);
                        #write
                    }));
                    if v.discriminant == 0 {
                        let dflt = self.default_expr(from, &s.params, &vis)?;
                        default = Some(quote!(Self::#vname(#dflt)));
                    }
                }
            }
        }
        let default = default.ok_or_else(|| {
            BuildError::Schema(format!(
                "union of {} has no member with discriminant 0",
                s.capnp_name
            ))
        })?;
        let data = Literal::u16_unsuffixed(s.data_words);
        let pointers = Literal::u16_unsuffixed(s.pointers);
        let struct_bounds = bounds(generics);
        let def_bounds = default_bounds(generics);
        let args = type_args(generics);
        let what = format!("{}: unknown union member", s.capnp_name);
        // A union of exactly `value` and `error` (Core's `Expected`) converts to and from
        // `std::result::Result`.
        let mut result_helpers = TokenStream::new();
        if let [a, b] = &variants[..] {
            if a.field.name == "value" && b.field.name == "error" {
                if let (Some(ta), Some(tb)) =
                    (self.variant_ty(from, s, a)?, self.variant_ty(from, s, b)?)
                {
                    let (va, vb) = (&a.name, &b.name);
                    result_helpers = quote! {
                        impl #args #name #args {
                            /// `Ok` for the value, `Err` for the error.
                            pub fn into_result(self) -> ::std::result::Result<#ta, #tb> {
                                match self {
                                    Self::#va(v) => Ok(v),
                                    Self::#vb(e) => Err(e),
                                }
                            }
                        }
                        impl #args ::std::convert::From<::std::result::Result<#ta, #tb>> for #name #args {
                            fn from(r: ::std::result::Result<#ta, #tb>) -> Self {
                                match r {
                                    Ok(v) => Self::#va(v),
                                    Err(e) => Self::#vb(e),
                                }
                            }
                        }
                    };
                }
            }
        }
        let (derives, default_impl) = if unit_default {
            (
                quote!(#[derive(Clone, Debug, Default, PartialEq)]),
                quote!(),
            )
        } else {
            (
                quote!(#[derive(Clone, Debug, PartialEq)]),
                quote! {
                    impl #def_bounds ::std::default::Default for #name #args {
                        fn default() -> Self {
                            #default
                        }
                    }
                },
            )
        };
        Ok(quote! {
            #[doc = #doc]
            #derives
            pub enum #name #args {
                #(#decls,)*
            }

            #default_impl
            #result_helpers

            impl #struct_bounds ::mphub::wire::Struct for #name #args {
                const SIZE: ::mphub::wire::StructSize = ::mphub::wire::StructSize {
                    data: #data,
                    pointers: #pointers,
                };
                #[allow(unused_variables)]
                fn read(r: ::mphub::wire::StructReader<'_>, cx: &::mphub::wire::ReadCx<'_>) -> ::mphub::Result<Self> {
                    Ok(match r.discriminant(#offset) {
                        #(#reads,)*
                        d => return Err(::mphub::Error::Malformed(format!("{} {d}", #what))),
                    })
                }
                #[allow(unused_variables)]
                fn write(&self, b: &mut ::mphub::wire::StructBuilder<'_>, cx: &::mphub::wire::WriteCx<'_>) -> ::mphub::Result<()> {
                    match self {
                        #(#writes,)*
                    }
                    Ok(())
                }
            }
        })
    }

    /// A declared struct or group: a Rust struct, or a Rust enum for a pure union.
    pub(crate) fn struct_item(&self, from: u64, s: &Struct) -> Result<TokenStream, BuildError> {
        if s.role == StructRole::Method {
            return Ok(TokenStream::new());
        }
        let name = format_ident!("{}", self.names.ty[&s.id]);
        let generics = self.generics(s.id);
        let mut out = TokenStream::new();
        // Groups are emitted where they are declared (right after their struct).
        let groups: Vec<u64> = s
            .fields
            .iter()
            .filter_map(|f| match f.kind {
                FieldKind::Group(g) => Some(g),
                _ => None,
            })
            .collect();
        if s.is_pure_union() {
            let doc = self.doc_struct(
                s,
                if s.role == StructRole::Group {
                    "Union"
                } else {
                    "Struct (a union)"
                },
            );
            out.extend(self.union_items(from, s, &name, &generics, &doc)?);
        } else {
            out.extend(self.plain_struct_items(from, s, &name, &generics)?);
        }
        for g in groups {
            out.extend(self.struct_item(from, self.schema.strct(g)?)?);
        }
        Ok(out)
    }

    fn plain_struct_items(
        &self,
        from: u64,
        s: &Struct,
        name: &Ident,
        generics: &[Ident],
    ) -> Result<TokenStream, BuildError> {
        let doc = self.doc_struct(
            s,
            if s.role == StructRole::Group {
                "Group"
            } else {
                "Struct"
            },
        );
        let mut decls = Vec::new();
        let mut defaults = Vec::new();
        let mut reads = Vec::new();
        let mut writes = Vec::new();
        // `#[derive(Default)]` unless some field has a schema default of its own.
        let mut derive_default = true;
        for mut v in members(s) {
            if let FieldKind::Slot { default, .. } = &v.field.kind {
                if v.flag.is_none() && !is_zero(default) {
                    derive_default = false;
                }
            }
            v.boxed = self.names.boxed.contains(&(s.id, v.field.index));
            let fname = ident(&self.names.field[&(s.id, v.field.index)]);
            let ty = self.field_ty(from, &s.params, &v, Pos::Member)?;
            let fdoc = self.field_doc(v.field, &s.params);
            decls.push(quote!(#[doc = #fdoc] pub #fname: #ty));
            let dflt = self.default_expr(from, &s.params, &v)?;
            defaults.push(quote!(#fname: #dflt));
            let read = self.read_field(from, &s.params, &v, Pos::Member)?;
            reads.push(quote!(#fname: #read));
            writes.push(self.write_field(
                from,
                &s.params,
                &v,
                Pos::Member,
                quote!(&self.#fname),
            )?);
        }
        let mut extra = TokenStream::new();
        if let Some(which) = self.names.which.get(&s.id) {
            let which = format_ident!("{}", which);
            let used = self.union_params(s);
            let wgen = self.kept_generics(&s.params, &used);
            let wargs = type_args(&wgen);
            let wdoc = format!(" The union inside `{}`.", s.capnp_name);
            extra = self.union_items(from, s, &which, &wgen, &wdoc)?;
            decls.push(quote!(#[doc = " Which union member is set, with its value."] pub which: #which #wargs));
            defaults.push(quote!(which: ::std::default::Default::default()));
            reads.push(quote!(which: <#which #wargs as ::mphub::wire::Struct>::read(r, cx)?));
            writes.push(quote!(::mphub::wire::Struct::write(&self.which, b, cx)?;));
        }
        let helpers = self.struct_helpers(from, s, name, generics)?;
        let data = Literal::u16_unsuffixed(s.data_words);
        let pointers = Literal::u16_unsuffixed(s.pointers);
        let struct_bounds = bounds(generics);
        let def_bounds = default_bounds(generics);
        let args = type_args(generics);
        let (derives, default_impl) = if derive_default {
            (
                quote!(#[derive(Clone, Debug, Default, PartialEq)]),
                quote!(),
            )
        } else {
            (
                quote!(#[derive(Clone, Debug, PartialEq)]),
                quote! {
                    impl #def_bounds ::std::default::Default for #name #args {
                        fn default() -> Self {
                            Self { #(#defaults,)* }
                        }
                    }
                },
            )
        };
        Ok(quote! {
            #[doc = #doc]
            #derives
            pub struct #name #args {
                #(#decls,)*
            }

            #default_impl

            impl #struct_bounds ::mphub::wire::Struct for #name #args {
                const SIZE: ::mphub::wire::StructSize = ::mphub::wire::StructSize {
                    data: #data,
                    pointers: #pointers,
                };
                #[allow(unused_variables)]
                fn read(r: ::mphub::wire::StructReader<'_>, cx: &::mphub::wire::ReadCx<'_>) -> ::mphub::Result<Self> {
                    Ok(Self { #(#reads,)* })
                }
                #[allow(unused_variables)]
                fn write(&self, b: &mut ::mphub::wire::StructBuilder<'_>, cx: &::mphub::wire::WriteCx<'_>) -> ::mphub::Result<()> {
                    #(#writes)*
                    Ok(())
                }
            }

            #extra
            #helpers
        })
    }

    /// Conversions for the shapes Core's common.capnp uses: a two-field struct (a map
    /// entry, `Pair(K, V)`) to and from a tuple; `value` + `error` (`Result(V)`) and
    /// `error` alone (`ResultVoid`) to and from `std::result::Result`.
    fn struct_helpers(
        &self,
        from: u64,
        s: &Struct,
        name: &Ident,
        generics: &[Ident],
    ) -> Result<TokenStream, BuildError> {
        if s.discriminant_offset.is_some() {
            return Ok(TokenStream::new());
        }
        let members = members(s);
        let args = type_args(generics);
        let generics_decl = type_args(generics);
        let field = |v: &Visible<'_>| ident(&self.names.field[&(s.id, v.field.index)]);
        let ty = |v: &Visible<'_>| self.field_ty(from, &s.params, v, Pos::Member);
        let names: Vec<&str> = members.iter().map(|v| v.field.name.as_str()).collect();
        let is_error = |v: &Visible<'_>| {
            v.flag.is_none() && !v.boxed && matches!(v.field.ty(), Some(Ty::Struct(..)))
        };
        let mut out = TokenStream::new();
        if let [a, b] = &members[..] {
            let (fa, fb, ta, tb) = (field(a), field(b), ty(a)?, ty(b)?);
            let doc = format!(
                " `{}` as a `({}, {})` pair.",
                s.capnp_name, a.field.name, b.field.name
            );
            out.extend(quote! {
                impl #generics_decl ::std::convert::From<(#ta, #tb)> for #name #args {
                    #[doc = #doc]
                    fn from((#fa, #fb): (#ta, #tb)) -> Self {
                        Self { #fa, #fb }
                    }
                }
                impl #generics_decl ::std::convert::From<#name #args> for (#ta, #tb) {
                    #[doc = #doc]
                    fn from(v: #name #args) -> Self {
                        (v.#fa, v.#fb)
                    }
                }
            });
        }
        let error_struct = |v: &Visible<'_>| -> Result<TokenStream, BuildError> {
            match v.field.ty() {
                Some(t @ Ty::Struct(..)) => self.value_ty(from, &s.params, t),
                _ => Ok(quote!(())),
            }
        };
        if let (["value", "error"], [value, error]) = (&names[..], &members[..]) {
            if is_error(error) {
                let (tv, te) = (ty(value)?, error_struct(error)?);
                out.extend(quote! {
                    impl #generics_decl #name #args {
                        /// The value, or the error when one is set (Core's `util::Result`).
                        pub fn into_result(self) -> ::std::result::Result<#tv, #te> {
                            match self.error {
                                Some(e) => Err(e),
                                None => Ok(self.value),
                            }
                        }
                    }
                    impl #generics_decl ::std::convert::From<::std::result::Result<#tv, #te>> for #name #args
                    where
                        #tv: ::std::default::Default,
                    {
                        /// `Ok(v)` sets the value; `Err(e)` sets the error (and a default value).
                        fn from(r: ::std::result::Result<#tv, #te>) -> Self {
                            match r {
                                Ok(value) => Self { value, error: None },
                                Err(e) => Self { value: ::std::default::Default::default(), error: Some(e) },
                            }
                        }
                    }
                });
            }
        }
        if let (["error"], [error]) = (&names[..], &members[..]) {
            if is_error(error) {
                let te = error_struct(error)?;
                out.extend(quote! {
                    impl #generics_decl #name #args {
                        /// `Ok(())`, or the error when one is set (Core's `util::Result<void>`).
                        pub fn into_result(self) -> ::std::result::Result<(), #te> {
                            match self.error {
                                Some(e) => Err(e),
                                None => Ok(()),
                            }
                        }
                    }
                    impl #generics_decl ::std::convert::From<::std::result::Result<(), #te>> for #name #args {
                        fn from(r: ::std::result::Result<(), #te>) -> Self {
                            Self { error: r.err() }
                        }
                    }
                });
            }
        }
        Ok(out)
    }

    /// Generic parameters used by the union members of `s`.
    fn union_params(&self, s: &Struct) -> Vec<bool> {
        let mut used = vec![false; s.params.len()];
        for f in s.union_fields() {
            match &f.kind {
                FieldKind::Slot { ty, .. } => mark(ty, &mut used),
                FieldKind::Group(g) => {
                    for (u, g) in used.iter_mut().zip(self.schema.used_params(*g)) {
                        *u |= g;
                    }
                }
            }
        }
        used
    }

    pub(crate) fn enum_item(&self, e: &Enum) -> TokenStream {
        let name = format_ident!("{}", self.names.ty[&e.id]);
        let doc = format!(
            " Enum `{}` (`{}`).",
            e.capnp_name,
            self.schema.file_path(e.id)
        );
        let mut ns = Namespace::with_reserved(&["Unknown", "Self"]);
        let variants: Vec<Ident> = e
            .enumerants
            .iter()
            .map(|n| format_ident!("{}", ns.claim(&camel(n))))
            .collect();
        let ordinals: Vec<Literal> = (0..variants.len() as u16)
            .map(Literal::u16_unsuffixed)
            .collect();
        let docs: Vec<String> = e
            .enumerants
            .iter()
            .enumerate()
            .map(|(i, n)| format!(" `{n}` (@{i})"))
            .collect();
        // The default is ordinal 0: the first enumerant.
        let defaults: Vec<TokenStream> = (0..variants.len())
            .map(|i| if i == 0 { quote!(#[default]) } else { quote!() })
            .collect();
        quote! {
            #[doc = #doc]
            #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
            pub enum #name {
                #(#[doc = #docs] #defaults #variants,)*
                /// An ordinal this schema does not name (sent by a newer peer); kept as is.
                Unknown(u16),
            }

            impl ::mphub::wire::Enum for #name {
                fn from_ordinal(ordinal: u16) -> Self {
                    match ordinal {
                        #(#ordinals => Self::#variants,)*
                        other => Self::Unknown(other),
                    }
                }
                fn ordinal(self) -> u16 {
                    match self {
                        #(Self::#variants => #ordinals,)*
                        Self::Unknown(other) => other,
                    }
                }
            }

            impl ::mphub::wire::Element for #name {
                fn read_list(
                    p: ::mphub::rt::capnp::any_pointer::Reader<'_>,
                    cx: &::mphub::wire::ReadCx<'_>,
                ) -> ::mphub::Result<::std::vec::Vec<Self>> {
                    ::mphub::wire::read_enum_list(p, cx)
                }
                fn write_list(
                    items: &[Self],
                    p: ::mphub::rt::capnp::any_pointer::Builder<'_>,
                    _cx: &::mphub::wire::WriteCx<'_>,
                ) -> ::mphub::Result<()> {
                    ::mphub::wire::write_enum_list(items, p)
                }
            }
        }
    }

    pub(crate) fn const_item(&self, from: u64, c: &Const) -> Result<TokenStream, BuildError> {
        let name = format_ident!("{}", self.names.konst[&c.id]);
        let doc = format!(
            " Constant `{}` (`{}`).",
            c.capnp_name,
            self.schema.file_path(c.id)
        );
        Ok(match (&c.ty, &c.value) {
            (Ty::Bool | Ty::Int(_) | Ty::Float32 | Ty::Float64, v) => {
                let t = self.value_ty(from, &[], &c.ty)?;
                let v = data_default(&c.ty, v);
                quote!(#[doc = #doc] pub const #name: #t = #v;)
            }
            (Ty::Enum(id), v) => {
                let t = self.path(from, *id, "");
                let d = data_default(&c.ty, v);
                quote! {
                    #[doc = #doc]
                    pub fn #name() -> #t {
                        <#t as ::mphub::wire::Enum>::from_ordinal(#d)
                    }
                }
            }
            (Ty::Text, DefaultValue::Text(b)) => {
                let s = String::from_utf8_lossy(b).into_owned();
                quote!(#[doc = #doc] pub const #name: &str = #s;)
            }
            (Ty::Data, DefaultValue::Data(b)) => {
                let b = bytes_literal(b);
                quote!(#[doc = #doc] pub const #name: &[u8] = #b;)
            }
            (Ty::Struct(..) | Ty::List(_) | Ty::AnyPointer, DefaultValue::Message(b)) => {
                let t = self.value_ty(from, &[], &c.ty)?;
                let b = hex_chunks(b);
                quote! {
                    #[doc = #doc]
                    pub fn #name() -> #t {
                        ::mphub::wire::decode_const::<#t>(#b)
                    }
                }
            }
            (Ty::Struct(..) | Ty::List(_) | Ty::AnyPointer | Ty::Text | Ty::Data, _) => {
                let t = self.value_ty(from, &[], &c.ty)?;
                quote! {
                    #[doc = #doc]
                    pub fn #name() -> #t {
                        ::std::default::Default::default()
                    }
                }
            }
            // A constant of interface type is always null: nothing to generate.
            _ => TokenStream::new(),
        })
    }
}

/// True for a default equal to the type's zero value (what `#[derive(Default)]` gives).
fn is_zero(d: &DefaultValue) -> bool {
    match d {
        DefaultValue::None => true,
        DefaultValue::Bool(b) => !b,
        DefaultValue::Int(v) => *v == 0,
        DefaultValue::Float32(v) => v.to_bits() == 0,
        DefaultValue::Float64(v) => v.to_bits() == 0,
        DefaultValue::Enum(v) => *v == 0,
        DefaultValue::Text(_) | DefaultValue::Data(_) | DefaultValue::Message(_) => false,
    }
}

fn mark(ty: &Ty, used: &mut [bool]) {
    match ty {
        Ty::Param(i) => {
            if let Some(u) = used.get_mut(*i) {
                *u = true;
            }
        }
        Ty::List(t) => mark(t, used),
        Ty::Struct(_, args) => args.iter().for_each(|a| mark(a, used)),
        _ => {}
    }
}
