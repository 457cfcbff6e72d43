//! The schema as mphub sees it: every declaration of every file the capnp compiler
//! loaded, with types resolved (generic brands bound, groups and unions laid out) and
//! the `$Proxy` annotations read. Owned data, so emitters need no capnp readers.
//!
//! Anything the emitters cannot express is refused here or there with a
//! [`BuildError::Unsupported`] naming the schema file, the declaration and the field
//! or method.

use std::collections::{BTreeMap, HashMap};

use capnp::schema_capnp::{brand, field, node, type_, value};

use crate::BuildError;

/// File ID of `mp/proxy.capnp`.
pub const PROXY_FILE_ID: u64 = 0xcc31_6e3f_71a0_40fb;
/// File ID of `capnp/c++.capnp`.
pub const CXX_FILE_ID: u64 = 0xbdf8_7d7b_b830_4e81;
const CONTEXT_ID: u64 = 0x9c44_e664_5d0b_22c6;
const THREAD_MAP_ID: u64 = 0xee5e_3717_9ad9_dc9d;
const THREAD_ID: u64 = 0x81c1_e260_0d0b_56c5;
const WRAP_ID: u64 = 0xe6f4_6079_b7b1_405e;
const COUNT_ID: u64 = 0xd026_82b3_19f6_9b38;
const EXCEPTION_ID: u64 = 0x996a_1832_0099_2f88;
const NAME_ID: u64 = 0xb594_888f_63f4_dbb9;
const SKIP_ID: u64 = 0x824c_08b8_2695_d8dd;
const INCLUDE_ID: u64 = 0xb899_f3c1_54fd_b458;

/// `discriminantValue` of a field outside any union.
const NO_DISCRIMINANT: u16 = 0xffff;

/// A field or value type.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    Void,
    Bool,
    Int(IntTy),
    Float32,
    Float64,
    Text,
    Data,
    List(Box<Ty>),
    Enum(u64),
    /// A struct, with its generic arguments (empty unless the struct is generic).
    Struct(u64, Vec<Ty>),
    Interface(u64),
    /// The `index`th generic parameter of the enclosing struct.
    Param(usize),
    /// `AnyPointer`, or a generic parameter left unbound.
    AnyPointer,
    /// libmultiprocess's `Proxy.Context`: implicit.
    Context,
    /// libmultiprocess's `Proxy.ThreadMap`: implicit.
    ThreadMap,
}

/// Integer widths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntTy {
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
}

impl Ty {
    /// Stored in the data section (as opposed to behind a pointer).
    pub fn is_data(&self) -> bool {
        matches!(
            self,
            Ty::Void | Ty::Bool | Ty::Int(_) | Ty::Float32 | Ty::Float64 | Ty::Enum(_)
        )
    }
}

/// A field's default as declared in the schema.
#[derive(Clone, Debug, PartialEq)]
pub enum DefaultValue {
    /// No default beyond the type's zero/empty value.
    None,
    Bool(bool),
    /// Integers of any width (always fits in i128).
    Int(i128),
    Float32(f32),
    Float64(f64),
    Enum(u16),
    Text(Vec<u8>),
    Data(Vec<u8>),
    /// A struct, list or AnyPointer default: a serialized message whose root is the value.
    Message(Vec<u8>),
}

/// One field of a struct, group, or params/results struct.
#[derive(Clone, Debug)]
pub struct Field {
    /// Schema name.
    pub name: String,
    /// Position in the schema's field list (ordinal order, groups included).
    pub index: usize,
    /// The declared ordinal (`@N`); `None` for groups and unions.
    pub ordinal: Option<u16>,
    /// Union member discriminant, for fields inside a union.
    pub discriminant: Option<u16>,
    pub kind: FieldKind,
    /// `$Proxy.name`: the C++ member name.
    pub cpp_name: Option<String>,
    /// `$Proxy.skip`: mpgen does not map it (the data is on the wire all the same).
    pub skip: bool,
    /// `$Proxy.count(N)`: how many C++ arguments the field stands for.
    pub count: Option<i32>,
    /// `$Proxy.exception("T")`: a declared-exception result slot.
    pub exception: Option<String>,
}

