//! The schema, reduced to what the emitter needs, with mpgen's field classification.

use std::collections::HashMap;

use capnp::schema_capnp::{node, type_, value};

use crate::BuildError;

/// File ID of `mp/proxy.capnp`.
pub const PROXY_FILE_ID: u64 = 0xcc31_6e3f_71a0_40fb;
const CONTEXT_ID: u64 = 0x9c44_e664_5d0b_22c6;
const THREAD_MAP_ID: u64 = 0xee5e_3717_9ad9_dc9d;
const WRAP_ID: u64 = 0xe6f4_6079_b7b1_405e;
const COUNT_ID: u64 = 0xd026_82b3_19f6_9b38;
const EXCEPTION_ID: u64 = 0x996a_1832_0099_2f88;
const NAME_ID: u64 = 0xb594_888f_63f4_dbb9;
const SKIP_ID: u64 = 0x824c_08b8_2695_d8dd;
const INCLUDE_ID: u64 = 0xb899_f3c1_54fd_b458;

/// A field type, as far as mphub maps it.
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
    Interface(u64),
    Context,
    ThreadMap,
    Unsupported(String),
}

impl Ty {
    /// Pointer types need `?` on their getters (they return `Result`).
    pub fn is_pointer(&self) -> bool {
        matches!(
            self,
            Ty::Text
                | Ty::Data
                | Ty::List(_)
                | Ty::Struct(_)
                | Ty::Interface(_)
                | Ty::Context
                | Ty::ThreadMap
        )
    }
}

/// One field of a struct or a param/result list.
#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    /// snake_case name, as capnpc uses in getters/setters.
    pub snake: String,
    pub ty: Ty,
    /// Optional through a `hasX` sibling (capnp name of the flag).
    pub has_flag: Option<String>,
    /// This field is the `hasX` flag of another field: hidden.
    pub is_flag: bool,
    /// An out-value made optional by a `wantX` param.
    pub wanted: bool,
    /// `$Proxy.exception("T")`.
    pub exception: Option<String>,
    /// `$Proxy.count(0)` / `$Proxy.skip`: not an argument.
    pub skip: bool,
    /// Schema default as a Rust literal, for primitives.
    pub default: Option<String>,
}

/// A struct type.
#[derive(Clone, Debug)]
pub struct StructModel {
    pub id: u64,
    pub name: String,
    pub capnp_path: String,
    pub fields: Vec<Field>,
    pub wrap: Option<String>,
}

/// A method of an interface.
#[derive(Clone, Debug)]
pub struct Method {
    pub name: String,
    pub snake: String,
    pub rust_name: String,
    /// C++ member name: `$Proxy.name` if given, else the capnp name.
    pub cpp_name: String,
    pub ordinal: u16,
    pub params: Vec<Field>,
    pub results: Vec<Field>,
}

impl Method {
    pub fn has_context(&self) -> bool {
        self.params.iter().any(|f| f.ty == Ty::Context)
    }
}

/// A wrapped interface.
#[derive(Clone, Debug)]
pub struct Interface {
    pub id: u64,
    pub name: String,
    pub capnp_path: String,
    pub methods: Vec<Method>,
    pub wrap: String,
}

/// Everything to emit for one generation run.
pub struct Model {
    pub files: Vec<(String, String)>,
    /// `$Proxy.include` headers of the requested files (the C++ interface declarations).
    pub includes: Vec<String>,
    pub structs: Vec<StructModel>,
    pub interfaces: Vec<Interface>,
    pub struct_names: HashMap<u64, String>,
    pub interface_paths: HashMap<u64, (String, String)>,
}

pub fn snake(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    const KEYWORDS: &[&str] = &[
        "abstract", "alignof", "as", "be", "become", "box", "break", "const", "continue", "crate",
        "do", "else", "enum", "extern", "false", "final", "fn", "for", "if", "impl", "in", "let",
        "loop", "macro", "match", "mod", "move", "mut", "offsetof", "once", "override", "priv",
        "proc", "pub", "pure", "ref", "return", "self", "sizeof", "static", "struct", "super",
        "trait", "true", "type", "typeof", "unsafe", "unsized", "use", "virtual", "where", "while",
        "yield",
    ];
    if KEYWORDS.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

fn text_annotation(
    annotations: capnp::struct_list::Reader<'_, capnp::schema_capnp::annotation::Owned>,
    id: u64,
) -> Result<Option<String>, BuildError> {
    for a in annotations.iter() {
        if a.get_id() == id {
            if let value::Text(t) = a.get_value()?.which()? {
                return Ok(Some(t?.to_string()?));
            }
        }
    }
    Ok(None)
}

fn has_annotation(
    annotations: capnp::struct_list::Reader<'_, capnp::schema_capnp::annotation::Owned>,
    id: u64,
    int_value: Option<i32>,
) -> Result<bool, BuildError> {
    for a in annotations.iter() {
        if a.get_id() == id {
            match (int_value, a.get_value()?.which()?) {
                (None, _) => return Ok(true),
                (Some(want), value::Int32(v)) if v == want => return Ok(true),
                _ => {}
            }
        }
    }
    Ok(false)
}

struct Ctx<'a> {
    nodes: HashMap<u64, node::Reader<'a>>,
    /// node id → (parent id, name within parent)
    parents: HashMap<u64, (u64, String)>,
    file_modules: HashMap<u64, String>,
}

