//! The C++ bridge's view of the schema: the requested files' wrapped interfaces and the
//! structs they use, with mpgen's field classification. Built from [`Schema`]; the
//! constructs the bridge cannot map yet are refused by name.

use std::collections::HashMap;

use crate::names::snake;
use crate::schema::{self, FieldKind, IntTy, Schema};
use crate::{BuildError, CxxOptions};

/// A field type, as far as the C++ bridge maps it.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    Void,
    Bool,
    Int(&'static str),
    Float(&'static str),
    Text,
    Data,
    List(Box<Ty>),
    Struct(u64),
    /// A capnp enum: a 16-bit ordinal on the wire.
    Enum(u64),
    /// The `i`th parameter of a generic struct (only in [`Model::generic_bases`]).
    Param(usize),
    /// A generic struct bound to arguments that are still parameters (only in
    /// [`Model::generic_bases`]); fully bound uses are instances, [`Ty::Struct`].
    Generic(u64, Vec<Ty>),
    Interface(u64),
    /// `AnyPointer`, or a generic parameter left unbound: an opaque copy of the value.
    AnyPointer,
    Context,
    ThreadMap,
}

/// One field of a struct or a param/result list.
#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    /// snake_case name, safe in the cxx bridge on both sides (`type_`, `new_`).
    pub snake: String,
    /// The field of the Rust struct the Rust emitter generates (`r#type`, `self_`).
    pub rust: String,
    pub ty: Ty,
    /// Optional through a `hasX` sibling (capnp name of the flag).
    pub has_flag: Option<String>,
    /// This field is the `hasX` flag of another field: hidden.
    pub is_flag: bool,
    /// An out-value made optional by a `wantX` param.
    pub wanted: bool,
    /// `$Proxy.exception("T")`.
    pub exception: Option<String>,
    /// `$Proxy.count(0)` / `$Proxy.skip`: not a C++ argument.
    pub skip: bool,
    /// C++ struct member name: `$Proxy.name` if given, else the capnp name (mpgen's rule).
    pub cpp_member: String,
    /// The schema default of a scalar field as a C++ initializer (`true`, `8000`), if any.
    pub cpp_default: Option<String>,
    /// Typed by a generic parameter in its struct's declaration: the Rust field holds
    /// the argument type itself (no `Option` around a struct).
    pub generic_param: bool,
    /// A group (`g :group { .. }`): a [`Ty::Struct`] of the group's id, held inline (no
    /// `Option` in Rust).
    pub group: bool,
    /// A struct field whose struct holds this field's struct again (directly or through
    /// others): boxed in Rust (`Option<Box<T>>`), `mphub::cxx::Boxed<T>` in C++.
    pub boxed: bool,
}

/// A struct type.
#[derive(Clone, Debug)]
pub struct StructModel {
    pub id: u64,
    pub name: String,
    pub fields: Vec<Field>,
    pub wrap: Option<String>,
    /// For an instance of a generic struct (`Pair(Text, Int64)`): what it binds.
    pub generic: Option<GenericInstance>,
    /// Its union, if it has one.
    pub union: Option<UnionModel>,
}

/// The (anonymous) union of a struct, or a named union's group: a `Which` discriminant
/// and a member per variant. Rust: an enum (the whole struct when `pure`, else field
/// `which` of type `<Struct>Which`); C++ (generated types only): `enum class Which` and
/// one member per non-`Void` variant.
#[derive(Clone, Debug)]
pub struct UnionModel {
    pub pure: bool,
    pub members: Vec<UnionMember>,
}

/// One union member.
#[derive(Clone, Debug)]
pub struct UnionMember {
    /// capnp name.
    pub name: String,
    pub discriminant: u16,
    /// Rust variant name, as the Rust emitter names it.
    pub variant: String,
    /// The value (`None` for a `Void` member); converted like a plain field.
    pub field: Option<Field>,
}

/// One binding of a generic struct's parameters. Instances get small ids (capnp ids
/// always have the top bit set, so they cannot clash) and a name made of the struct's
/// and the arguments' names (`PairTextI64`).
#[derive(Clone, Debug)]
pub struct GenericInstance {
    /// The generic struct's id.
    pub base: u64,
    /// Its Rust name (`Pair`).
    pub base_name: String,
    /// The arguments, by parameter.
    pub args: Vec<Ty>,
    /// Which parameters the Rust type keeps (unused ones are dropped by the Rust emitter).
    pub used: Vec<bool>,
}

