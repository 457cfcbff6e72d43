//! The Rust emitter: one module per schema file, built as tokens with `quote!` and
//! formatted with prettyplease.
//!
//! Per struct: a Rust struct (or an `enum` when the struct is a union), `Default` with
//! the schema defaults, and [`mphub::wire::Struct`] reading/writing each field at its
//! offset. Per enum: a Rust enum that keeps unknown ordinals. Per interface:
//! `XClient`, `XServer`, and (hidden) the adapter, forwarder and `x` module holding the
//! method descriptors, the call builders and the dispatcher. See `doc/mapping.md`.

mod fields;
mod interfaces;
mod types;

use std::collections::HashMap;

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use crate::names::{camel, ident, snake, Namespace};
use crate::schema::{FieldKind, Schema, Ty};
use crate::BuildError;

/// Longest line the generated code may have (formatting keeps lines shorter; this
/// catches long literals and docs).
pub const MAX_LINE: usize = 120;

/// Names given to the schema's declarations.
pub(crate) struct Names {
    /// File → module.
    pub module: HashMap<u64, Ident>,
    /// Struct/enum → Rust type name; interface → base name (`Tester` for `TesterClient`).
    pub ty: HashMap<u64, String>,
    /// Method (client interface, declaring interface, ordinal) → Rust method name; the
    /// two interfaces differ for inherited methods.
    pub method: HashMap<(u64, u64, u16), String>,
    /// Interface method → output struct name, when it has several outputs.
    pub output: HashMap<(u64, u16), String>,
    /// Struct with plain fields and a union → name of the union's enum (`FooWhich`).
    pub which: HashMap<u64, String>,
    /// Struct field (struct, field index) → Rust field name.
    pub field: HashMap<(u64, usize), String>,
    /// Const → Rust item name.
    pub konst: HashMap<u64, String>,
    /// Struct fields (struct, field index) that close a cycle of structs holding each
    /// other by value: boxed in Rust.
    pub boxed: std::collections::HashSet<(u64, usize)>,
}

/// The items generated per interface `X`: `XClient`, `XServer`, ...
const SUFFIXES: [&str; 4] = ["Client", "Server", "Adapter", "Forwarder"];

/// Methods every generated client has; schema methods are renamed around them.
const CLIENT_RESERVED: &[&str] = &["new_strand", "on_strand", "local", "upcast", "handle"];
/// Methods every generated server trait has.
const SERVER_RESERVED: &[&str] = &["into_cap"];

pub(crate) struct Gen<'s> {
    pub schema: &'s Schema,
    pub names: Names,
}