impl<'a> Ctx<'a> {
    fn path(&self, id: u64) -> Option<String> {
        if let Some(m) = self.file_modules.get(&id) {
            return Some(m.clone());
        }
        let (parent, name) = self.parents.get(&id)?;
        Some(format!("{}::{}", self.path(*parent)?, snake(name)))
    }

    fn ty(&self, t: type_::Reader<'_>) -> Result<Ty, BuildError> {
        Ok(match t.which()? {
            type_::Void(()) => Ty::Void,
            type_::Bool(()) => Ty::Bool,
            type_::Int8(()) => Ty::Int("i8"),
            type_::Int16(()) => Ty::Int("i16"),
            type_::Int32(()) => Ty::Int("i32"),
            type_::Int64(()) => Ty::Int("i64"),
            type_::Uint8(()) => Ty::Int("u8"),
            type_::Uint16(()) => Ty::Int("u16"),
            type_::Uint32(()) => Ty::Int("u32"),
            type_::Uint64(()) => Ty::Int("u64"),
            type_::Float32(()) => Ty::Float("f32"),
            type_::Float64(()) => Ty::Float("f64"),
            type_::Text(()) => Ty::Text,
            type_::Data(()) => Ty::Data,
            type_::List(l) => Ty::List(Box::new(self.ty(l.get_element_type()?)?)),
            type_::Struct(s) if s.get_type_id() == CONTEXT_ID => Ty::Context,
            type_::Struct(s) => Ty::Struct(s.get_type_id()),
            type_::Interface(i) if i.get_type_id() == THREAD_MAP_ID => Ty::ThreadMap,
            type_::Interface(i) => Ty::Interface(i.get_type_id()),
            type_::Enum(_) => Ty::Unsupported("enum".into()),
            type_::AnyPointer(_) => Ty::Unsupported("AnyPointer".into()),
        })
    }