/// A generic struct's declaration, for the C++ template: parameter names, and fields
/// typed with [`Ty::Param`].
#[derive(Clone, Debug)]
pub struct GenericBase {
    pub params: Vec<String>,
    pub fields: Vec<Field>,
    /// Its union, members typed with [`Ty::Param`] where the declaration has them.
    pub union: Option<UnionModel>,
}

/// An enum type.
#[derive(Clone, Debug)]
pub struct EnumModel {
    pub id: u64,
    /// Rust name (camel case of the capnp name), as the Rust emitter names it.
    pub name: String,
    /// Enumerant names, by ordinal.
    pub enumerants: Vec<String>,
    /// C++ name with generated types; `None` otherwise (no C++ header declares enums).
    pub cpp: Option<String>,
}

/// A method of an interface.
#[derive(Clone, Debug)]
pub struct Method {
    pub name: String,
    pub snake: String,
    /// The Rust emitter's name of the server trait method (`r#type`, `local2`).
    pub rust_name: String,
    /// … and of the client's blocking method (`type_blocking`).
    pub rust_blocking: String,
    /// C++ member name: `$Proxy.name` if given, else the capnp name.
    pub cpp_name: String,
    pub params: Vec<Field>,
    pub results: Vec<Field>,
    /// Rust name of the interface that declares it (an ancestor's for inherited methods).
    pub declared_in: String,
}

/// A wrapped interface.
#[derive(Clone, Debug)]
pub struct Interface {
    pub id: u64,
    pub name: String,
    /// Its own methods, then those it inherits (`extends`), nearest ancestor first.
    pub methods: Vec<Method>,
    pub wrap: String,
    /// Direct superclasses (`extends(...)`), as C++ base classes.
    pub supers: Vec<u64>,
}

/// Everything the C++ emitter needs.
pub struct Model {
    /// `$Proxy.include` headers of the requested files (the C++ interface declarations).
    pub includes: Vec<String>,
    pub structs: Vec<StructModel>,
    pub enums: Vec<EnumModel>,
    /// Generic structs some instance binds, by id.
    pub generic_bases: HashMap<u64, GenericBase>,
    pub interfaces: Vec<Interface>,
    pub struct_names: HashMap<u64, String>,
    pub interface_paths: HashMap<u64, (String, String)>,
}

