//! Interfaces: `XClient` (calls), `XServer` (the trait to implement), and the hidden
//! `XAdapter` (serves an `XServer` to the runtime) and `XForwarder` (an `XServer` that
//! forwards to an `XClient`, what is sent when a proxy goes back to its own peer).

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use super::fields::{
    context_index, exceptions, inputs, thread_maps, visible_outputs, Pos, Visible,
};
use super::Gen;
use crate::names::{ident, screaming, Namespace};
use crate::schema::{Interface, Method, Struct, Ty};
use crate::BuildError;

/// Rust tuples implement `Debug` up to 12 elements: longer argument lists nest.
const TUPLE_MAX: usize = 12;

fn tuple(items: Vec<TokenStream>) -> TokenStream {
    if items.len() <= TUPLE_MAX {
        quote!((#(#items,)*))
    } else {
        let chunks: Vec<TokenStream> = items.chunks(TUPLE_MAX).map(|c| tuple(c.to_vec())).collect();
        quote!((#(#chunks,)*))
    }
}

/// Access path of element `i` of a tuple built by [`tuple`] from `n` items.
fn tuple_index(i: usize, n: usize) -> TokenStream {
    if n <= TUPLE_MAX {
        let i = Literal::usize_unsuffixed(i);
        quote!(.#i)
    } else {
        let outer = Literal::usize_unsuffixed(i / TUPLE_MAX);
        let inner = Literal::usize_unsuffixed(i % TUPLE_MAX);
        quote!(.#outer.#inner)
    }
}

/// One method as the emitters see it.
struct Plan<'s> {
    owner: &'s Interface,
    method: &'s Method,
    params: &'s Struct,
    results: &'s Struct,
    inputs: Vec<Visible<'s>>,
    outputs: Vec<Visible<'s>>,
    /// Rust method name on the client and the trait.
    rust: Ident,
    /// Name of the `Method` const on the owner's client.
    konst: Ident,
}

impl Gen<'_> {
    fn plan<'s>(
        &'s self,
        client: u64,
        owner: &'s Interface,
        m: &'s Method,
    ) -> Result<Plan<'s>, BuildError> {
        let params = self.schema.strct(m.params)?;
        let results = self.schema.strct(m.results)?;
        let rust = self
            .names
            .method
            .get(&(client, owner.id, m.ordinal))
            .map(|n| ident(n))
            .unwrap_or_else(|| ident(&m.name));
        let konst = format_ident!("{}", self.method_const(owner, m));
        Ok(Plan {
            owner,
            method: m,
            params,
            results,
            inputs: inputs(params),
            outputs: visible_outputs(params, results),
            rust,
            konst,
        })
    }

    /// The const holding a method's descriptor on its interface's client.
    fn method_const(&self, owner: &Interface, m: &Method) -> String {
        let mut ns = Namespace::with_reserved(&["INTERFACE"]);
        let mut found = String::new();
        for other in &owner.methods {
            let n = ns.claim(&screaming(&other.name));
            if other.ordinal == m.ordinal {
                found = n;
            }
        }
        found
    }

    /// Param names for signatures (`cx` is taken by the trait's call context).
    fn param_idents(&self, p: &Plan<'_>) -> Vec<Ident> {
        let mut ns = Namespace::with_reserved(&["cx", "self"]);
        p.inputs
            .iter()
            .map(|v| ident(&ns.claim(&crate::names::snake(&v.field.name))))
            .collect()
    }

    /// What a call returns, for the client (`ClientOut`) or the server (`ServerOut`).
    fn ret_ty(&self, from: u64, p: &Plan<'_>, pos: Pos) -> Result<TokenStream, BuildError> {
        if let Some(name) = self.names.output.get(&(p.owner.id, p.method.ordinal)) {
            let path = self.path(from, p.owner.id, "");
            let _ = path;
            let file = self
                .schema
                .file_of(p.owner.id)
                .map(|f| f.id)
                .unwrap_or(from);
            let n = format_ident!("{}", name);
            return Ok(if file == from {
                quote!(#n)
            } else {
                let m = &self.names.module[&file];
                quote!(super::#m::#n)
            });
        }
        match p.outputs.first() {
            None => Ok(quote!(())),
            Some(v) => self.field_ty(from, &[], v, pos),
        }
    }

    fn method_descriptor(&self, i: &Interface, m: &Method) -> Result<TokenStream, BuildError> {
        let params = self.schema.strct(m.params)?;
        let results = self.schema.strct(m.results)?;
        let konst = format_ident!("{}", self.method_const(i, m));
        let iface = &i.capnp_name;
        let name = &m.name;
        let id = super::hex_id(i.id);
        let ordinal = Literal::u16_unsuffixed(m.ordinal);
        let un = |v: u16| Literal::u16_unsuffixed(v);
        let (pd, pp) = (un(params.data_words), un(params.pointers));
        let (rd, rp) = (un(results.data_words), un(results.pointers));
        let context = match context_index(params) {
            Some(ix) => {
                let ix = un(ix);
                quote!(.context(#ix))
            }
            None => quote!(),
        };
        let doc = format!(" Descriptor of `{iface}.{name}` (@{}).", m.ordinal);
        Ok(quote! {
            #[doc = #doc]
            #[doc(hidden)]
            pub const #konst: ::mphub::Method = ::mphub::Method::new(#iface, #name, #id, #ordinal)
                .params(#pd, #pp)
                .results(#rd, #rp)
                #context;
        })
    }

    /// `Call::new(...)` for plan `p`, with the args already converted (`arg_exprs`).
    fn call_expr(
        &self,
        from: u64,
        p: &Plan<'_>,
        arg_exprs: Vec<TokenStream>,
    ) -> Result<TokenStream, BuildError> {
        let n = p.inputs.len();
        let owner_client = self.path(from, p.owner.id, "Client");
        let konst = &p.konst;
        let args = tuple(arg_exprs);
        // encode: context is added by the runtime; ThreadMap fields offer ours.
        let mut encode = Vec::new();
        for ix in thread_maps(p.params) {
            let ix = Literal::u16_unsuffixed(ix);
            encode.push(quote!(cx.conn()?.offer_thread_map(b.pointer(#ix));));
        }
        for (k, v) in p.inputs.iter().enumerate() {
            let at = tuple_index(k, n);
            encode.push(self.write_field(from, &[], v, Pos::ClientArg, quote!(&args #at))?);
        }
        // decode: ThreadMap results, declared exceptions, then the outputs.
        let mut decode = Vec::new();
        for ix in thread_maps(p.results) {
            let ix = Literal::u16_unsuffixed(ix);
            decode.push(quote!(cx.conn()?.accept_thread_map(r.pointer(#ix))?;));
        }
        for e in exceptions(p.results) {
            let Some(ty) = e.ty() else { continue };
            let crate::schema::FieldKind::Slot { offset, .. } = e.kind else {
                continue;
            };
            let index = Literal::u16_unsuffixed(offset as u16);
            let t = self.value_ty(from, &[], ty)?;
            let type_name = e.exception.as_deref().unwrap_or_default();
            if ty.is_data() {
                continue;
            }
            decode.push(quote! {
                if r.has(#index) {
                    return Err(::mphub::Error::declared(#type_name, r.read::<#t>(#index, cx)?));
                }
            });
        }
        let in_struct = self
            .names
            .output
            .contains_key(&(p.owner.id, p.method.ordinal));
        let read_out = |v: &Visible<'_>| -> Result<TokenStream, BuildError> {
            // Output-struct fields of interface type are `Cap`s, like struct members.
            let pos = if in_struct && matches!(v.field.ty(), Some(Ty::Interface(_))) {
                Pos::Member
            } else {
                Pos::ClientOut
            };
            let value = self.read_field(from, &[], v, pos)?;
            if v.wanted
                && v.flag.is_none()
                && !matches!(v.field.ty(), Some(Ty::Struct(..) | Ty::Interface(_)))
            {
                let want = format!("want{}", upper_first(&v.field.name));
                if let Some(k) = p.inputs.iter().position(|i| i.field.name == want) {
                    let at = tuple_index(k, n);
                    return Ok(quote!(if args #at { Some(#value) } else { None }));
                }
            }
            Ok(value)
        };
        let value = match self.names.output.get(&(p.owner.id, p.method.ordinal)) {
            Some(name) => {
                let out = self.output_path(from, p.owner.id, name);
                let mut fields = Vec::new();
                for v in &p.outputs {
                    let f = ident(&crate::names::snake(&v.field.name));
                    let read = read_out(v)?;
                    fields.push(quote!(#f: #read));
                }
                quote!(#out { #(#fields,)* })
            }
            None => match p.outputs.first() {
                Some(v) => read_out(v)?,
                None => quote!(()),
            },
        };
        let encode = quote!(#(#encode)* Ok(()));
        let decode = quote!(#(#decode)* Ok(#value));
        let encode_fn = super::closure(&["args", "b", "cx"], encode);
        let decode_fn = super::closure(&["args", "r", "cx"], decode);
        Ok(quote! {
            ::mphub::Call::new(
                &self.0,
                &#owner_client::#konst,
                #args,
                #encode_fn,
                #decode_fn,
            )
        })
    }

    fn output_path(&self, from: u64, owner: u64, name: &str) -> TokenStream {
        let file = self.schema.file_of(owner).map(|f| f.id).unwrap_or(from);
        let n = format_ident!("{}", name);
        if file == from {
            quote!(#n)
        } else {
            let m = &self.names.module[&file];
            quote!(super::#m::#n)
        }
    }

    /// The client method pair (async `Call` + `_blocking`) of plan `p`.
    fn client_methods(
        &self,
        from: u64,
        client: u64,
        p: &Plan<'_>,
    ) -> Result<TokenStream, BuildError> {
        let names = self.param_idents(p);
        let mut sig = Vec::new();
        let mut conv = Vec::new();
        for (v, name) in p.inputs.iter().zip(&names) {
            let t = self.field_ty(from, &[], v, Pos::ClientArg)?;
            let takes_into = v.flag.is_none()
                && matches!(
                    v.field.ty(),
                    Some(Ty::Text | Ty::Interface(_) | Ty::Struct(..))
                );
            if takes_into {
                sig.push(quote!(#name: impl ::std::convert::Into<#t>));
                conv.push(quote!(#name.into()));
            } else {
                sig.push(quote!(#name: #t));
                conv.push(quote!(#name));
            }
        }
        let ret = self.ret_ty(from, p, Pos::ClientOut)?;
        let rust = &p.rust;
        let blocking = format_ident!("{}_blocking", rust.to_string().trim_start_matches("r#"));
        let many = if names.len() > 6 {
            quote!(#[allow(clippy::too_many_arguments)])
        } else {
            quote!()
        };
        let cpp = p
            .method
            .cpp_name
            .as_ref()
            .map(|n| format!(", C++ `{n}`"))
            .unwrap_or_default();
        let doc = format!(
            " Calls `{}.{}` (@{}{cpp}){}.",
            p.owner.capnp_name,
            p.method.name,
            p.method.ordinal,
            if context_index(p.params).is_none() {
                "; it has no `context`, so it runs on the server's event loop"
            } else {
                ""
            }
        );
        let bdoc = format!(
            " Blocking form of [`Self::{}`]: waits on this OS thread.",
            rust.to_string().trim_start_matches("r#")
        );
        let body = if p.owner.id == client {
            self.call_expr(from, p, conv)?
        } else {
            // Inherited: the base interface's method, with its ID, on the same object.
            let base = self.path(from, p.owner.id, "Client");
            quote!(<#base as ::mphub::ProxyClient>::from_handle(self.0.clone()).#rust(#(#conv),*))
        };
        Ok(quote! {
            #[doc = #doc]
            #many
            pub fn #rust(&self, #(#sig),*) -> ::mphub::Call<#ret> {
                #body
            }

            #[doc = #bdoc]
            #many
            pub fn #blocking(&self, #(#sig),*) -> ::mphub::Result<#ret> {
                self.#rust(#(#names),*).blocking()
            }
        })
    }

    /// Every method a client of `i` can call: inherited ones first, then its own.
    pub(crate) fn all_methods<'s>(
        &'s self,
        i: &'s Interface,
    ) -> Result<Vec<(&'s Interface, &'s Method)>, BuildError> {
        let mut out = Vec::new();
        for anc in self.schema.ancestors(i.id)?.iter().rev() {
            let a = self.schema.interface(*anc)?;
            for m in &a.methods {
                out.push((a, m));
            }
        }
        for m in &i.methods {
            out.push((i, m));
        }
        Ok(out)
    }

    pub(crate) fn interface_items(
        &self,
        from: u64,
        i: &Interface,
    ) -> Result<TokenStream, BuildError> {
        let base = &self.names.ty[&i.id];
        let client = format_ident!("{base}Client");
        let server = format_ident!("{base}Server");
        let adapter = format_ident!("{base}Adapter");
        let forwarder = format_ident!("{base}Forwarder");
        let capnp_name = &i.capnp_name;
        let file = self.schema.file_path(i.id);
        let cpp = i
            .wrap
            .as_ref()
            .map(|w| format!(", C++ `{w}`"))
            .unwrap_or_default();
        let all = self.all_methods(i)?;
        let ancestors = self.schema.ancestors(i.id)?;

        let mut out = TokenStream::new();
        // Output structs of this interface's own methods.
        for m in &i.methods {
            if let Some(name) = self.names.output.get(&(i.id, m.ordinal)) {
                let p = self.plan(i.id, i, m)?;
                let n = format_ident!("{}", name);
                let mut decls = Vec::new();
                for v in &p.outputs {
                    let f = ident(&crate::names::snake(&v.field.name));
                    let t = self.field_ty(from, &[], v, Pos::ClientOut)?;
                    let t = if matches!(v.field.ty(), Some(Ty::Interface(_))) {
                        self.field_ty(from, &[], v, Pos::Member)?
                    } else {
                        t
                    };
                    let d = format!(" Result field `{}`.", v.field.name);
                    decls.push(quote!(#[doc = #d] pub #f: #t));
                }
                let doc = format!(" Results of `{capnp_name}.{}` (@{}).", m.name, m.ordinal);
                out.extend(quote! {
                    #[doc = #doc]
                    #[derive(Clone, Debug, Default, PartialEq)]
                    pub struct #n {
                        #(#decls,)*
                    }
                });
            }
        }

        // ---- client ----
        let mut consts = Vec::new();
        for m in &i.methods {
            consts.push(self.method_descriptor(i, m)?);
        }
        let mut methods = Vec::new();
        for (owner, m) in &all {
            if m.name == "construct" || m.name == "destroy" {
                continue;
            }
            let p = self.plan(i.id, owner, m)?;
            methods.push(self.client_methods(from, i.id, &p)?);
        }
        let find = |name: &str| -> Option<(&Interface, &Method)> {
            all.iter()
                .rev()
                .find(|(_, m)| m.name == name)
                .map(|(o, m)| (*o, *m))
        };
        let destroy = match find("destroy") {
            Some((owner, m)) => {
                let owner_client = self.path(from, owner.id, "Client");
                let k = format_ident!("{}", self.method_const(owner, m));
                quote! {
                    fn destroy_method() -> ::std::option::Option<&'static ::mphub::Method> {
                        Some(&#owner_client::#k)
                    }
                }
            }
            None => quote!(),
        };
        let construct = match find("construct") {
            Some((owner, m)) => {
                let params = self.schema.strct(m.params)?;
                let results = self.schema.strct(m.results)?;
                let owner_client = self.path(from, owner.id, "Client");
                let k = format_ident!("{}", self.method_const(owner, m));
                let offer = thread_maps(params).into_iter().map(Literal::u16_unsuffixed);
                let accept = thread_maps(results)
                    .into_iter()
                    .map(Literal::u16_unsuffixed);
                let encode_fn = super::closure(
                    &["args", "b", "cx"],
                    quote!(#(cx.conn()?.offer_thread_map(b.pointer(#offer));)* Ok(())),
                );
                let decode_fn = super::closure(
                    &["args", "r", "cx"],
                    quote!(#(cx.conn()?.accept_thread_map(r.pointer(#accept))?;)* Ok(())),
                );
                quote! {
                    fn construct(&self) -> ::std::option::Option<::mphub::Call<()>> {
                        Some(::mphub::Call::new(
                            &self.0,
                            &#owner_client::#k,
                            (),
                            #encode_fn,
                            #decode_fn,
                        ))
                    }
                }
            }
            None => quote!(),
        };
        let mut upcasts = Vec::new();
        for anc in &ancestors {
            let ac = self.path(from, *anc, "Client");
            upcasts.push(quote! {
                impl ::std::convert::From<#client> for #ac {
                    fn from(c: #client) -> Self {
                        <#ac as ::mphub::ProxyClient>::from_handle(c.0)
                    }
                }
                impl ::std::convert::From<#client> for ::mphub::Cap<#ac> {
                    fn from(c: #client) -> Self {
                        ::mphub::Cap::<#client>::from(c).upcast()
                    }
                }
                impl ::mphub::Upcast<#ac> for #client {}
            });
        }
        let cdoc = super::docs(&format!(
            "Client of interface `{capnp_name}` (`{file}`{cpp}).\n\n\
             A `Send + Sync + Clone` proxy usable from any thread or task. Methods return a\n\
             [`::mphub::Call`] to `.await` (or use the `_blocking` form). Dropping the last clone\n\
             calls `destroy` (if declared) and releases the object."
        ));
        out.extend(quote! {
            #cdoc
            #[derive(Clone, Debug)]
            pub struct #client(::mphub::ProxyHandle);

            impl ::mphub::ProxyClient for #client {
                const INTERFACE: &'static str = #capnp_name;
                fn from_handle(handle: ::mphub::ProxyHandle) -> Self {
                    Self(handle)
                }
                fn handle(&self) -> &::mphub::ProxyHandle {
                    &self.0
                }
                #destroy
                #construct
                fn forwarder(&self) -> ::std::option::Option<::mphub::Cap<Self>> {
                    Some(#server::into_cap(#forwarder(self.clone())))
                }
            }

            #(#upcasts)*

            impl #client {
                #(#consts)*

                /// A new explicit remote thread on this client's connection.
                pub fn new_strand(&self, name: &str) -> ::mphub::Strand {
                    self.0.new_strand(name)
                }

                /// This client with its calls bound to `strand` (one server thread, in order).
                pub fn on_strand(&self, strand: &::mphub::Strand) -> ::mphub::Result<Self> {
                    Ok(Self(self.0.on(strand)?))
                }

                /// Hosts a local implementation, to pass as an argument or return from a server.
                pub fn local<T: #server>(imp: ::std::sync::Arc<T>) -> ::mphub::Cap<Self> {
                    ::mphub::Cap::from_host_fn(move |conn: &::mphub::rt::ConnRef| {
                        let hosted = ::mphub::rt::Hosted::new(imp.clone(), #capnp_name);
                        ::mphub::rt::host(#adapter(hosted), conn)
                    })
                }

                #(#methods)*
            }
        });

        // ---- server trait ----
        let supertraits: Vec<TokenStream> = i
            .superclasses
            .iter()
            .map(|s| self.path(from, *s, "Server"))
            .collect();
        let mut trait_methods = Vec::new();
        for m in &i.methods {
            if m.name == "construct" || m.name == "destroy" {
                continue;
            }
            let p = self.plan(i.id, i, m)?;
            let names = self.param_idents(&p);
            let mut sig = Vec::new();
            for (v, name) in p.inputs.iter().zip(&names) {
                let t = self.field_ty(from, &[], v, Pos::ServerArg)?;
                sig.push(quote!(#name: #t));
            }
            let ret = self.ret_ty(from, &p, Pos::ServerOut)?;
            let rust = &p.rust;
            let konst = &p.konst;
            let doc = format!(" Serves `{capnp_name}.{}` (@{}).", m.name, m.ordinal);
            let many = if names.len() > 5 {
                quote!(#[allow(clippy::too_many_arguments)])
            } else {
                quote!()
            };
            trait_methods.push(quote! {
                #[doc = #doc]
                #many
                fn #rust(
                    &self,
                    cx: &::mphub::CallContext,
                    #(#sig),*
                ) -> impl ::std::future::Future<Output = ::mphub::Result<#ret>> {
                    let _ = (cx, #(#names),*);
                    async { Err(::mphub::rt::unimplemented(&#client::#konst)) }
                }
            });
        }
        let sdoc = super::docs(&format!(
            "Implement this to serve interface `{capnp_name}`{cpp}.\n\n\
             Methods are `async` and run on the runtime's event loop, one call at a time per\n\
             remote thread; blocking work goes through [`::mphub::CallContext::spawn_blocking`].\n\
             A method left out answers `Unimplemented`."
        ));
        let bound = if supertraits.is_empty() {
            quote!(::core::marker::Send + ::core::marker::Sync + 'static)
        } else {
            quote!(#(#supertraits)+* + ::core::marker::Send + ::core::marker::Sync + 'static)
        };
        out.extend(quote! {
            #sdoc
            pub trait #server: #bound {
                #(#trait_methods)*

                /// Hosts this implementation as a capability value.
                fn into_cap(self) -> ::mphub::Cap<#client>
                where
                    Self: ::core::marker::Sized,
                {
                    #client::local(::std::sync::Arc::new(self))
                }
            }
        });

        // ---- adapter ----
        let mut arms = Vec::new();
        for m in &i.methods {
            arms.push(self.serve_arm(from, i, m)?);
        }
        let iface_id = super::hex_id(i.id);
        let mut dispatch_arms = vec![quote!(#iface_id => Self::serve(&self.0, call))];
        for anc in &ancestors {
            let aa = self.path(from, *anc, "Adapter");
            let aid = super::hex_id(*anc);
            dispatch_arms.push(quote!(#aid => #aa::<T>::serve(&self.0, call)));
        }
        let adoc = format!(" Serves an [`{server}`] to the runtime (generated plumbing).");
        out.extend(quote! {
            #[doc = #adoc]
            #[doc(hidden)]
            pub struct #adapter<T>(pub ::mphub::rt::Hosted<T>);

            impl<T: #server> #adapter<T> {
                /// Serves a call naming this interface's ID.
                pub fn serve(
                    hosted: &::mphub::rt::Hosted<T>,
                    call: ::mphub::rt::Incoming,
                ) -> ::mphub::rt::Dispatched {
                    match call.ordinal() {
                        #(#arms)*
                        _ => call.unimplemented(),
                    }
                }
            }

            impl<T: #server> ::mphub::rt::Dispatch for #adapter<T> {
                fn dispatch(&self, call: ::mphub::rt::Incoming) -> ::mphub::rt::Dispatched {
                    match call.interface_id() {
                        #(#dispatch_arms,)*
                        _ => call.unimplemented(),
                    }
                }
            }
        });

        // ---- forwarder ----
        let mut fwd_impls = Vec::new();
        let mut owners: Vec<&Interface> = Vec::new();
        for (owner, _) in &all {
            if !owners.iter().any(|o| o.id == owner.id) {
                owners.push(owner);
            }
        }
        for owner in owners {
            let owner_server = self.path(from, owner.id, "Server");
            let mut fms = Vec::new();
            for m in &owner.methods {
                if m.name == "construct" || m.name == "destroy" {
                    continue;
                }
                let p = self.plan(i.id, owner, m)?;
                let names = self.param_idents(&p);
                let mut sig = Vec::new();
                let mut args = Vec::new();
                for (v, name) in p.inputs.iter().zip(&names) {
                    let t = self.field_ty(from, &[], v, Pos::ServerArg)?;
                    sig.push(quote!(#name: #t));
                    args.push(quote!(#name));
                }
                let ret = self.ret_ty(from, &p, Pos::ServerOut)?;
                let rust = &p.rust;
                let single_iface = !self.names.output.contains_key(&(owner.id, m.ordinal))
                    && matches!(
                        p.outputs.first().and_then(|v| v.field.ty()),
                        Some(Ty::Interface(_))
                    );
                let convert = if single_iface {
                    quote!(.map(::mphub::Cap::from))
                } else {
                    quote!()
                };
                let many = if names.len() > 5 {
                    quote!(#[allow(clippy::too_many_arguments)])
                } else {
                    quote!()
                };
                fms.push(quote! {
                    #many
                    async fn #rust(
                        &self,
                        _cx: &::mphub::CallContext,
                        #(#sig),*
                    ) -> ::mphub::Result<#ret> {
                        self.0.#rust(#(#args),*).await #convert
                    }
                });
            }
            fwd_impls.push(quote! {
                impl #owner_server for #forwarder {
                    #(#fms)*
                }
            });
        }
        let fdoc = format!(" Forwards every call to the wrapped [`{client}`] (see [`::mphub::ProxyClient::forwarder`]).");
        out.extend(quote! {
            #[doc = #fdoc]
            #[doc(hidden)]
            pub struct #forwarder(pub #client);

            #(#fwd_impls)*
        });
        Ok(out)
    }

    /// The match arm serving method `m` of `i` (by ordinal).
    fn serve_arm(&self, from: u64, i: &Interface, m: &Method) -> Result<TokenStream, BuildError> {
        let base = &self.names.ty[&i.id];
        let client = format_ident!("{base}Client");
        let konst = format_ident!("{}", self.method_const(i, m));
        let ordinal = Literal::u16_unsuffixed(m.ordinal);
        if m.name == "destroy" {
            return Ok(quote!(#ordinal => call.destroy(&#client::#konst, hosted),));
        }
        let p = self.plan(i.id, i, m)?;
        // decode: ThreadMap params are kept; visible params become the args tuple.
        let mut accept = Vec::new();
        for ix in thread_maps(p.params) {
            let ix = Literal::u16_unsuffixed(ix);
            accept.push(quote!(cx.conn()?.accept_thread_map(r.pointer(#ix))?;));
        }
        let mut reads = Vec::new();
        for v in &p.inputs {
            reads.push(self.read_field(from, &[], v, Pos::ServerArg)?);
        }
        let n = p.inputs.len();
        let args = tuple(reads);
        let call_args: Vec<TokenStream> = (0..n)
            .map(|k| {
                let at = tuple_index(k, n);
                quote!(args #at)
            })
            .collect();
        let run = if m.name == "construct" {
            quote!(|_, _, _| async { Ok(()) })
        } else {
            let rust = &p.rust;
            let args = if n == 0 { quote!(_) } else { quote!(args) };
            quote!(|imp, cx, #args| async move { imp.#rust(&cx, #(#call_args),*).await })
        };
        // encode: ThreadMap results offer ours; then the value.
        let mut encode = Vec::new();
        for ix in thread_maps(p.results) {
            let ix = Literal::u16_unsuffixed(ix);
            encode.push(quote!(cx.conn()?.offer_thread_map(b.pointer(#ix));));
        }
        match self.names.output.get(&(i.id, m.ordinal)) {
            Some(_) => {
                for v in &p.outputs {
                    let f = ident(&crate::names::snake(&v.field.name));
                    let pos = if matches!(v.field.ty(), Some(Ty::Interface(_))) {
                        Pos::Member
                    } else {
                        Pos::ServerOut
                    };
                    encode.push(self.write_field(from, &[], v, pos, quote!(&v.#f))?);
                }
            }
            None => {
                if let Some(v) = p.outputs.first() {
                    encode.push(self.write_field(from, &[], v, Pos::ServerOut, quote!(&v))?);
                }
            }
        }
        let mut excs = Vec::new();
        for e in exceptions(p.results) {
            let Some(ty) = e.ty() else { continue };
            let crate::schema::FieldKind::Slot { offset, .. } = e.kind else {
                continue;
            };
            if ty.is_data() {
                continue;
            }
            let index = Literal::u16_unsuffixed(offset as u16);
            let t = self.value_ty(from, &[], ty)?;
            let type_name = e.exception.as_deref().unwrap_or_default();
            excs.push(quote! {
                if d.type_name == #type_name {
                    if let Some(x) = d.downcast_ref::<#t>() {
                        b.write(#index, x, cx)?;
                        return Ok(true);
                    }
                }
            });
        }
        let decode = super::closure(&["r", "cx"], quote!(#(#accept)* Ok(#args)));
        let encode = super::closure(&["v", "b", "cx"], quote!(#(#encode)* Ok(())));
        let excs = super::closure(&["d", "b", "cx"], quote!(#(#excs)* Ok(false)));
        Ok(quote! {
            #ordinal => call.serve(hosted, &#client::#konst, #decode, #run, #encode, #excs),
        })
    }
}

fn upper_first(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}