impl<'s> Gen<'s> {
    pub(crate) fn new(schema: &'s Schema) -> Result<Self, BuildError> {
        let mut names = Names {
            module: HashMap::new(),
            ty: HashMap::new(),
            method: HashMap::new(),
            output: HashMap::new(),
            which: HashMap::new(),
            field: HashMap::new(),
            konst: HashMap::new(),
            boxed: recursive_fields(schema),
        };
        let mut modules = Namespace::with_reserved(&["mphub", "std", "core", "alloc"]);
        for f in &schema.files {
            let stem = f
                .path
                .rsplit('/')
                .next()
                .unwrap_or(&f.path)
                .trim_end_matches(".capnp");
            let mut wanted = snake(stem);
            if modules.contains(&wanted) {
                // Same stem in two folders: prefix the folder.
                let parent = f.path.rsplit('/').nth(1).unwrap_or("schema");
                wanted = format!("{}_{wanted}", snake(parent));
            }
            let m = modules.claim(&wanted);
            names.module.insert(f.id, ident(&m));
        }
        for f in &schema.files {
            let mut types = Namespace::default();
            let mut values = Namespace::default();
            for &id in &f.decls {
                if let Some(s) = schema.structs.get(&id) {
                    let name = types.claim_type(&camel(&s.capnp_name));
                    names.ty.insert(id, name.clone());
                    Self::name_struct(schema, &mut names, &mut types, id, &name)?;
                } else if let Some(e) = schema.enums.get(&id) {
                    let name = types.claim_type(&camel(&e.capnp_name));
                    names.ty.insert(id, name);
                } else if let Some(i) = schema.interfaces.get(&id) {
                    // The interface's name itself is no type; its four items are.
                    let base = camel(&i.capnp_name);
                    let mut base_name = base.clone();
                    let mut n = 1;
                    while SUFFIXES
                        .iter()
                        .any(|s| types.contains(&format!("{base_name}{s}")))
                    {
                        n += 1;
                        base_name = format!("{base}{n}");
                    }
                    for s in SUFFIXES {
                        types.claim(&format!("{base_name}{s}"));
                    }
                    names.ty.insert(id, base_name.clone());
                } else if let Some(c) = schema.consts.get(&id) {
                    let wanted = match &c.ty {
                        Ty::Struct(..) | Ty::List(_) | Ty::AnyPointer => snake(&c.capnp_name),
                        _ => crate::names::screaming(&c.capnp_name),
                    };
                    names.konst.insert(id, values.claim(&wanted));
                }
            }
            // Methods and output structs, after every type name of the file is known.
            for &id in &f.decls {
                let Some(i) = schema.interfaces.get(&id) else {
                    continue;
                };
                let base = names.ty[&id].clone();
                let mut client_ns = Namespace::with_reserved(CLIENT_RESERVED);
                let mut server_ns = Namespace::with_reserved(SERVER_RESERVED);
                let mut all: Vec<(u64, &crate::schema::Method)> = Vec::new();
                for anc in schema.ancestors(id)?.iter().rev() {
                    for m in &schema.interface(*anc)?.methods {
                        all.push((*anc, m));
                    }
                }
                for m in &i.methods {
                    all.push((id, m));
                }
                for (owner, m) in all {
                    if m.name == "construct" || m.name == "destroy" {
                        continue;
                    }
                    let wanted = snake(&m.name);
                    let mut name = wanted.clone();
                    // A name free in both the client (with its `_blocking` twin) and the
                    // trait; a collision gets a number (`local2`), keeping snake case.
                    let mut n = 1;
                    while client_ns.contains(&name)
                        || client_ns.contains(&format!("{name}_blocking"))
                        || server_ns.contains(&name)
                        || crate::names::is_keyword_like(&name)
                    {
                        n += 1;
                        name = format!("{wanted}{n}");
                    }
                    client_ns.claim(&name);
                    client_ns.claim(&format!("{name}_blocking"));
                    server_ns.claim(&name);
                    names.method.insert((id, owner, m.ordinal), name);
                    if owner == id {
                        let results = schema.strct(m.results)?;
                        if Self::needs_output_struct(schema, m, results) {
                            let out = types.claim_type(&format!("{base}{}Output", camel(&m.name)));
                            names.output.insert((id, m.ordinal), out);
                        }
                    }
                }
            }
        }
        Ok(Gen { schema, names })
    }

    /// Names a struct's groups, its union enum and its fields.
    fn name_struct(
        schema: &Schema,
        names: &mut Names,
        types: &mut Namespace,
        id: u64,
        name: &str,
    ) -> Result<(), BuildError> {
        let s = schema.strct(id)?;
        if s.discriminant_offset.is_some() && !s.is_pure_union() {
            names
                .which
                .insert(id, types.claim_type(&format!("{name}Which")));
        }
        let mut fields = Namespace::default();
        if names.which.contains_key(&id) {
            fields.claim("which");
        }
        for f in &s.fields {
            names
                .field
                .insert((id, f.index), fields.claim(&snake(&f.name)));
            if let FieldKind::Group(g) = f.kind {
                let gname = types.claim_type(&format!("{name}{}", camel(&f.name)));
                names.ty.insert(g, gname.clone());
                Self::name_struct(schema, names, types, g, &gname)?;
            }
        }
        Ok(())
    }

    /// Several outputs (or one not named `result`) are returned as a struct.
    pub(crate) fn needs_output_struct(
        schema: &Schema,
        m: &crate::schema::Method,
        results: &crate::schema::Struct,
    ) -> bool {
        let _ = schema;
        if m.name == "construct" || m.name == "destroy" {
            return false;
        }
        let outs = fields::outputs(results);
        !(outs.is_empty() || (outs.len() == 1 && outs[0].name == "result"))
    }