impl Model {
    /// The wrapped interfaces and the structs of every file of `schema` (the requested
    /// ones and their imports).
    ///
    /// With `options.generated_types`, every interface of the schema is mapped (a
    /// missing `$Proxy.wrap` is named after the capnp interface), `$Proxy.wrap` names
    /// move to the configured namespace, and the generated `<stem>-types.h` replaces
    /// the `$Proxy.include` headers.
    pub fn from_schema(schema: &Schema, options: &CxxOptions) -> Result<Model, BuildError> {
        let generated = options.generated_types.as_ref();
        // Method names as the Rust emitter gives them (renamed around reserved names).
        let rust_names = crate::rust::Gen::new(schema)?.names;
        let includes = match generated {
            Some(_) => vec![format!(
                "{}/{}-types.h",
                options.header_dir.trim_end_matches('/'),
                options.stem
            )],
            None => {
                let mut all: Vec<String> = Vec::new();
                for inc in schema.files.iter().flat_map(|f| f.includes.iter()) {
                    if !all.contains(inc) {
                        all.push(inc.clone());
                    }
                }
                all
            }
        };
        // The C++ name of a generated type: its wrap name (or `fallback`), moved into
        // the configured namespace.
        let rename = |wrap: Option<&str>, capnp_name: &str| -> Option<String> {
            let g = generated?;
            let wrap = wrap.map(|w| w.trim_start_matches("::").to_string());
            let last = |w: &str| w.rsplit("::").next().unwrap_or(w).to_string();
            Some(match (&g.namespace, wrap) {
                (Some(ns), Some(w)) => format!("{ns}::{}", last(&w)),
                (Some(ns), None) => format!("{ns}::{}", crate::names::camel(capnp_name)),
                (None, Some(w)) => w,
                (None, None) => format!(
                    "{}::{}",
                    options.cpp_namespace.trim_start_matches("::"),
                    crate::names::camel(capnp_name)
                ),
            })
        };
        let mut model = Model {
            includes,
            structs: Vec::new(),
            enums: Vec::new(),
            generic_bases: HashMap::new(),
            interfaces: Vec::new(),
            struct_names: HashMap::new(),
            interface_paths: HashMap::new(),
        };
        for f in &schema.files {
            for &id in &f.decls {
                if let Some(s) = schema.structs.get(&id) {
                    if s.role != schema::StructRole::Declared {
                        continue;
                    }
                    let name = crate::names::camel(&s.capnp_name);
                    model.struct_names.insert(id, name.clone());
                    model.structs.push(StructModel {
                        id,
                        name,
                        fields: Vec::new(),
                        wrap: rename(s.wrap.as_deref(), &s.capnp_name).or_else(|| s.wrap.clone()),
                        generic: None,
                        union: None,
                    });
                } else if let Some(e) = schema.enums.get(&id) {
                    model.enums.push(EnumModel {
                        id,
                        name: crate::names::camel(&e.capnp_name),
                        enumerants: e.enumerants.clone(),
                        cpp: rename(None, &e.capnp_name),
                    });
                } else if let Some(i) = schema.interfaces.get(&id) {
                    if i.wrap.is_some() || generated.is_some() {
                        let name = crate::names::camel(&i.capnp_name);
                        model.interface_paths.insert(id, (name, String::new()));
                    }
                }
            }
        }
        // Fields are converted lazily by the emitter's needs: only structs a wrapped
        // interface reaches must be mappable.
        let mut inst = Instances::default();
        let mut fields = HashMap::new();
        for s in &model.structs {
            fields.insert(s.id, convert_fields(schema, &mut inst, s.id, &[]));
        }
        for s in &mut model.structs {
            if let Some(Ok(f)) = fields.remove(&s.id) {
                s.fields = f;
            }
        }
        // Every interface of the requested files and of the files they import (an
        // init interface's file names its methods' interfaces only by import).
        for (file, id) in schema
            .files
            .iter()
            .flat_map(|f| f.decls.iter().map(move |id| (f, *id)))
        {
            let Some(i) = schema.interfaces.get(&id) else {
                continue;
            };
            let wrap = match (&i.wrap, generated) {
                // A callback spelled as a std::function is kept; one named by the user's
                // header (Core's `CRPCCommand::Actor`) becomes a generated alias.
                (Some(w), Some(g)) if w.starts_with("ProxyCallback<") => {
                    let inner = w
                        .trim()
                        .strip_prefix("ProxyCallback<")
                        .and_then(|r| r.strip_suffix('>'))
                        .map(str::trim)
                        .ok_or_else(|| {
                            BuildError::Unsupported(format!(
                                "{}: interface {}: $Proxy.wrap(\"{w}\") is not ProxyCallback<F>",
                                file.path, i.capnp_name
                            ))
                        })?;
                    if inner.trim_start_matches("::").starts_with("std::function<") {
                        w.clone()
                    } else {
                        // An alias in the generated types' namespace, named by the last part
                        // (`CRPCCommand::Actor` → `<ns>::Actor`): the qualifier is often a
                        // class that is generated too, which cannot hold a namespace.
                        let ns = g.namespace.clone().unwrap_or_else(|| {
                            options.cpp_namespace.trim_start_matches("::").into()
                        });
                        let last = inner.rsplit("::").next().unwrap_or(inner);
                        format!("ProxyCallback<{ns}::{last}>")
                    }
                }
                (Some(w), None) if w.starts_with("ProxyCallback<") => w.clone(),
                (w, Some(_)) => rename(w.as_deref(), &i.capnp_name).unwrap_or_default(),
                (Some(w), None) => w.clone(),
                (None, None) => continue,
            };
            let what = format!("{}: interface {}", file.path, i.capnp_name);
            let mut methods = Vec::new();
            // Own methods, then inherited ones: a derived C++ class implements them all.
            let mut declaring = vec![id];
            declaring.extend(schema.ancestors(id)?);
            for (decl, m) in declaring.iter().flat_map(|d| {
                let iface = schema.interfaces.get(d);
                iface
                    .into_iter()
                    .flat_map(move |x| x.methods.iter().map(move |m| (x, m)))
            }) {
                if methods.iter().any(|have: &Method| have.name == m.name) {
                    continue; // destroy/construct, declared again by each interface
                }
                let mwhat = if decl.id == id {
                    format!("{what}, method {}", m.name)
                } else {
                    format!(
                        "{what}, method {} (inherited from {})",
                        m.name, decl.capnp_name
                    )
                };
                let params = convert_fields(schema, &mut inst, m.params, &[])
                    .map_err(|e| BuildError::Unsupported(format!("{mwhat}: {e}")))?;
                let mut results = convert_fields(schema, &mut inst, m.results, &[])
                    .map_err(|e| BuildError::Unsupported(format!("{mwhat}: {e}")))?;
                for r in results.iter_mut() {
                    let want = format!("want{}", crate::names::camel(&r.name));
                    if params.iter().any(|p| p.name == want && p.ty == Ty::Bool) {
                        r.wanted = true;
                    }
                }
                for f in params.iter().chain(results.iter()) {
                    let mut path = Vec::new();
                    check_reachable(
                        schema,
                        &model,
                        &mut inst,
                        &f.ty,
                        generated.is_some(),
                        &mut path,
                    )
                    .map_err(|e| {
                        BuildError::Unsupported(format!("{mwhat}, field {}: {e}", f.name))
                    })?;
                }
                let renamed = m.cpp_name.clone();
                let rust = rust_names
                    .method
                    .get(&(id, decl.id, m.ordinal))
                    .cloned()
                    .unwrap_or_else(|| snake(&m.name));
                methods.push(Method {
                    snake: snake(&m.name),
                    rust_name: crate::names::ident(&rust).to_string(),
                    rust_blocking: format!("{rust}_blocking"),
                    cpp_name: renamed.unwrap_or_else(|| m.name.clone()),
                    name: m.name.clone(),
                    params,
                    results,
                    declared_in: crate::names::camel(&decl.capnp_name),
                });
            }
            model.interfaces.push(Interface {
                id,
                name: crate::names::camel(&i.capnp_name),
                methods,
                wrap,
                supers: i.superclasses.clone(),
            });
        }
        for mut s in inst.structs {
            if inst.groups.contains(&s.id) {
                // Generated types only: no header type stands for a group.
                s.wrap = rename(None, &s.name);
            }
            if let Some(g) = &s.generic {
                // With generated types the instance is the template of its base
                // (`kvstore::Pair<...>`); with a header, mpgen's `std::pair` rule applies.
                let base = model.structs.iter().find(|b| b.id == g.base);
                s.wrap = match generated {
                    Some(_) => base.and_then(|b| b.wrap.clone()),
                    None => None,
                };
            }
            model.structs.push(s);
        }
        model.generic_bases = inst.bases;
        for s in &mut model.structs {
            if let Some(u) = inst.unions.remove(&s.id) {
                s.union = Some(u);
            }
        }
        if generated.is_some() {
            // A declared exception is thrown as the generated type of its struct.
            let names: HashMap<u64, String> = model
                .structs
                .iter()
                .filter_map(|s| Some((s.id, s.wrap.clone()?)))
                .collect();
            for i in &mut model.interfaces {
                for m in &mut i.methods {
                    for r in m.results.iter_mut().filter(|r| r.exception.is_some()) {
                        if let Ty::Struct(id) = r.ty {
                            r.exception = names.get(&id).cloned();
                        }
                    }
                }
            }
        }
        Ok(model)
    }
}