    fn fields(&self, struct_id: u64) -> Result<Vec<Field>, BuildError> {
        let node = self
            .nodes
            .get(&struct_id)
            .ok_or_else(|| BuildError::Unsupported(format!("missing node {struct_id:#x}")))?;
        let node::Struct(st) = node.which()? else {
            return Err(BuildError::Unsupported(format!(
                "{struct_id:#x} is not a struct"
            )));
        };
        let mut out = Vec::new();
        for f in st.get_fields()?.iter() {
            let name = f.get_name()?.to_string()?;
            let capnp::schema_capnp::field::Slot(slot) = f.which()? else {
                return Err(BuildError::Unsupported(format!("group field {name}")));
            };
            let ty = self.ty(slot.get_type()?)?;
            let ann = f.get_annotations()?;
            let skip =
                has_annotation(ann, COUNT_ID, Some(0))? || has_annotation(ann, SKIP_ID, None)?;
            let exception = text_annotation(ann, EXCEPTION_ID)?;
            let default = if slot.get_had_explicit_default() {
                default_literal(slot.get_default_value()?)?
            } else {
                None
            };
            out.push(Field {
                snake: snake(&name),
                name,
                ty,
                has_flag: None,
                is_flag: false,
                wanted: false,
                exception,
                skip,
                default,
            });
        }
        // hasX flags make X optional.
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
}

fn default_literal(v: value::Reader<'_>) -> Result<Option<String>, BuildError> {
    Ok(Some(match v.which()? {
        value::Bool(b) => b.to_string(),
        value::Int8(x) => x.to_string(),
        value::Int16(x) => x.to_string(),
        value::Int32(x) => x.to_string(),
        value::Int64(x) => x.to_string(),
        value::Uint8(x) => x.to_string(),
        value::Uint16(x) => x.to_string(),
        value::Uint32(x) => x.to_string(),
        value::Uint64(x) => x.to_string(),
        value::Float32(x) => format!("{x:?}_f32"),
        value::Float64(x) => format!("{x:?}_f64"),
        _ => return Ok(None),
    }))
}

fn rust_type_name(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

impl Model {
    pub fn from_request(
        req: capnp::schema_capnp::code_generator_request::Reader<'_>,
    ) -> Result<Model, BuildError> {
        let mut ctx = Ctx {
            nodes: HashMap::new(),
            parents: HashMap::new(),
            file_modules: HashMap::new(),
        };
        for n in req.get_nodes()?.iter() {
            ctx.nodes.insert(n.get_id(), n);
            for nested in n.get_nested_nodes()?.iter() {
                ctx.parents.insert(
                    nested.get_id(),
                    (n.get_id(), nested.get_name()?.to_string()?),
                );
            }
        }
        ctx.file_modules
            .insert(PROXY_FILE_ID, "::mphub::proxy_capnp".to_string());
        let mut files = Vec::new();
        let mut includes = Vec::new();
        for rf in req.get_requested_files()?.iter() {
            let filename = rf.get_filename()?.to_string()?;
            let base = filename.rsplit('/').next().unwrap_or(&filename).to_string();
            let module = base.replace(".capnp", "_capnp").replace(['-', '.'], "_");
            ctx.file_modules.insert(rf.get_id(), module.clone());
            files.push((module, filename));
            if let Some(file_node) = ctx.nodes.get(&rf.get_id()) {
                if let Some(inc) = text_annotation(file_node.get_annotations()?, INCLUDE_ID)? {
                    includes.push(inc);
                }
            }
        }
        let requested: Vec<u64> = req
            .get_requested_files()?
            .iter()
            .map(|f| f.get_id())
            .collect();
        let mut model = Model {
            files,
            includes,
            structs: Vec::new(),
            interfaces: Vec::new(),
            struct_names: HashMap::new(),
            interface_paths: HashMap::new(),
        };
        // Walk every node nested (transitively) in a requested file.
        let mut stack: Vec<u64> = requested.clone();
        let mut order = Vec::new();
        while let Some(id) = stack.pop() {
            if let Some(n) = ctx.nodes.get(&id) {
                let mut nested: Vec<u64> =
                    n.get_nested_nodes()?.iter().map(|x| x.get_id()).collect();
                nested.reverse();
                stack.extend(nested);
                if !requested.contains(&id) {
                    order.push(id);
                }
            }
        }
        for id in order {
            let n = ctx.nodes[&id];
            let name = ctx
                .parents
                .get(&id)
                .map(|p| p.1.clone())
                .unwrap_or_default();
            let path = ctx
                .path(id)
                .ok_or_else(|| BuildError::Unsupported(format!("no path for {name}")))?;
            let wrap = text_annotation(n.get_annotations()?, WRAP_ID)?;
            match n.which()? {
                node::Struct(_) => {
                    let rust = rust_type_name(&name);
                    model.struct_names.insert(id, rust.clone());
                    model.structs.push(StructModel {
                        id,
                        name: rust,
                        capnp_path: path,
                        fields: ctx.fields(id)?,
                        wrap,
                    });
                }
                node::Interface(iface) => {
                    let Some(wrap) = wrap else { continue };
                    if !iface.get_superclasses()?.is_empty() {
                        return Err(BuildError::Unsupported(format!(
                            "interface {name} uses extends(); inherited methods are not generated yet"
                        )));
                    }
                    let rust = rust_type_name(&name);
                    model
                        .interface_paths
                        .insert(id, (rust.clone(), path.clone()));
                    let mut methods = Vec::new();
                    for (ordinal, m) in iface.get_methods()?.iter().enumerate() {
                        let mname = m.get_name()?.to_string()?;
                        let renamed = text_annotation(m.get_annotations()?, NAME_ID)?;
                        let rust_name = snake(renamed.as_deref().unwrap_or(&mname));
                        let cpp_name = renamed.unwrap_or_else(|| mname.clone());
                        let params = ctx.fields(m.get_param_struct_type())?;
                        let mut results = ctx.fields(m.get_result_struct_type())?;
                        for r in results.iter_mut() {
                            let want = format!("want{}", rust_type_name(&r.name));
                            if params.iter().any(|p| p.name == want && p.ty == Ty::Bool) {
                                r.wanted = true;
                            }
                        }
                        methods.push(Method {
                            snake: snake(&mname),
                            name: mname,
                            rust_name,
                            cpp_name,
                            ordinal: ordinal as u16,
                            params,
                            results,
                        });
                    }
                    model.interfaces.push(Interface {
                        id,
                        name: rust,
                        capnp_path: path,
                        methods,
                        wrap,
                    });
                }
                _ => {}
            }
        }
        Ok(model)
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
        .filter(|f| !f.skip && !f.is_flag && f.ty != Ty::Context && f.ty != Ty::ThreadMap)
        .collect()
}

/// Values the call returns (no flags, no exception slots).
pub(crate) fn outputs(m: &Method) -> Vec<&Field> {
    m.results
        .iter()
        .filter(|f| !f.skip && !f.is_flag && f.exception.is_none() && f.ty != Ty::ThreadMap)
        .collect()
}

/// Result fields carrying `$Proxy.exception`.
pub(crate) fn exceptions(m: &Method) -> Vec<&Field> {
    m.results.iter().filter(|f| f.exception.is_some()).collect()
}