    /// Path of a declared type (struct/enum/interface base name) as seen from `from`.
    pub(crate) fn path(&self, from: u64, id: u64, suffix: &str) -> TokenStream {
        let name = format_ident!(
            "{}{}",
            self.names.ty.get(&id).cloned().unwrap_or_default(),
            suffix
        );
        let file = self.schema.file_of(id).map(|f| f.id).unwrap_or(from);
        if file == from {
            quote!(#name)
        } else {
            let m = &self.names.module[&file];
            quote!(super::#m::#name)
        }
    }

    /// Generic parameter idents of struct (or group) `id` that its Rust type keeps:
    /// the ones its fields use.
    pub(crate) fn generics(&self, id: u64) -> Vec<Ident> {
        let Some(s) = self.schema.structs.get(&id) else {
            return Vec::new();
        };
        self.kept_generics(&s.params, &self.schema.used_params(id))
    }

    /// The idents of `params` marked in `used`.
    pub(crate) fn kept_generics(&self, params: &[String], used: &[bool]) -> Vec<Ident> {
        params
            .iter()
            .zip(used.iter())
            .filter(|(_, used)| **used)
            .map(|(p, _)| format_ident!("{}", camel(p)))
            .collect()
    }

    /// A type as the schema spells it (`List(Pair(Text, Data))`), for docs.
    pub(crate) fn capnp_ty(&self, ty: &Ty, params: &[String]) -> String {
        use crate::schema::IntTy::*;
        let named = |id: &u64| -> String {
            self.schema
                .structs
                .get(id)
                .map(|s| s.capnp_name.clone())
                .or_else(|| self.schema.enums.get(id).map(|e| e.capnp_name.clone()))
                .or_else(|| self.schema.interfaces.get(id).map(|i| i.capnp_name.clone()))
                .unwrap_or_else(|| "?".into())
        };
        match ty {
            Ty::Void => "Void".into(),
            Ty::Bool => "Bool".into(),
            Ty::Int(t) => match t {
                I8 => "Int8",
                I16 => "Int16",
                I32 => "Int32",
                I64 => "Int64",
                U8 => "UInt8",
                U16 => "UInt16",
                U32 => "UInt32",
                U64 => "UInt64",
            }
            .into(),
            Ty::Float32 => "Float32".into(),
            Ty::Float64 => "Float64".into(),
            Ty::Text => "Text".into(),
            Ty::Data => "Data".into(),
            Ty::List(t) => format!("List({})", self.capnp_ty(t, params)),
            Ty::Enum(id) | Ty::Interface(id) => named(id),
            Ty::Struct(id, args) if args.is_empty() => named(id),
            Ty::Struct(id, args) => format!(
                "{}({})",
                named(id),
                args.iter()
                    .map(|a| self.capnp_ty(a, params))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Ty::Param(i) => params
                .get(*i)
                .cloned()
                .unwrap_or_else(|| "AnyPointer".into()),
            Ty::AnyPointer => "AnyPointer".into(),
            Ty::Context => "Proxy.Context".into(),
            Ty::ThreadMap => "Proxy.ThreadMap".into(),
        }
    }

    /// The generic arguments of a reference to struct `id`, as kept by its Rust type.
    pub(crate) fn kept_args<'t>(&self, id: u64, args: &'t [Ty]) -> Vec<&'t Ty> {
        let used = self.schema.used_params(id);
        args.iter()
            .zip(used.iter().chain(std::iter::repeat(&true)))
            .filter(|(_, u)| **u)
            .map(|(a, _)| a)
            .collect()
    }
}

/// A Cap'n Proto ID as a hex literal (`0xbcdc_b2c0_d0c7_8dd7`).
pub(crate) fn hex_id(id: u64) -> TokenStream {
    let hex = format!("{id:016x}");
    let grouped: Vec<&str> = (0..4).map(|i| &hex[i * 4..i * 4 + 4]).collect();
    format!("0x{}", grouped.join("_"))
        .parse()
        .unwrap_or_else(|_| quote!(#id))
}

/// Wraps `///` lines longer than 100 characters at spaces (schema paths and C++ names
/// make some docs long).
fn wrap_doc_comments(code: &str) -> String {
    const WIDTH: usize = 100;
    let mut out = String::with_capacity(code.len());
    for line in code.lines() {
        let trimmed = line.trim_start();
        if line.len() <= WIDTH || !trimmed.starts_with("///") {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let indent = &line[..line.len() - trimmed.len()];
        let prefix = format!("{indent}///");
        let mut cur = prefix.clone();
        for word in trimmed
            .trim_start_matches("///")
            .split(' ')
            .filter(|w| !w.is_empty())
        {
            if cur.len() > prefix.len() && cur.len() + 1 + word.len() > WIDTH {
                out.push_str(&cur);
                out.push('\n');
                cur = prefix.clone();
            }
            cur.push(' ');
            cur.push_str(word);
        }
        out.push_str(&cur);
        out.push('\n');
    }
    out
}

/// True when `name` occurs as an identifier in `tokens`.
pub(crate) fn uses(tokens: &TokenStream, name: &str) -> bool {
    tokens.clone().into_iter().any(|t| match t {
        proc_macro2::TokenTree::Ident(i) => i == name,
        proc_macro2::TokenTree::Group(g) => uses(&g.stream(), name),
        _ => false,
    })
}

/// A closure `|p1, p2, ..| body` with the params the body does not use written `_`.
pub(crate) fn closure(params: &[&str], body: TokenStream) -> TokenStream {
    let params = params.iter().map(|p| {
        if uses(&body, p) {
            let i = format_ident!("{}", p);
            quote!(#i)
        } else {
            quote!(_)
        }
    });
    quote!(|#(#params),*| { #body })
}

/// `#[doc]` attributes for a (possibly multi-line) doc text; each line becomes one
/// `///` line.
pub(crate) fn docs(text: &str) -> TokenStream {
    let lines = text.lines().map(|l| {
        let l = if l.starts_with(' ') {
            l.to_string()
        } else {
            format!(" {l}")
        };
        quote!(#[doc = #l])
    });
    quote!(#(#lines)*)
}

/// Struct fields whose struct type contains the field's own struct by value (directly
/// or through other structs, groups and unions): they must be boxed in Rust.
pub(crate) fn recursive_fields(schema: &Schema) -> std::collections::HashSet<(u64, usize)> {
    let edges = |id: u64| -> Vec<u64> {
        schema
            .structs
            .get(&id)
            .map(|s| {
                s.fields
                    .iter()
                    .filter_map(|f| match &f.kind {
                        FieldKind::Slot {
                            ty: Ty::Struct(t, _),
                            ..
                        } => Some(*t),
                        FieldKind::Group(g) => Some(*g),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let reaches = |from: u64, to: u64| -> bool {
        let mut seen = std::collections::HashSet::new();
        let mut stack = vec![from];
        while let Some(n) = stack.pop() {
            if n == to {
                return true;
            }
            if seen.insert(n) {
                stack.extend(edges(n));
            }
        }
        false
    };
    let mut out = std::collections::HashSet::new();
    for s in schema.structs.values() {
        for f in &s.fields {
            if let FieldKind::Slot {
                ty: Ty::Struct(t, _),
                ..
            } = &f.kind
            {
                if reaches(*t, s.id) {
                    out.insert((s.id, f.index));
                }
            }
        }
    }
    out
}

/// Generates the module for the whole schema: one submodule per file, re-exported.
pub fn emit(schema: &Schema) -> Result<String, BuildError> {
    let gen = Gen::new(schema)?;
    let mut items = Vec::new();
    let mut reexports = Vec::new();
    for f in &schema.files {
        let body = gen.file(f)?;
        let m = &gen.names.module[&f.id];
        let doc = format!(" Generated from `{}`.", f.path);
        items.push(quote! {
            #[doc = #doc]
            // Lints that schema names and types trip by construction.
            #[allow(
                clippy::needless_question_mark,
                clippy::module_inception,
                clippy::type_complexity,
                clippy::wrong_self_convention
            )]
            pub mod #m {
                #body
            }
        });
        reexports.push(quote!(pub use self::#m::*;));
    }
    let tokens = quote! {
        #(#items)*
        #(#reexports)*
    };
    let file: syn::File = syn::parse2(tokens)
        .map_err(|e| BuildError::Schema(format!("generated code does not parse: {e}")))?;
    let mut text = String::from("// @generated by mphub-build. Do not edit.\n");
    text.push_str(&wrap_doc_comments(&prettyplease::unparse(&file)));
    if let Some((n, line)) = text.lines().enumerate().find(|(_, l)| l.len() > MAX_LINE) {
        return Err(BuildError::Schema(format!(
            "generated line {} is {} characters long (> {MAX_LINE}): {}",
            n + 1,
            line.len(),
            &line[..80]
        )));
    }
    Ok(text)
}

impl Gen<'_> {
    fn file(&self, f: &crate::schema::File) -> Result<TokenStream, BuildError> {
        let mut out = TokenStream::new();
        for &id in &f.decls {
            if let Some(s) = self.schema.structs.get(&id) {
                out.extend(self.struct_item(f.id, s)?);
            } else if let Some(e) = self.schema.enums.get(&id) {
                out.extend(self.enum_item(e));
            } else if let Some(i) = self.schema.interfaces.get(&id) {
                out.extend(self.interface_items(f.id, i)?);
            } else if let Some(c) = self.schema.consts.get(&id) {
                out.extend(self.const_item(f.id, c)?);
            }
        }
        Ok(out)
    }
}

/// What a generation run will contain: every interface and its methods, with the Rust
/// names and types generated for them (paths relative to the generated module).
#[derive(Clone, Debug)]
pub struct Inspection {
    /// Every interface, in schema order.
    pub interfaces: Vec<InterfaceInfo>,
}

/// One interface of an [`Inspection`].
#[derive(Clone, Debug)]
pub struct InterfaceInfo {
    /// Schema file declaring it.
    pub file: String,
    /// Name in the schema (`Chain`, `Outer.Inner`).
    pub capnp_name: String,
    /// Path of the client type (`chain::ChainClient`).
    pub client: String,
    /// Path of the server trait (`chain::ChainServer`).
    pub server: String,
    /// Paths of the server traits of every interface it extends.
    pub ancestor_servers: Vec<String>,
    /// Methods callable on the client, inherited ones first (no `construct`/`destroy`).
    pub methods: Vec<MethodInfo>,
}

/// One method of an [`InterfaceInfo`].
#[derive(Clone, Debug)]
pub struct MethodInfo {
    /// Interface declaring the method (differs for inherited methods).
    pub declared_in: String,
    /// Name in the schema.
    pub name: String,
    /// Ordinal in the declaring interface.
    pub ordinal: u16,
    /// Rust method name on the client, as written in code (`r#type` for a keyword).
    pub rust_name: String,
    /// Rust types of the params the client method takes, in order; generated types are
    /// `super::<file module>::<Type>` (as seen from a module beside the file modules).
    pub params: Vec<String>,
}

/// Describes the generated code of `schema`.
pub fn inspect(schema: &Schema) -> Result<Inspection, BuildError> {
    let gen = Gen::new(schema)?;
    let mut interfaces = Vec::new();
    for f in &schema.files {
        for id in &f.decls {
            let Some(i) = schema.interfaces.get(id) else {
                continue;
            };
            let module = gen.names.module[&f.id].to_string();
            let base = &gen.names.ty[&i.id];
            let server_of = |id: u64| -> String {
                let file = schema.file_of(id).map(|f| f.id).unwrap_or(f.id);
                format!("{}::{}Server", gen.names.module[&file], gen.names.ty[&id])
            };
            let mut methods = Vec::new();
            for (owner, m) in gen.all_methods(i)? {
                if m.name == "construct" || m.name == "destroy" {
                    continue;
                }
                let params = schema.strct(m.params)?;
                let mut types = Vec::new();
                for v in fields::inputs(params) {
                    // Seen from outside every file module: `super::<module>::<Type>`.
                    let t = gen.field_ty(0, &[], &v, fields::Pos::ClientArg)?;
                    types.push(t.to_string().replace(' ', ""));
                }
                methods.push(MethodInfo {
                    declared_in: owner.capnp_name.clone(),
                    name: m.name.clone(),
                    ordinal: m.ordinal,
                    rust_name: ident(&gen.names.method[&(i.id, owner.id, m.ordinal)]).to_string(),
                    params: types,
                });
            }
            interfaces.push(InterfaceInfo {
                file: f.path.clone(),
                capnp_name: i.capnp_name.clone(),
                client: format!("{module}::{base}Client"),
                server: format!("{module}::{base}Server"),
                ancestor_servers: schema.ancestors(i.id)?.into_iter().map(server_of).collect(),
                methods,
            });
        }
    }
    Ok(Inspection { interfaces })
}