/// Whether interface `id` is a libmultiprocess callback (`$Proxy.wrap("ProxyCallback<...>")`).
fn is_callback(schema: &Schema, id: u64) -> bool {
    schema
        .interfaces
        .get(&id)
        .and_then(|i| i.wrap.as_deref())
        .is_some_and(|w| w.starts_with("ProxyCallback<"))
}

/// A struct used by a wrapped interface must itself be mappable.
/// Enums need generated C++ types (`enums`): no C++ header type stands for them.
/// `path` holds the structs being checked, outermost first: a struct met again on it
/// is recursive, which needs generated types (its C++ member is `mphub::cxx::Boxed<T>`).
fn check_reachable(
    schema: &Schema,
    model: &Model,
    inst: &mut Instances,
    ty: &Ty,
    enums: bool,
    path: &mut Vec<u64>,
) -> Result<(), String> {
    match ty {
        Ty::List(inner)
            if !enums && matches!(**inner, Ty::Interface(id) if !is_callback(schema, id)) =>
        {
            Err(
                "a list of interfaces, which the C++ bridge maps only with generated C++ types \
             (CxxBuilder::generate_types)"
                    .into(),
            )
        }
        Ty::List(inner) => check_reachable(schema, model, inst, inner, enums, path),
        Ty::Enum(_) if !enums => Err(
            "an enum, which the C++ bridge maps only with generated C++ types \
             (CxxBuilder::generate_types; libmultiprocess maps no enum)"
                .into(),
        ),
        Ty::Struct(id) if !enums && inst.groups.contains(id) => Err(
            "a group, which the C++ bridge maps only with generated C++ types \
             (CxxBuilder::generate_types)"
                .into(),
        ),
        Ty::Struct(id) if path.contains(id) && enums => Ok(()),
        Ty::Struct(id) if path.contains(id) => Err(
            "a recursive struct (it holds itself, through the fields named before this), which \
             the C++ bridge maps only with generated C++ types (CxxBuilder::generate_types)"
                .into(),
        ),
        // A callback inside a value is its std::function (the `ProxyCallback<...>`
        // argument), a type that exists with or without generated C++ types.
        Ty::Interface(id) if is_callback(schema, *id) => Ok(()),
        Ty::Interface(_) if !enums && !path.is_empty() => Err(
            "an interface inside a struct, which the C++ bridge maps only with generated C++ \
             types (CxxBuilder::generate_types)"
                .into(),
        ),
        Ty::AnyPointer if !enums => Err(
            "AnyPointer, which the C++ bridge maps only with generated C++ types \
             (CxxBuilder::generate_types)"
                .into(),
        ),
        Ty::Struct(id) => {
            let (name, fields) = match inst.structs.iter().find(|s| s.id == *id) {
                Some(s) => (s.name.clone(), s.fields.clone()),
                None => {
                    let s = model
                        .structs
                        .iter()
                        .find(|s| s.id == *id)
                        .ok_or("struct outside the schema")?;
                    let fields = convert_fields(schema, inst, *id, &[])
                        .map_err(|e| format!("struct {}: {e}", s.name))?;
                    (s.name.clone(), fields)
                }
            };
            let union: Vec<Field> = inst
                .unions
                .get(id)
                .map(|u| u.members.iter().filter_map(|m| m.field.clone()).collect())
                .unwrap_or_default();
            if inst.unions.contains_key(id) && !enums {
                return Err(format!(
                    "struct {name} has a union, which the C++ bridge maps only with generated C++ \
                     types (CxxBuilder::generate_types)"
                ));
            }
            path.push(*id);
            for f in fields.iter().chain(union.iter()) {
                check_reachable(schema, model, inst, &f.ty, enums, path)
                    .map_err(|e| format!("struct {name}, field {}: {e}", f.name))?;
            }
            path.pop();
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Instances of generic structs met while converting, and their bases.
#[derive(Default)]
struct Instances {
    /// "id<args>" → instance id.
    keys: HashMap<String, u64>,
    structs: Vec<StructModel>,
    bases: HashMap<u64, GenericBase>,
    /// Groups converted so far (their structs are in `structs`, under their own ids).
    groups: Vec<u64>,
    /// Unions of the structs converted so far, by struct id.
    unions: HashMap<u64, UnionModel>,
    /// (struct id, field index) of the fields the Rust emitter boxes; computed on first use.
    recursive: Option<std::collections::HashSet<(u64, usize)>>,
}

impl Instances {
    /// The instance of generic struct `id` with `args` (all bound), created on first use.
    fn instance(&mut self, schema: &Schema, id: u64, args: Vec<Ty>) -> Result<u64, String> {
        let key = format!("{id:x}<{args:?}>");
        if let Some(&have) = self.keys.get(&key) {
            return Ok(have);
        }
        let s = schema.strct(id).map_err(|e| e.to_string())?;
        let base_name = crate::names::camel(&s.capnp_name);
        let mut name = base_name.clone();
        for a in &args {
            name.push_str(&self.tag(schema, a)?);
        }
        let new_id = self.keys.len() as u64 + 1;
        self.keys.insert(key, new_id);
        if !self.bases.contains_key(&id) {
            let params: Vec<Ty> = (0..s.params.len()).map(Ty::Param).collect();
            let fields = convert_fields(schema, self, id, &params)?;
            let union = self.unions.remove(&id);
            self.bases.insert(
                id,
                GenericBase {
                    params: s.params.clone(),
                    fields,
                    union,
                },
            );
        }
        let fields = convert_fields(schema, self, id, &args)?;
        // The union converted under the generic struct's id belongs to this instance.
        let union = self.unions.remove(&id);
        self.structs.push(StructModel {
            id: new_id,
            name,
            fields,
            wrap: None,
            union,
            generic: Some(GenericInstance {
                base: id,
                base_name,
                args,
                used: schema.used_params(id),
            }),
        });
        Ok(new_id)
    }

    /// The struct of group `id` (field `field` of struct `parent`), created on first use.
    /// Named as the Rust emitter names it: the parent's name and the field's (`EntryMeta`).
    fn group(
        &mut self,
        schema: &Schema,
        id: u64,
        parent: u64,
        field: &str,
        args: &[Ty],
    ) -> Result<u64, String> {
        if self.groups.contains(&id) {
            return Ok(id);
        }
        self.groups.push(id);
        let parent_name = match self.structs.iter().find(|s| s.id == parent) {
            Some(s) => s.name.clone(),
            None => {
                crate::names::camel(&schema.strct(parent).map_err(|e| e.to_string())?.capnp_name)
            }
        };
        let fields = convert_fields(schema, self, id, args)?;
        self.structs.push(StructModel {
            id,
            name: format!("{parent_name}{}", crate::names::camel(field)),
            fields,
            wrap: None,
            generic: None,
            union: None,
        });
        Ok(id)
    }

    /// The part an argument adds to an instance's name.
    fn tag(&self, schema: &Schema, ty: &Ty) -> Result<String, String> {
        Ok(match ty {
            Ty::Void => "Void".into(),
            Ty::Bool => "Bool".into(),
            Ty::Int(t) | Ty::Float(t) => t.to_uppercase(),
            Ty::Text => "Text".into(),
            Ty::Data => "Data".into(),
            Ty::List(inner) => format!("List{}", self.tag(schema, inner)?),
            Ty::AnyPointer => "Any".into(),
            Ty::Enum(id) => schema
                .enums
                .get(id)
                .map(|e| crate::names::camel(&e.capnp_name))
                .ok_or("enum outside the schema")?,
            Ty::Struct(id) => match self.structs.iter().find(|s| s.id == *id) {
                Some(s) => s.name.clone(),
                None => {
                    crate::names::camel(&schema.strct(*id).map_err(|e| e.to_string())?.capnp_name)
                }
            },
            Ty::Interface(id) => schema
                .interfaces
                .get(id)
                .map(|i| crate::names::camel(&i.capnp_name))
                .ok_or("interface outside the schema")?,
            other => {
                return Err(format!(
                    "{other:?} as a generic argument (not mapped by the C++ bridge yet)"
                ))
            }
        })
    }
}

/// Converts a struct's fields, refusing what the bridge does not map yet.
/// `args` bind a generic struct's parameters (empty for other structs).
fn convert_fields(
    schema: &Schema,
    inst: &mut Instances,
    id: u64,
    args: &[Ty],
) -> Result<Vec<Field>, String> {
    let s = schema.strct(id).map_err(|e| e.to_string())?;
    if s.params.len() != args.len() {
        return Err(format!(
            "struct {} is generic and used without arguments",
            s.capnp_name
        ));
    }
    let mut out = Vec::new();
    // The Rust emitter's field names (a namespace per struct, keywords made usable;
    // `which` is the union's field beside plain ones).
    let mut rust_names = crate::names::Namespace::default();
    let pure = s.is_pure_union();
    if s.discriminant_offset.is_some() && !pure {
        rust_names.claim("which");
    }
    let mut variants = crate::names::Namespace::with_reserved(&["Self"]);
    let mut members = Vec::new();
    for f in &s.fields {
        let claimed = rust_names.claim(&snake(&f.name));
        let ty = match &f.kind {
            FieldKind::Group(g) => Ty::Struct(inst.group(schema, *g, id, &f.name, args)?),
            FieldKind::Slot { ty, .. } => convert_ty(schema, inst, ty, args).map_err(|what| {
                format!(
                    "field {}: {what} (not mapped by the C++ bridge yet)",
                    f.name
                )
            })?,
        };
        let cpp_default = match &f.kind {
            FieldKind::Slot { default, .. } => cpp_default(default),
            FieldKind::Group(_) => None,
        };
        out.push(Field {
            snake: crate::cxx::ffi_ident(&claimed),
            rust: crate::names::ident(&claimed).to_string(),
            name: f.name.clone(),
            ty,
            has_flag: None,
            is_flag: false,
            wanted: false,
            exception: f.exception.clone(),
            skip: f.skip,
            cpp_member: f.cpp_name.clone().unwrap_or_else(|| f.name.clone()),
            cpp_default,
            generic_param: matches!(
                &f.kind,
                FieldKind::Slot {
                    ty: schema::Ty::Param(_),
                    ..
                }
            ),
            group: matches!(&f.kind, FieldKind::Group(_)),
            boxed: inst
                .recursive
                .get_or_insert_with(|| crate::rust::recursive_fields(schema))
                .contains(&(id, f.index)),
        });
        if let Some(discriminant) = f.discriminant {
            let member = out.pop().expect("just pushed");
            members.push(UnionMember {
                name: f.name.clone(),
                discriminant,
                variant: String::new(),
                field: (member.ty != Ty::Void).then_some(member),
            });
        }
    }
    if !members.is_empty() {
        // Variants are named in discriminant order, as the Rust emitter does.
        members.sort_by_key(|m| m.discriminant);
        for m in &mut members {
            m.variant = variants.claim(&crate::names::camel(&m.name));
        }
        inst.unions.insert(id, UnionModel { pure, members });
    }
    let names: Vec<String> = out.iter().map(|f| f.name.clone()).collect();
    for i in 0..out.len() {
        if out[i].ty != Ty::Bool {
            continue;
        }
        if let Some(rest) = out[i].name.strip_prefix("has") {
            let mut target = rest.to_string();
            if let Some(first) = target.get(0..1) {
                target = first.to_lowercase() + &target[1..];
            }
            if let Some(j) = names.iter().position(|n| *n == target) {
                out[i].is_flag = true;
                out[j].has_flag = Some(out[i].name.clone());
            }
        }
    }
    Ok(out)
}

/// A scalar schema default as a C++ literal (the struct member's initializer).
fn cpp_default(default: &schema::DefaultValue) -> Option<String> {
    use schema::DefaultValue as D;
    Some(match default {
        D::Bool(b) => b.to_string(),
        D::Int(i) if *i == i128::from(i64::MIN) => "(-9223372036854775807LL - 1)".into(),
        D::Int(i) if *i > i128::from(i64::MAX) => format!("{i}ULL"),
        D::Int(i) => i.to_string(),
        D::Float32(f) => format!("{f:?}f"),
        D::Float64(f) => format!("{f:?}"),
        // Brace-initialising an enum with a fixed underlying type from its ordinal.
        D::Enum(n) => n.to_string(),
        // std::string from (pointer, length): the bytes may hold NUL.
        D::Text(bytes) if !bytes.is_empty() => {
            format!("std::string(\"{}\", {})", cpp_escaped(bytes), bytes.len())
        }
        D::Data(bytes) if !bytes.is_empty() => {
            let items: Vec<String> = bytes.iter().map(|b| format!("0x{b:02x}")).collect();
            format!("std::vector<unsigned char>{{{}}}", items.join(", "))
        }
        // Struct and list defaults (a message) are not rendered: the member starts empty.
        _ => return None,
    })
}

/// `bytes` inside a C++ string literal: printable ASCII as is, the rest as octal escapes
/// (which, unlike `\x`, stop after three digits).
fn cpp_escaped(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'"' | b'\\' => format!("\\{}", b as char),
            0x20..=0x7e => (b as char).to_string(),
            _ => format!("\\{b:03o}"),
        })
        .collect()
}

/// `args` bind the enclosing generic struct's parameters.
fn convert_ty(
    schema: &Schema,
    inst: &mut Instances,
    ty: &schema::Ty,
    args: &[Ty],
) -> Result<Ty, String> {
    Ok(match ty {
        schema::Ty::Void => Ty::Void,
        schema::Ty::Bool => Ty::Bool,
        schema::Ty::Int(t) => Ty::Int(match t {
            IntTy::I8 => "i8",
            IntTy::I16 => "i16",
            IntTy::I32 => "i32",
            IntTy::I64 => "i64",
            IntTy::U8 => "u8",
            IntTy::U16 => "u16",
            IntTy::U32 => "u32",
            IntTy::U64 => "u64",
        }),
        schema::Ty::Float32 => Ty::Float("f32"),
        schema::Ty::Float64 => Ty::Float("f64"),
        schema::Ty::Text => Ty::Text,
        schema::Ty::Data => Ty::Data,
        schema::Ty::List(inner) => Ty::List(Box::new(convert_ty(schema, inst, inner, args)?)),
        schema::Ty::Struct(id, sargs) if sargs.is_empty() => {
            let params = schema.strct(*id).map_err(|e| e.to_string())?.params.len();
            if params == 0 {
                Ty::Struct(*id)
            } else {
                // A generic struct named without arguments: its parameters are AnyPointer.
                Ty::Struct(inst.instance(schema, *id, vec![Ty::AnyPointer; params])?)
            }
        }
        schema::Ty::Struct(id, sargs) => {
            let bound = sargs
                .iter()
                .map(|a| convert_ty(schema, inst, a, args))
                .collect::<Result<Vec<_>, _>>()?;
            if bound.iter().any(has_param) {
                Ty::Generic(*id, bound)
            } else {
                Ty::Struct(inst.instance(schema, *id, bound)?)
            }
        }
        schema::Ty::Interface(id) => Ty::Interface(*id),
        schema::Ty::Enum(id) => Ty::Enum(*id),
        schema::Ty::Param(i) => args.get(*i).cloned().unwrap_or(Ty::AnyPointer),
        schema::Ty::AnyPointer => Ty::AnyPointer,
        schema::Ty::Context => Ty::Context,
        schema::Ty::ThreadMap => Ty::ThreadMap,
    })
}

/// Whether `ty` still mentions a generic parameter.
fn has_param(ty: &Ty) -> bool {
    match ty {
        Ty::Param(_) | Ty::Generic(..) => true,
        Ty::List(inner) => has_param(inner),
        _ => false,
    }
}

/// `name` with its first letter upper-cased (`addInt64` → `AddInt64`).
pub(crate) fn camel(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Params the caller passes (no context, threadMap, skipped fields or hasX flags).
pub(crate) fn visible_params(m: &Method) -> Vec<&Field> {
    m.params
        .iter()
        .filter(|f| {
            !f.skip && !f.is_flag && !matches!(f.ty, Ty::Context | Ty::ThreadMap | Ty::Void)
        })
        .collect()
}

/// Values the call returns (no flags, no exception slots).
pub(crate) fn outputs(m: &Method) -> Vec<&Field> {
    m.results
        .iter()
        .filter(|f| {
            !f.skip
                && !f.is_flag
                && f.exception.is_none()
                && !matches!(f.ty, Ty::ThreadMap | Ty::Void)
        })
        .collect()
}

/// Result fields carrying `$Proxy.exception`.
pub(crate) fn exceptions(m: &Method) -> Vec<&Field> {
    m.results.iter().filter(|f| f.exception.is_some()).collect()
}