/// Where a field's value lives.
#[derive(Clone, Debug)]
pub enum FieldKind {
    /// A value: `offset` is in units of the type's size for data fields (bits for
    /// Bool), the pointer index for pointer fields.
    Slot {
        offset: u32,
        ty: Ty,
        default: DefaultValue,
    },
    /// A group (or named union): its fields share this struct's layout.
    Group(u64),
}

impl Field {
    /// The slot type, `None` for groups.
    pub fn ty(&self) -> Option<&Ty> {
        match &self.kind {
            FieldKind::Slot { ty, .. } => Some(ty),
            FieldKind::Group(_) => None,
        }
    }
}

/// Why a struct node exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StructRole {
    /// Declared in the schema.
    Declared,
    /// A group or named union inside another struct.
    Group,
    /// The implicit params or results struct of a method.
    Method,
}

/// A struct, group, or method params/results struct.
#[derive(Clone, Debug)]
pub struct Struct {
    pub id: u64,
    pub file: u64,
    /// Name in the schema (`Outer.Inner`, `Tester.addInt64$Params`).
    pub capnp_name: String,
    pub role: StructRole,
    /// Generic parameter names (of the struct, or of the struct a group belongs to).
    pub params: Vec<String>,
    pub data_words: u16,
    pub pointers: u16,
    /// Offset of the union discriminant (units of 16 bits), when the struct has a union.
    pub discriminant_offset: Option<u32>,
    pub fields: Vec<Field>,
    /// `$Proxy.wrap`: the C++ type.
    pub wrap: Option<String>,
}

impl Struct {
    /// Fields outside the union.
    pub fn plain_fields(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| f.discriminant.is_none())
    }

    /// Union members, in discriminant order.
    pub fn union_fields(&self) -> Vec<&Field> {
        let mut v: Vec<&Field> = self
            .fields
            .iter()
            .filter(|f| f.discriminant.is_some())
            .collect();
        v.sort_by_key(|f| f.discriminant);
        v
    }

    /// True when every field is a union member (maps to a Rust `enum`).
    pub fn is_pure_union(&self) -> bool {
        self.discriminant_offset.is_some() && self.plain_fields().next().is_none()
    }
}

/// An enum.
#[derive(Clone, Debug)]
pub struct Enum {
    pub id: u64,
    pub file: u64,
    pub capnp_name: String,
    /// Enumerant names, by ordinal.
    pub enumerants: Vec<String>,
}

/// A method of an interface.
#[derive(Clone, Debug)]
pub struct Method {
    pub name: String,
    pub ordinal: u16,
    /// Params and results struct IDs.
    pub params: u64,
    pub results: u64,
    /// `$Proxy.name`: the C++ method name.
    pub cpp_name: Option<String>,
}

/// An interface.
#[derive(Clone, Debug)]
pub struct Interface {
    pub id: u64,
    pub file: u64,
    pub capnp_name: String,
    /// Direct superclasses (`extends(...)`).
    pub superclasses: Vec<u64>,
    pub methods: Vec<Method>,
    /// `$Proxy.wrap`: the C++ interface class.
    pub wrap: Option<String>,
}

/// A constant.
#[derive(Clone, Debug)]
pub struct Const {
    pub id: u64,
    pub file: u64,
    pub capnp_name: String,
    pub ty: Ty,
    pub value: DefaultValue,
}

/// A schema file the compiler loaded (not the bundled `proxy.capnp`/`c++.capnp`).
#[derive(Clone, Debug)]
pub struct File {
    pub id: u64,
    /// Path as the compiler names it (`test/test.capnp`, `mp/proxy.capnp`).
    pub path: String,
    /// `$Proxy.include` headers (the C++ declarations of the wrapped types).
    pub includes: Vec<String>,
    /// Declarations in the file (nested ones too), in schema order.
    pub decls: Vec<u64>,
}

/// Everything the emitters need.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    pub files: Vec<File>,
    pub structs: BTreeMap<u64, Struct>,
    pub enums: BTreeMap<u64, Enum>,
    pub interfaces: BTreeMap<u64, Interface>,
    pub consts: BTreeMap<u64, Const>,
}

impl Schema {
    /// The file declaring node `id`.
    pub fn file_of(&self, id: u64) -> Option<&File> {
        let file = self
            .structs
            .get(&id)
            .map(|s| s.file)
            .or_else(|| self.enums.get(&id).map(|e| e.file))
            .or_else(|| self.interfaces.get(&id).map(|i| i.file))
            .or_else(|| self.consts.get(&id).map(|c| c.file))?;
        self.files.iter().find(|f| f.id == file)
    }

    /// Path of the file declaring `id`, for messages.
    pub fn file_path(&self, id: u64) -> &str {
        self.file_of(id)
            .map(|f| f.path.as_str())
            .unwrap_or("<schema>")
    }

    /// Interface `id`, or an error naming `place`.
    pub fn interface(&self, id: u64) -> Result<&Interface, BuildError> {
        self.interfaces.get(&id).ok_or_else(|| {
            BuildError::Schema(format!(
                "interface {id:#x} is missing from the compiler's output"
            ))
        })
    }

    /// Struct `id`.
    pub fn strct(&self, id: u64) -> Result<&Struct, BuildError> {
        self.structs.get(&id).ok_or_else(|| {
            BuildError::Schema(format!(
                "struct {id:#x} is missing from the compiler's output"
            ))
        })
    }

    /// Every ancestor interface of `id` (transitively, each once, nearest first).
    pub fn ancestors(&self, id: u64) -> Result<Vec<u64>, BuildError> {
        let mut out: Vec<u64> = Vec::new();
        let mut queue: Vec<u64> = self.interface(id)?.superclasses.clone();
        while let Some(next) = queue.first().copied() {
            queue.remove(0);
            if next == id || out.contains(&next) {
                continue;
            }
            out.push(next);
            queue.extend(self.interface(next)?.superclasses.iter().copied());
        }
        Ok(out)
    }

    /// For generic struct `id`: which of its parameters some field uses (unused ones
    /// are dropped from the Rust type).
    pub fn used_params(&self, id: u64) -> Vec<bool> {
        let Some(s) = self.structs.get(&id) else {
            return Vec::new();
        };
        let mut used = vec![false; s.params.len()];
        self.mark_params(id, &mut used);
        used
    }

    fn mark_params(&self, id: u64, used: &mut [bool]) {
        let Some(s) = self.structs.get(&id) else {
            return;
        };
        for f in &s.fields {
            match &f.kind {
                FieldKind::Slot { ty, .. } => mark_ty(ty, used),
                FieldKind::Group(g) => self.mark_params(*g, used),
            }
        }
    }

    /// Reads the compiler's request. File names start with the first of `roots` (the
    /// import paths) that contains them, shortened to the path below it.
    pub fn from_request(
        req: capnp::schema_capnp::code_generator_request::Reader<'_>,
        roots: &[std::path::PathBuf],
    ) -> Result<Schema, BuildError> {
        let mut loader = Loader::new(req)?;
        loader.roots = roots
            .iter()
            .filter_map(|r| r.canonicalize().or_else(|_| std::path::absolute(r)).ok())
            .map(|r| {
                let r = r.to_string_lossy().trim_start_matches('/').to_string();
                format!("{}/", r.trim_end_matches('/'))
            })
            .collect();
        loader.load()
    }
}

fn mark_ty(ty: &Ty, used: &mut [bool]) {
    match ty {
        Ty::Param(i) => {
            if let Some(u) = used.get_mut(*i) {
                *u = true;
            }
        }
        Ty::List(t) => mark_ty(t, used),
        Ty::Struct(_, args) => args.iter().for_each(|a| mark_ty(a, used)),
        _ => {}
    }
}

fn text(r: capnp::Result<capnp::text::Reader<'_>>) -> Result<String, BuildError> {
    Ok(r?.to_string()?)
}

/// Reads `$Proxy` annotations off an annotation list.
#[derive(Default)]
struct Annotations {
    wrap: Option<String>,
    name: Option<String>,
    exception: Option<String>,
    count: Option<i32>,
    skip: bool,
}

impl Annotations {
    fn read(
        list: capnp::struct_list::Reader<'_, capnp::schema_capnp::annotation::Owned>,
    ) -> Result<Annotations, BuildError> {
        let mut a = Annotations::default();
        for ann in list.iter() {
            let v = ann.get_value()?;
            let as_text = || -> Result<Option<String>, BuildError> {
                match v.which()? {
                    value::Text(t) => Ok(Some(text(t)?)),
                    _ => Ok(None),
                }
            };
            match ann.get_id() {
                WRAP_ID => a.wrap = as_text()?,
                NAME_ID => a.name = as_text()?,
                EXCEPTION_ID => a.exception = as_text()?,
                SKIP_ID => a.skip = true,
                COUNT_ID => {
                    if let value::Int32(n) = v.which()? {
                        a.count = Some(n);
                    }
                }
                _ => {}
            }
        }
        Ok(a)
    }
}

struct Loader<'a> {
    req: capnp::schema_capnp::code_generator_request::Reader<'a>,
    nodes: HashMap<u64, node::Reader<'a>>,
    /// Node → the file it belongs to.
    file_of: HashMap<u64, u64>,
    /// Node → its generic scope root (a group's enclosing declared struct).
    scope_root: HashMap<u64, u64>,
    /// Prefixes stripped from file names (the import paths, as capnp names them).
    roots: Vec<String>,
}

impl<'a> Loader<'a> {
    fn new(
        req: capnp::schema_capnp::code_generator_request::Reader<'a>,
    ) -> Result<Self, BuildError> {
        let mut nodes = HashMap::new();
        for n in req.get_nodes()?.iter() {
            nodes.insert(n.get_id(), n);
        }
        Ok(Loader {
            req,
            nodes,
            file_of: HashMap::new(),
            scope_root: HashMap::new(),
            roots: Vec::new(),
        })
    }

    fn node(&self, id: u64) -> Result<node::Reader<'a>, BuildError> {
        self.nodes.get(&id).copied().ok_or_else(|| {
            BuildError::Schema(format!(
                "node {id:#x} is missing from the compiler's output"
            ))
        })
    }

    /// The node's name inside its file (`Outer.Inner`).
    fn local_name(&self, id: u64) -> Result<String, BuildError> {
        let n = self.node(id)?;
        let display = text(n.get_display_name())?;
        let prefix = n.get_display_name_prefix_length() as usize;
        // displayName is `file:Outer.Inner`; the prefix length points at `Inner`.
        Ok(match display.find(':') {
            Some(colon) if colon < display.len() => display[colon + 1..].to_string(),
            _ => display.get(prefix..).unwrap_or(&display).to_string(),
        })
    }

    fn file_path(&self, file: u64) -> String {
        let full = self
            .nodes
            .get(&file)
            .and_then(|n| n.get_display_name().ok())
            .and_then(|t| t.to_string().ok())
            .unwrap_or_else(|| format!("{file:#x}"));
        self.roots
            .iter()
            .find_map(|r| full.strip_prefix(r.as_str()))
            .map(String::from)
            .unwrap_or(full)
    }

    /// An error naming the schema file and the declaration (`what`) in words.
    fn err(&self, file: u64, what: &str, detail: impl std::fmt::Display) -> BuildError {
        BuildError::Unsupported(format!("{}: {what}: {detail}", self.file_path(file)))
    }

    fn load(mut self) -> Result<Schema, BuildError> {
        let mut schema = Schema::default();
        let requested: Vec<u64> = self
            .req
            .get_requested_files()?
            .iter()
            .map(|f| f.get_id())
            .collect();
        let mut file_ids: Vec<u64> = self
            .nodes
            .values()
            .filter(|n| matches!(n.which(), Ok(node::File(()))))
            .map(|n| n.get_id())
            .filter(|id| *id != PROXY_FILE_ID && *id != CXX_FILE_ID)
            .collect();
        // Requested files first (in command-line order), then imports by path.
        file_ids.sort_by_key(|id| {
            (
                requested.iter().position(|r| r == id).unwrap_or(usize::MAX),
                self.file_path(*id),
            )
        });
        for file in file_ids {
            let mut decls = Vec::new();
            self.walk(file, file, &mut decls)?;
            let mut includes = Vec::new();
            for a in self.node(file)?.get_annotations()?.iter() {
                if a.get_id() == INCLUDE_ID {
                    if let value::Text(t) = a.get_value()?.which()? {
                        includes.push(text(t)?);
                    }
                }
            }
            schema.files.push(File {
                id: file,
                path: self.file_path(file),
                includes,
                decls,
            });
        }
        // Declarations.
        let files = schema.files.clone();
        for f in &files {
            for &id in &f.decls {
                self.declare(&mut schema, f.id, id)?;
            }
        }
        Ok(schema)
    }

    /// Collects nested declarations of `scope` (depth first, schema order).
    fn walk(&mut self, file: u64, scope: u64, out: &mut Vec<u64>) -> Result<(), BuildError> {
        let n = self.node(scope)?;
        for nested in n.get_nested_nodes()?.iter() {
            let id = nested.get_id();
            if !self.nodes.contains_key(&id) {
                continue;
            }
            self.file_of.insert(id, file);
            out.push(id);
            self.walk(file, id, out)?;
        }
        Ok(())
    }

    fn declare(&mut self, schema: &mut Schema, file: u64, id: u64) -> Result<(), BuildError> {
        let n = self.node(id)?;
        let name = self.local_name(id)?;
        let ann = Annotations::read(n.get_annotations()?)?;
        match n.which()? {
            node::Struct(_) => {
                self.scope_root.insert(id, id);
                self.load_struct(schema, file, id, StructRole::Declared)?;
            }
            node::Enum(e) => {
                let mut enumerants = Vec::new();
                for en in e.get_enumerants()?.iter() {
                    enumerants.push(text(en.get_name())?);
                }
                schema.enums.insert(
                    id,
                    Enum {
                        id,
                        file,
                        capnp_name: name,
                        enumerants,
                    },
                );
            }
            node::Interface(iface) => {
                let what = format!("interface {name}");
                if n.get_is_generic() || !n.get_parameters()?.is_empty() {
                    return Err(self.err(file, &what, "generic interfaces are not supported"));
                }
                let mut superclasses = Vec::new();
                for sc in iface.get_superclasses()?.iter() {
                    let sid = sc.get_id();
                    if sid == THREAD_MAP_ID || sid == THREAD_ID {
                        return Err(self.err(file, &what, "extends a libmultiprocess interface"));
                    }
                    superclasses.push(sid);
                }
                let mut methods = Vec::new();
                for (ordinal, m) in iface.get_methods()?.iter().enumerate() {
                    let mname = text(m.get_name())?;
                    let mwhat = format!("{what}, method {mname}");
                    if !m.get_implicit_parameters()?.is_empty() {
                        return Err(self.err(file, &mwhat, "generic methods are not supported"));
                    }
                    let mann = Annotations::read(m.get_annotations()?)?;
                    for (sid, brand) in [
                        (m.get_param_struct_type(), m.get_param_brand()?),
                        (m.get_result_struct_type(), m.get_result_brand()?),
                    ] {
                        if !brand.get_scopes()?.is_empty() && self.node(sid)?.get_is_generic() {
                            return Err(self.err(
                                file,
                                &mwhat,
                                "a generic struct as the whole params or results is not supported",
                            ));
                        }
                        if !schema.structs.contains_key(&sid) {
                            let auto = self.node(sid)?.get_scope_id() == 0;
                            self.scope_root.insert(sid, sid);
                            let role = if auto {
                                StructRole::Method
                            } else {
                                StructRole::Declared
                            };
                            self.load_struct(schema, file, sid, role)?;
                        }
                    }
                    methods.push(Method {
                        name: mname,
                        ordinal: ordinal as u16,
                        params: m.get_param_struct_type(),
                        results: m.get_result_struct_type(),
                        cpp_name: mann.name,
                    });
                }
                schema.interfaces.insert(
                    id,
                    Interface {
                        id,
                        file,
                        capnp_name: name,
                        superclasses,
                        methods,
                        wrap: ann.wrap,
                    },
                );
            }
            node::Const(c) => {
                let what = format!("const {name}");
                let ty = self.ty(file, &what, id, c.get_type()?)?;
                let value = self.default_value(file, &what, c.get_value()?)?;
                schema.consts.insert(
                    id,
                    Const {
                        id,
                        file,
                        capnp_name: name,
                        ty,
                        value,
                    },
                );
            }
            node::File(()) | node::Annotation(_) => {}
        }
        Ok(())
    }

    fn load_struct(
        &mut self,
        schema: &mut Schema,
        file: u64,
        id: u64,
        role: StructRole,
    ) -> Result<(), BuildError> {
        if schema.structs.contains_key(&id) {
            return Ok(());
        }
        let n = self.node(id)?;
        let node::Struct(st) = n.which()? else {
            return Err(BuildError::Schema(format!("{id:#x} is not a struct")));
        };
        let name = self.local_name(id)?;
        let what = format!("struct {name}");
        let ann = Annotations::read(n.get_annotations()?)?;
        let root = *self.scope_root.get(&id).unwrap_or(&id);
        let params: Vec<String> = self
            .node(root)?
            .get_parameters()?
            .iter()
            .map(|p| text(p.get_name()))
            .collect::<Result<_, _>>()?;
        let mut fields = Vec::new();
        let mut groups = Vec::new();
        for (index, f) in st.get_fields()?.iter().enumerate() {
            let fname = text(f.get_name())?;
            let fwhat = format!("{what}, field {fname}");
            let fann = Annotations::read(f.get_annotations()?)?;
            let discriminant = match f.get_discriminant_value() {
                NO_DISCRIMINANT => None,
                d => Some(d),
            };
            let ordinal = match f.get_ordinal().which()? {
                field::ordinal::Explicit(o) => Some(o),
                field::ordinal::Implicit(()) => None,
            };
            let kind = match f.which()? {
                field::Slot(slot) => {
                    let ty = self.ty(file, &fwhat, root, slot.get_type()?)?;
                    let default = if slot.get_had_explicit_default() || ty.is_data() {
                        self.default_value(file, &fwhat, slot.get_default_value()?)?
                    } else {
                        DefaultValue::None
                    };
                    FieldKind::Slot {
                        offset: slot.get_offset(),
                        ty,
                        default,
                    }
                }
                field::Group(g) => {
                    let gid = g.get_type_id();
                    self.scope_root.insert(gid, root);
                    groups.push(gid);
                    FieldKind::Group(gid)
                }
            };
            fields.push(Field {
                name: fname,
                index,
                ordinal,
                discriminant,
                kind,
                cpp_name: fann.name,
                skip: fann.skip || fann.count == Some(0),
                count: fann.count,
                exception: fann.exception,
            });
        }
        schema.structs.insert(
            id,
            Struct {
                id,
                file,
                capnp_name: name,
                role,
                params,
                data_words: st.get_data_word_count(),
                pointers: st.get_pointer_count(),
                discriminant_offset: (st.get_discriminant_count() > 0)
                    .then_some(st.get_discriminant_offset()),
                fields,
                wrap: ann.wrap,
            },
        );
        for g in groups {
            self.load_struct(schema, file, g, StructRole::Group)?;
        }
        Ok(())
    }

    /// Resolves a type used inside the declaration whose generic scope root is `scope`.
    fn ty(
        &self,
        file: u64,
        what: &str,
        scope: u64,
        t: type_::Reader<'_>,
    ) -> Result<Ty, BuildError> {
        Ok(match t.which()? {
            type_::Void(()) => Ty::Void,
            type_::Bool(()) => Ty::Bool,
            type_::Int8(()) => Ty::Int(IntTy::I8),
            type_::Int16(()) => Ty::Int(IntTy::I16),
            type_::Int32(()) => Ty::Int(IntTy::I32),
            type_::Int64(()) => Ty::Int(IntTy::I64),
            type_::Uint8(()) => Ty::Int(IntTy::U8),
            type_::Uint16(()) => Ty::Int(IntTy::U16),
            type_::Uint32(()) => Ty::Int(IntTy::U32),
            type_::Uint64(()) => Ty::Int(IntTy::U64),
            type_::Float32(()) => Ty::Float32,
            type_::Float64(()) => Ty::Float64,
            type_::Text(()) => Ty::Text,
            type_::Data(()) => Ty::Data,
            type_::List(l) => Ty::List(Box::new(self.ty(
                file,
                what,
                scope,
                l.get_element_type()?,
            )?)),
            type_::Enum(e) => Ty::Enum(e.get_type_id()),
            type_::Struct(s) if s.get_type_id() == CONTEXT_ID => Ty::Context,
            type_::Struct(s) => {
                let target = s.get_type_id();
                let args = self.brand_args(file, what, scope, target, s.get_brand()?)?;
                Ty::Struct(target, args)
            }
            type_::Interface(i) if i.get_type_id() == THREAD_MAP_ID => Ty::ThreadMap,
            type_::Interface(i) if i.get_type_id() == THREAD_ID => {
                return Err(self.err(file, what, "Proxy.Thread fields are not supported (libmultiprocess passes threads only inside Proxy.Context)"));
            }
            type_::Interface(i) => {
                let target = i.get_type_id();
                if self.node(target)?.get_is_generic() {
                    return Err(self.err(file, what, "generic interfaces are not supported"));
                }
                Ty::Interface(target)
            }
            type_::AnyPointer(a) => match a.which()? {
                type_::any_pointer::Unconstrained(u) => match u.which()? {
                    type_::any_pointer::unconstrained::Capability(()) => {
                        return Err(self.err(file, what, "AnyPointer constrained to capabilities (`Capability`) is not supported"));
                    }
                    _ => Ty::AnyPointer,
                },
                type_::any_pointer::Parameter(p) => {
                    if p.get_scope_id() != scope {
                        let owner = self.local_name(p.get_scope_id()).unwrap_or_default();
                        return Err(self.err(
                            file,
                            what,
                            format!("uses generic parameter #{} of the enclosing {owner}; nested declarations of generic structs are not supported", p.get_parameter_index()),
                        ));
                    }
                    Ty::Param(p.get_parameter_index() as usize)
                }
                type_::any_pointer::ImplicitMethodParameter(_) => {
                    return Err(self.err(file, what, "generic methods are not supported"));
                }
            },
        })
    }

    /// The generic arguments of a struct reference.
    fn brand_args(
        &self,
        file: u64,
        what: &str,
        scope: u64,
        target: u64,
        b: brand::Reader<'_>,
    ) -> Result<Vec<Ty>, BuildError> {
        let target_node = self.node(target)?;
        let count = target_node.get_parameters()?.len() as usize;
        // Scopes of the target's enclosing declarations would bind parameters of
        // nested generics, which we refuse where they are used.
        for sc in b.get_scopes()?.iter() {
            if sc.get_scope_id() != target {
                continue;
            }
            return match sc.which()? {
                brand::scope::Bind(bindings) => {
                    let mut args = Vec::new();
                    for binding in bindings?.iter() {
                        args.push(match binding.which()? {
                            brand::binding::Unbound(()) => Ty::AnyPointer,
                            brand::binding::Type(t) => {
                                let ty = self.ty(file, what, scope, t?)?;
                                if ty.is_data() {
                                    return Err(self.err(
                                        file,
                                        what,
                                        "a generic argument must be a pointer type",
                                    ));
                                }
                                ty
                            }
                        });
                    }
                    Ok(args)
                }
                brand::scope::Inherit(()) => Ok((0..count).map(Ty::Param).collect()),
            };
        }
        if target == scope && count > 0 {
            // A generic struct naming itself: the same parameters.
            return Ok((0..count).map(Ty::Param).collect());
        }
        Ok(vec![Ty::AnyPointer; count])
    }

    fn default_value(
        &self,
        file: u64,
        what: &str,
        v: value::Reader<'_>,
    ) -> Result<DefaultValue, BuildError> {
        Ok(match v.which()? {
            value::Void(()) | value::Interface(()) => DefaultValue::None,
            value::Bool(b) => DefaultValue::Bool(b),
            value::Int8(x) => DefaultValue::Int(x.into()),
            value::Int16(x) => DefaultValue::Int(x.into()),
            value::Int32(x) => DefaultValue::Int(x.into()),
            value::Int64(x) => DefaultValue::Int(x.into()),
            value::Uint8(x) => DefaultValue::Int(x.into()),
            value::Uint16(x) => DefaultValue::Int(x.into()),
            value::Uint32(x) => DefaultValue::Int(x.into()),
            value::Uint64(x) => DefaultValue::Int(x.into()),
            value::Float32(x) => DefaultValue::Float32(x),
            value::Float64(x) => DefaultValue::Float64(x),
            value::Enum(e) => DefaultValue::Enum(e),
            value::Text(t) => DefaultValue::Text(t?.as_bytes().to_vec()),
            value::Data(d) => DefaultValue::Data(d?.to_vec()),
            value::List(p) | value::Struct(p) | value::AnyPointer(p) => {
                if p.is_null() {
                    DefaultValue::None
                } else {
                    let mut m = capnp::message::Builder::new_default();
                    m.set_root(p)
                        .map_err(|e| self.err(file, what, format!("default value: {e}")))?;
                    DefaultValue::Message(capnp::serialize::write_message_to_words(&m))
                }
            }
        })
    }
}
