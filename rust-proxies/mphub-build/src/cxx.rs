//! The second emitter: a `#[cxx::bridge]` Rust module plus a C++ header/source pair that
//! give C++ code the schema's `$Proxy.wrap` interfaces on top of mphub's Rust runtime.
//!
//! For every wrapped interface `X` (C++ type `W`, the wrap target) it writes
//! - C++ `RemoteX : public W`, whose methods call the peer through the Rust client's
//!   blocking API (callback interfaces, `ProxyCallback<std::function<Sig>>`, get a
//!   `RemoteX` with `call(...)` and a `std::function<Sig>` adapter instead);
//! - C++ `XCap`, a capability to serve or pass: a C++ implementation
//!   (`std::unique_ptr<W>` or, for callbacks, a `std::function`), a remote object, or a
//!   Rust implementation (`rustX()`, when configured);
//! - `serve`/`serveFd`/`embed` overloads taking an `XCap`, and `connectX`, `connectXFd`,
//!   `spawnX` returning `RemoteX` handles;
//! - Rust glue: `CppX` implements the generated `XServer` trait by calling the C++ object
//!   on a worker thread, and the `extern "Rust"` functions the C++ side calls.
//!
//! Values cross the boundary as cxx shared structs (`FfiS` for struct `S`), `rust::Vec`,
//! and `rust::Slice<const uint8_t>` (Text and Data are bytes: neither side validates
//! UTF-8); the generated C++ glue converts them to and from the `$Proxy.include` types.
//! Errors cross as `[kind] message` texts and become `mphub::cxx::Error` in C++; a
//! `$Proxy.exception` type crosses through a per-thread slot and is rethrown as itself.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use crate::model::{
    camel, exceptions, outputs, visible_params, EnumModel, Field, Interface, Method, Model,
    StructModel, Ty,
};
use crate::names::snake;
use crate::BuildError;

/// Settings of one C++ bridge generation.
#[derive(Clone, Debug)]
pub struct CxxOptions {
    /// Rust path of the module that [`crate::Builder`] generated for the same schema
    /// (its clients, server traits and structs), e.g. `::my_crate::test_schema`.
    pub proxies: String,
    /// Rust path of the runtime support module (`mphub_cxx::support` in this repository).
    pub support: String,
    /// C++ namespace of the public API, e.g. `mphub::cxx`.
    pub cpp_namespace: String,
    /// Short name of the schema (file stem): names the files and the internal namespace
    /// `<cpp_namespace>::ffi::<stem>`.
    pub stem: String,
    /// Folder, relative to an include root, of the generated headers (`mphub/cxx`).
    pub header_dir: String,
    /// Rust implementations offered to C++ as `rustX()`: (interface name, Rust path of a
    /// `fn() -> mphub::Cap<XClient>`).
    pub rust_impls: Vec<(String, String)>,
    /// Generate the C++ interface classes and structs (header `<stem>-types.h`) instead
    /// of using the `$Proxy.include` header, for users who have no header declaring the
    /// `$Proxy.wrap` names. `None`: use the header.
    pub generated_types: Option<GeneratedTypes>,
}

/// Where generated C++ types go (see [`CxxOptions::generated_types`]).
#[derive(Clone, Debug, Default)]
pub struct GeneratedTypes {
    /// One namespace for every generated type (e.g. `core_v31`). `None`: a type keeps
    /// the namespace of its `$Proxy.wrap` name (`interfaces::Mining` stays there), and
    /// types without one go to the API namespace.
    pub namespace: Option<String>,
}

/// The generated text.
pub struct CxxCode {
    /// Rust: the `#[cxx::bridge]` module `ffi` and the glue, for `include!`.
    pub rust: String,
    /// Public C++ header `<header_dir>/<stem>.h`.
    pub header: String,
    /// Internal C++ header `<header_dir>/<stem>-glue.h`, included by the bridge.
    pub glue_header: String,
    /// C++ source with the glue and the class implementations.
    pub source: String,
    /// Generated C++ interface classes and structs (`<header_dir>/<stem>-types.h`),
    /// when [`CxxOptions::generated_types`] is set.
    pub types_header: Option<String>,
}

const CPP_KEYWORDS: &[&str] = &[
    "alignas",
    "alignof",
    "and",
    "asm",
    "auto",
    "bool",
    "break",
    "case",
    "catch",
    "char",
    "class",
    "const",
    "constexpr",
    "continue",
    "default",
    "delete",
    "do",
    "double",
    "else",
    "enum",
    "explicit",
    "export",
    "extern",
    "false",
    "float",
    "for",
    "friend",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "mutable",
    "namespace",
    "new",
    "noexcept",
    "not",
    "operator",
    "or",
    "private",
    "protected",
    "public",
    "register",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "template",
    "this",
    "throw",
    "true",
    "try",
    "typedef",
    "typename",
    "union",
    "unsigned",
    "using",
    "virtual",
    "void",
    "volatile",
    "while",
    "xor",
];

/// A field or parameter name usable in the cxx bridge on both sides: not a Rust keyword
/// (cxx has no raw identifiers in C++) and not a C++ keyword.
pub(crate) fn ffi_ident(name: &str) -> String {
    if crate::names::is_rust_keyword(name) || CPP_KEYWORDS.contains(&name) {
        format!("{name}_")
    } else {
        name.to_string()
    }
}

fn cpp_ident(name: &str) -> String {
    if CPP_KEYWORDS.contains(&name) {
        format!("{name}_")
    } else {
        name.to_string()
    }
}

fn cpp_qualified(name: &str) -> String {
    if name.starts_with("::") {
        name.to_string()
    } else {
        format!("::{name}")
    }
}

fn is_optional_out(f: &Field) -> bool {
    f.has_flag.is_some() || f.wanted
}

/// How a method's outputs come back.
enum Ret<'a> {
    Unit,
    /// One output named `result`, not optional.
    Single(&'a Field),
    /// A `…Ret` shared struct; `api_single` when the Rust API returns the one value
    /// itself (an optional `result`), else its `…Output` struct.
    Struct {
        api_single: bool,
    },
}

struct Gen<'a> {
    model: &'a Model,
    o: &'a CxxOptions,
    structs: HashMap<u64, &'a StructModel>,
    enums: HashMap<u64, &'a EnumModel>,
    /// Enums that cross the boundary.
    used_enums: BTreeSet<u64>,
    /// Element types of nested lists (`List(List(x))` → `x`), by tag: each gets a shared
    /// struct `FfiList<tag> { items }` (cxx has no `Vec<Vec<T>>`).
    nested_lists: BTreeMap<String, Ty>,
    ifaces: HashMap<u64, &'a Interface>,
    /// Structs that cross the boundary.
    used_structs: BTreeSet<u64>,
    /// Exception structs: (struct id, C++ exception type).
    declared: Vec<(u64, String)>,
    /// Text exceptions: (type named by `$Proxy.exception`, C++ type thrown).
    declared_text: Vec<(String, String)>,
    /// `::ns::ffi::stem`
    f: String,
    p: String,
    s: String,
}

impl<'a> Gen<'a> {
    fn iface(&self, id: u64) -> Result<&'a Interface, BuildError> {
        self.ifaces.get(&id).copied().ok_or_else(|| {
            BuildError::Unsupported(format!(
                "interface {id:#x} has no $Proxy.wrap or is outside this set"
            ))
        })
    }

    fn strct(&self, id: u64) -> Result<&'a StructModel, BuildError> {
        self.structs
            .get(&id)
            .copied()
            .ok_or_else(|| BuildError::Unsupported(format!("struct {id:#x} outside this set")))
    }

    /// Name part of the shared struct holding one inner list of element type `ty`.
    fn list_tag(&self, ty: &Ty) -> Result<String, BuildError> {
        Ok(match ty {
            Ty::Bool => "Bool".into(),
            Ty::Int(t) | Ty::Float(t) => t.to_uppercase(),
            Ty::Text => "Text".into(),
            Ty::Data => "Data".into(),
            Ty::Enum(id) => self.enm(*id)?.name.clone(),
            Ty::Struct(id) => self.strct(*id)?.name.clone(),
            Ty::List(inner) => format!("List{}", self.list_tag(inner)?),
            other => {
                return Err(BuildError::Unsupported(format!(
                    "C++ bridge: list of {other:?}"
                )))
            }
        })
    }

    /// Nesting depth of a list type, to name loop variables of nested conversions.
    fn depth(ty: &Ty) -> usize {
        match ty {
            Ty::List(inner) => 1 + Self::depth(inner),
            _ => 0,
        }
    }

    fn enm(&self, id: u64) -> Result<&'a EnumModel, BuildError> {
        self.enums
            .get(&id)
            .copied()
            .ok_or_else(|| BuildError::Unsupported(format!("enum {id:#x} outside this set")))
    }

    /// The C++ type of an enum: generated (`enum class E : std::uint16_t`) only.
    fn cpp_enum(&self, id: u64) -> Result<String, BuildError> {
        let e = self.enm(id)?;
        e.cpp.as_deref().map(cpp_qualified).ok_or_else(|| {
            BuildError::Unsupported(format!(
                "C++ bridge: enum {} has no C++ type in a header (libmultiprocess does not map \
                 enums); generate the C++ types (CxxBuilder::generate_types)",
                e.name
            ))
        })
    }

    fn is_callback(i: &Interface) -> bool {
        i.wrap.starts_with("ProxyCallback<")
    }

    /// Bootstrap interfaces (with `construct`, which exchanges ThreadMaps) get
    /// serve/connect/spawn/embed functions; others only travel as arguments and results.
    fn is_bootstrap(i: &Interface) -> bool {
        i.methods.iter().any(|m| m.name == "construct")
    }

    /// `std::function<Sig>` of a callback interface.
    fn callback_fn_type(i: &Interface) -> String {
        let inner = i.wrap.trim().trim_start_matches("ProxyCallback<");
        let inner = inner.strip_suffix('>').unwrap_or(inner);
        cpp_qualified(inner.trim())
    }

    /// The one method of a callback interface.
    fn callback_method(i: &Interface) -> Result<&Method, BuildError> {
        let mut ms = i
            .methods
            .iter()
            .filter(|m| m.name != "destroy" && m.name != "construct");
        match (ms.next(), ms.next()) {
            (Some(m), None) => Ok(m),
            _ => Err(BuildError::Unsupported(format!(
                "callback interface {} must have exactly one method besides destroy",
                i.name
            ))),
        }
    }

    fn methods(i: &Interface) -> impl Iterator<Item = &Method> {
        i.methods
            .iter()
            .filter(|m| m.name != "destroy" && m.name != "construct")
    }

    fn collect_struct(&mut self, ty: &Ty) -> Result<(), BuildError> {
        match ty {
            Ty::List(inner) => {
                if let Ty::List(element) = &**inner {
                    let tag = self.list_tag(element)?;
                    self.nested_lists.insert(tag, (**element).clone());
                }
                self.collect_struct(inner)
            }
            Ty::Enum(id) => {
                self.enm(*id)?;
                self.used_enums.insert(*id);
                Ok(())
            }
            Ty::Struct(id) => {
                if self.used_structs.insert(*id) {
                    let s = self.strct(*id)?;
                    for f in s.fields.iter().filter(|f| !f.skip && !f.is_flag) {
                        self.collect_struct(&f.ty)?;
                    }
                    for f in Self::union_fields(s) {
                        self.collect_struct(&f.ty)?;
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn ret<'m>(&self, i: &Interface, m: &'m Method) -> Result<Ret<'m>, BuildError> {
        let outs = outputs(m);
        match outs.as_slice() {
            [] => Ok(Ret::Unit),
            [one] if one.name == "result" && !is_optional_out(one) => Ok(Ret::Single(one)),
            many => {
                if many.iter().any(|f| matches!(f.ty, Ty::Interface(_))) {
                    return Err(BuildError::Unsupported(format!(
                        "{}.{}: an interface output must be the only output, named result",
                        i.name, m.name
                    )));
                }
                Ok(Ret::Struct {
                    api_single: many.len() == 1 && many[0].name == "result",
                })
            }
        }
    }

    fn ret_struct_name(i: &Interface, m: &Method) -> String {
        format!("{}{}Ret", i.name, camel(&m.name))
    }

    // ---------------------------------------------------------------- Rust types

    /// Bridge (ffi) Rust type of an owned value; `m` is `""` inside the bridge module
    /// and `"ffi::"` outside it.
    fn ffi_ty(&self, ty: &Ty, m: &str) -> Result<String, BuildError> {
        Ok(match ty {
            Ty::Bool => "bool".into(),
            Ty::Int(t) | Ty::Float(t) => (*t).into(),
            Ty::Enum(_) => "u16".into(),
            Ty::Text | Ty::Data | Ty::AnyPointer => "Vec<u8>".into(),
            // One element (which may hold a null capability); cxx has no Box in Vec.
            Ty::Interface(id) => format!("Vec<{m}FfiCap{}>", self.iface(*id)?.name),
            Ty::List(inner) => match &**inner {
                Ty::Void => "u64".into(),
                Ty::Text | Ty::Data | Ty::AnyPointer => format!("Vec<{m}FfiBytes>"),
                Ty::Interface(id) => format!("Vec<{m}FfiCap{}>", self.iface(*id)?.name),
                Ty::Bool | Ty::Int(_) | Ty::Float(_) | Ty::Enum(_) | Ty::Struct(_) => {
                    format!("Vec<{}>", self.ffi_ty(inner, m)?)
                }
                Ty::List(element) => format!("Vec<{m}FfiList{}>", self.list_tag(element)?),
                other => {
                    return Err(BuildError::Unsupported(format!(
                        "C++ bridge: list of {other:?}"
                    )))
                }
            },
            Ty::Struct(id) => format!("{m}Ffi{}", self.strct(*id)?.name),
            other => return Err(BuildError::Unsupported(format!("C++ bridge: {other:?}"))),
        })
    }

    /// Bridge type of a value passed by the caller (Text/Data borrowed).
    fn ffi_arg_ty(&self, ty: &Ty, m: &str) -> Result<String, BuildError> {
        Ok(match ty {
            Ty::Text | Ty::Data => "&[u8]".into(),
            _ => self.ffi_ty(ty, m)?,
        })
    }

    /// Rust API type (as the generated proxies spell it) of a plain value.
    fn api_ty(&self, ty: &Ty) -> Result<String, BuildError> {
        let p = &self.p;
        Ok(match ty {
            Ty::Bool => "bool".into(),
            Ty::Int(t) | Ty::Float(t) => (*t).into(),
            Ty::Text => "::mphub::Text".into(),
            Ty::Data => "::std::vec::Vec<u8>".into(),
            Ty::List(inner) => format!("::std::vec::Vec<{}>", self.api_ty(inner)?),
            Ty::Struct(id) => {
                let st = self.strct(*id)?;
                match &st.generic {
                    // The Rust emitter drops the parameters no field uses.
                    Some(g) => {
                        let args = g
                            .args
                            .iter()
                            .zip(&g.used)
                            .filter(|(_, used)| **used)
                            .map(|(a, _)| self.api_ty(a))
                            .collect::<Result<Vec<_>, _>>()?;
                        format!("{p}::{}<{}>", g.base_name, args.join(", "))
                    }
                    None => format!("{p}::{}", st.name),
                }
            }
            Ty::Enum(id) => format!("{p}::{}", self.enm(*id)?.name),
            Ty::Void => "()".into(),
            Ty::AnyPointer => "::mphub::wire::AnyValue".into(),
            Ty::Interface(id) => format!("::mphub::Cap<{p}::{}Client>", self.iface(*id)?.name),
            other => return Err(BuildError::Unsupported(format!("C++ bridge: {other:?}"))),
        })
    }

    /// Rust expression: owned API value → owned ffi value.
    fn rs_to_ffi(&self, ty: &Ty, e: &str) -> Result<String, BuildError> {
        Ok(match ty {
            Ty::Bool | Ty::Int(_) | Ty::Float(_) | Ty::Data => e.to_string(),
            Ty::Text => format!("({e}).into_bytes()"),
            Ty::AnyPointer => format!("({e}).as_message_bytes().to_vec()"),
            // A single capability is a list of one.
            Ty::Interface(id) => format!("vec![{}]", self.rs_cap_to_ffi(*id, e)?),
            Ty::Enum(_) => format!("::mphub::wire::Enum::ordinal({e})"),
            Ty::List(inner) => match &**inner {
                Ty::Bool | Ty::Int(_) | Ty::Float(_) => e.to_string(),
                Ty::Void => format!("({e}).len() as u64"),
                Ty::Interface(id) => format!(
                    "({e}).into_iter().map(|x| {}).collect::<Vec<_>>()",
                    self.rs_cap_to_ffi(*id, "x")?
                ),
                Ty::Enum(_) => format!(
                    "({e}).into_iter().map(::mphub::wire::Enum::ordinal).collect::<Vec<_>>()"
                ),
                Ty::Text | Ty::Data | Ty::AnyPointer => format!(
                    "({e}).into_iter().map(|x| ffi::FfiBytes {{ data: {} }}).collect::<Vec<_>>()",
                    self.rs_to_ffi(inner, "x")?
                ),
                Ty::Struct(id) => format!(
                    "({e}).into_iter().map({}_to_ffi).collect::<Vec<_>>()",
                    snake(&self.strct(*id)?.name)
                ),
                Ty::List(element) => {
                    let x = format!("x{}", Self::depth(inner));
                    format!(
                        "({e}).into_iter().map(|{x}| ffi::FfiList{} {{ items: {} }}).collect::<Vec<_>>()",
                        self.list_tag(element)?,
                        self.rs_to_ffi(inner, &x)?
                    )
                }
                other => return Err(BuildError::Unsupported(format!("list of {other:?}"))),
            },
            Ty::Struct(id) => format!("{}_to_ffi({e})", snake(&self.strct(*id)?.name)),
            other => return Err(BuildError::Unsupported(format!("C++ bridge: {other:?}"))),
        })
    }

    /// Rust expression: a `Cap<XClient>` → the `FfiCapX` carrying it.
    fn rs_cap_to_ffi(&self, id: u64, e: &str) -> Result<String, BuildError> {
        let n = &self.iface(id)?.name;
        Ok(format!("ffi::FfiCap{n} {{ cap: Box::new({n}Cap({e})) }}"))
    }

    /// Rust expression: owned ffi value → owned API value.
    fn rs_from_ffi(&self, ty: &Ty, e: &str) -> Result<String, BuildError> {
        Ok(match ty {
            Ty::Bool | Ty::Int(_) | Ty::Float(_) | Ty::Data => e.to_string(),
            Ty::Text => format!("::mphub::Text::from_bytes({e})"),
            Ty::AnyPointer => format!("::mphub::wire::AnyValue::from_message_bytes({e})"),
            Ty::Interface(_) => format!(
                "({e}).into_iter().next().map(|x| (*x.cap).0).unwrap_or_default()"
            ),
            Ty::Enum(_) => format!(
                "<{} as ::mphub::wire::Enum>::from_ordinal({e})",
                self.api_ty(ty)?
            ),
            Ty::List(inner) => match &**inner {
                Ty::Bool | Ty::Int(_) | Ty::Float(_) => e.to_string(),
                // Zero-sized elements: no allocation, whatever the count.
                Ty::Void => format!("vec![(); ({e}) as usize]"),
                Ty::Interface(_) => format!("({e}).into_iter().map(|x| (*x.cap).0).collect::<Vec<_>>()"),
                Ty::Enum(_) => format!(
                    "({e}).into_iter().map(<{} as ::mphub::wire::Enum>::from_ordinal).collect::<Vec<_>>()",
                    self.api_ty(inner)?
                ),
                Ty::Text | Ty::Data | Ty::AnyPointer => format!(
                    "({e}).into_iter().map(|x| {}).collect::<Vec<_>>()",
                    self.rs_from_ffi(inner, "x.data")?
                ),
                Ty::Struct(id) => format!(
                    "({e}).into_iter().map({}_from_ffi).collect::<Vec<_>>()",
                    snake(&self.strct(*id)?.name)
                ),
                Ty::List(_) => {
                    let x = format!("x{}", Self::depth(inner));
                    format!(
                        "({e}).into_iter().map(|{x}| {}).collect::<Vec<_>>()",
                        self.rs_from_ffi(inner, &format!("{x}.items"))?
                    )
                }
                other => return Err(BuildError::Unsupported(format!("list of {other:?}"))),
            },
            Ty::Struct(id) => format!("{}_from_ffi({e})", snake(&self.strct(*id)?.name)),
            other => return Err(BuildError::Unsupported(format!("C++ bridge: {other:?}"))),
        })
    }

    /// Rust API type of a field-level value: a struct field is an `Option` (null ⇔ None).
    fn fapi_ty(&self, ty: &Ty) -> Result<String, BuildError> {
        Ok(match ty {
            Ty::Struct(_) => format!("::std::option::Option<{}>", self.api_ty(ty)?),
            _ => self.api_ty(ty)?,
        })
    }

    /// [`Self::rs_to_ffi`] for a field-level value (a null struct becomes its defaults,
    /// as the C++ side reads it).
    fn f_to_ffi(&self, ty: &Ty, e: &str) -> Result<String, BuildError> {
        match ty {
            Ty::Struct(_) => self.rs_to_ffi(ty, &format!("({e}).unwrap_or_default()")),
            _ => self.rs_to_ffi(ty, e),
        }
    }

    /// [`Self::rs_from_ffi`] for a field-level value.
    fn f_from_ffi(&self, ty: &Ty, e: &str) -> Result<String, BuildError> {
        Ok(match ty {
            Ty::Struct(_) => format!("Some({})", self.rs_from_ffi(ty, e)?),
            _ => self.rs_from_ffi(ty, e)?,
        })
    }

    /// A struct field that can be null on both sides: `Option<T>` in Rust,
    /// `std::optional<T>` (or `mphub::cxx::Boxed<T>`) in generated C++ types, and at the
    /// boundary a list of zero or one value (which also lets a struct hold itself).
    fn nullable(f: &Field) -> bool {
        matches!(f.ty, Ty::Struct(_)) && !f.generic_param && !f.group && f.has_flag.is_none()
    }

    /// Bridge type of a struct field.
    fn ffi_field_ty(&self, f: &Field, m: &str) -> Result<String, BuildError> {
        let t = self.ffi_ty(&f.ty, m)?;
        Ok(if Self::nullable(f) {
            format!("Vec<{t}>")
        } else {
            t
        })
    }

    /// Rust expression: a struct field's API value → its ffi value.
    fn field_to_ffi(&self, f: &Field, e: &str) -> Result<String, BuildError> {
        if Self::nullable(f) {
            let x = if f.boxed { "*x" } else { "x" };
            return Ok(format!(
                "({e}).into_iter().map(|x| {}).collect::<Vec<_>>()",
                self.rs_to_ffi(&f.ty, x)?
            ));
        }
        if f.generic_param || f.group {
            self.rs_to_ffi(&f.ty, e)
        } else {
            self.f_to_ffi(&f.ty, e)
        }
    }

    /// Rust expression: a struct field's ffi value → its API value.
    fn field_from_ffi(&self, f: &Field, e: &str) -> Result<String, BuildError> {
        if Self::nullable(f) {
            let boxed = if f.boxed {
                ".map(::std::boxed::Box::new)"
            } else {
                ""
            };
            return Ok(format!(
                "({e}).into_iter().next().map(|x| {}){boxed}",
                self.rs_from_ffi(&f.ty, "x")?
            ));
        }
        if f.has_flag.is_some() || f.generic_param || f.group {
            self.rs_from_ffi(&f.ty, e)
        } else {
            self.f_from_ffi(&f.ty, e)
        }
    }

    /// Rust expression: ffi argument (slices for Text/Data) → owned API value.
    fn rs_from_ffi_arg(&self, ty: &Ty, e: &str) -> Result<String, BuildError> {
        Ok(match ty {
            Ty::Text => format!("::mphub::Text::from_bytes({e}.to_vec())"),
            Ty::Data => format!("{e}.to_vec()"),
            _ => self.rs_from_ffi(ty, e)?,
        })
    }

    /// Rust expression: API value (a local binding) → ffi argument (borrowing Text/Data).
    fn rs_to_ffi_arg(&self, ty: &Ty, e: &str) -> Result<String, BuildError> {
        Ok(match ty {
            Ty::Text => format!("{e}.as_bytes()"),
            Ty::Data => format!("&{e}[..]"),
            _ => self.rs_to_ffi(ty, e)?,
        })
    }

    // ---------------------------------------------------------------- C++ types

    /// C++ API type (the `$Proxy.include` header's) of a plain value.
    fn cpp_ty(&self, ty: &Ty) -> Result<String, BuildError> {
        Ok(match ty {
            Ty::Bool => "bool".into(),
            Ty::Int(t) => match *t {
                "i8" => "std::int8_t",
                "i16" => "std::int16_t",
                "i32" => "std::int32_t",
                "i64" => "std::int64_t",
                "u8" => "std::uint8_t",
                "u16" => "std::uint16_t",
                "u32" => "std::uint32_t",
                _ => "std::uint64_t",
            }
            .into(),
            Ty::Float(t) => if *t == "f32" { "float" } else { "double" }.into(),
            Ty::Text => "std::string".into(),
            Ty::Data => "std::vector<unsigned char>".into(),
            Ty::Void => "std::monostate".into(),
            Ty::AnyPointer => "::mphub::cxx::AnyValue".into(),
            Ty::Interface(id) => {
                let i = self.iface(*id)?;
                if Self::is_callback(i) {
                    // As libmultiprocess: the struct member is the function object itself.
                    Self::callback_fn_type(i)
                } else {
                    format!("std::shared_ptr<{}>", cpp_qualified(&i.wrap))
                }
            }
            Ty::Enum(id) => self.cpp_enum(*id)?,
            Ty::List(inner) => format!("std::vector<{}>", self.cpp_ty(inner)?),
            Ty::Struct(id)
                if self.strct(*id)?.generic.is_some() && self.strct(*id)?.wrap.is_some() =>
            {
                // A generated template, bound.
                let s = self.strct(*id)?;
                let g = s.generic.as_ref().expect("checked");
                let args = g
                    .args
                    .iter()
                    .map(|a| self.cpp_ty(a))
                    .collect::<Result<Vec<_>, _>>()?;
                format!(
                    "{}<{}>",
                    cpp_qualified(s.wrap.as_deref().unwrap_or_default()),
                    args.join(", ")
                )
            }
            Ty::Struct(id) => {
                let s = self.strct(*id)?;
                match &s.wrap {
                    Some(w) => cpp_qualified(w),
                    None => {
                        let fs = Self::struct_fields(s);
                        if fs.len() != 2 || fs.iter().any(|f| f.has_flag.is_some()) {
                            return Err(BuildError::Unsupported(format!(
                                "C++ bridge: struct {} has no $Proxy.wrap and is not a pair of two fields",
                                s.name
                            )));
                        }
                        format!(
                            "std::pair<{}, {}>",
                            self.cpp_ty(&fs[0].ty)?,
                            self.cpp_ty(&fs[1].ty)?
                        )
                    }
                }
            }
            other => return Err(BuildError::Unsupported(format!("C++ bridge: {other:?}"))),
        })
    }

    /// Passed by value in C++ signatures.
    fn cpp_is_scalar(ty: &Ty) -> bool {
        matches!(ty, Ty::Bool | Ty::Int(_) | Ty::Float(_) | Ty::Enum(_))
    }

    /// Lists whose ffi and C++ element types are the same (copied by the helpers).
    fn cpp_same_elements(inner: &Ty) -> bool {
        matches!(inner, Ty::Bool | Ty::Int(_) | Ty::Float(_))
    }

    /// C++ spelling of the ffi type of an owned value.
    fn cpp_ffi_ty(&self, ty: &Ty) -> Result<String, BuildError> {
        Ok(match ty {
            Ty::Bool | Ty::Int(_) | Ty::Float(_) => self.cpp_ty(ty)?,
            Ty::Enum(_) => "std::uint16_t".into(),
            Ty::Text | Ty::Data | Ty::AnyPointer => "::rust::Vec<std::uint8_t>".into(),
            Ty::Interface(id) => {
                format!("::rust::Vec<{}::FfiCap{}>", self.f, self.iface(*id)?.name)
            }
            Ty::List(inner) => match &**inner {
                Ty::Void => "std::uint64_t".into(),
                Ty::Text | Ty::Data | Ty::AnyPointer => {
                    format!("::rust::Vec<{}::FfiBytes>", self.f)
                }
                Ty::Interface(id) => {
                    format!("::rust::Vec<{}::FfiCap{}>", self.f, self.iface(*id)?.name)
                }
                Ty::List(element) => {
                    format!(
                        "::rust::Vec<{}::FfiList{}>",
                        self.f,
                        self.list_tag(element)?
                    )
                }
                _ => format!("::rust::Vec<{}>", self.cpp_ffi_ty(inner)?),
            },
            Ty::Struct(id) => format!("{}::Ffi{}", self.f, self.strct(*id)?.name),
            other => return Err(BuildError::Unsupported(format!("C++ bridge: {other:?}"))),
        })
    }

    fn cpp_ffi_arg_ty(&self, ty: &Ty) -> Result<String, BuildError> {
        Ok(match ty {
            Ty::Text | Ty::Data => "::rust::Slice<const std::uint8_t>".into(),
            _ => self.cpp_ffi_ty(ty)?,
        })
    }

    /// C++ expression: API value → owned ffi value.
    fn cpp_to_ffi(&self, ty: &Ty, e: &str) -> Result<String, BuildError> {
        Ok(match ty {
            Ty::Bool | Ty::Int(_) | Ty::Float(_) => e.to_string(),
            Ty::Enum(_) => format!("static_cast<std::uint16_t>({e})"),
            Ty::Text | Ty::Data => format!("::mphub::cxx::detail::to_rust_bytes({e})"),
            Ty::AnyPointer => format!("::mphub::cxx::detail::to_rust_bytes(({e}).message)"),
            // A single capability is a list of one.
            Ty::Interface(_) => format!(
                "[&] {{ {} cap; cap.push_back({}); return cap; }}()",
                self.cpp_ffi_ty(ty)?,
                self.cpp_cap_to_ffi(ty, e)?
            ),
            Ty::List(inner) if Self::cpp_same_elements(inner) => {
                format!("::mphub::cxx::detail::to_rust_vec({e})")
            }
            Ty::List(inner) if **inner == Ty::Void => {
                format!("static_cast<std::uint64_t>(({e}).size())")
            }
            Ty::List(inner) => {
                let d = Self::depth(ty);
                format!(
                    "[&] {{ {} list{d}; list{d}.reserve({e}.size()); for (const auto& x{d} : {e}) list{d}.push_back({}); return list{d}; }}()",
                    self.cpp_ffi_ty(ty)?,
                    match &**inner {
                        Ty::Text | Ty::Data | Ty::AnyPointer => format!(
                            "{}::FfiBytes{{{}}}",
                            self.f,
                            self.cpp_to_ffi(inner, &format!("x{d}"))?
                        ),
                        Ty::Interface(_) => self.cpp_cap_to_ffi(inner, &format!("x{d}"))?,
                        Ty::List(element) => format!(
                            "{}::FfiList{}{{{}}}",
                            self.f,
                            self.list_tag(element)?,
                            self.cpp_to_ffi(inner, &format!("x{d}"))?
                        ),
                        _ => self.cpp_to_ffi(inner, &format!("x{d}"))?,
                    }
                )
            }
            Ty::Struct(_) => format!("{}::to_ffi({e})", self.f),
            other => return Err(BuildError::Unsupported(format!("C++ bridge: {other:?}"))),
        })
    }

    fn cpp_to_ffi_arg(&self, ty: &Ty, e: &str) -> Result<String, BuildError> {
        Ok(match ty {
            Ty::Text | Ty::Data => format!("::mphub::cxx::detail::to_rust_slice({e})"),
            _ => self.cpp_to_ffi(ty, e)?,
        })
    }

    /// C++ expression: a `std::shared_ptr<X>` (a callback's `std::function`) of interface
    /// `ty` → the `FfiCapX` carrying it.
    fn cpp_cap_to_ffi(&self, ty: &Ty, e: &str) -> Result<String, BuildError> {
        let Ty::Interface(id) = ty else {
            return Err(BuildError::Unsupported(format!(
                "C++ bridge: {ty:?} is no capability"
            )));
        };
        let i = self.iface(*id)?;
        let from = if Self::is_callback(i) {
            "function"
        } else {
            "shared"
        };
        Ok(format!(
            "{f}::FfiCap{n}{{{f}::{pre}_cap_from_{from}({e})}}",
            n = i.name,
            pre = snake(&i.name),
            f = self.f
        ))
    }

    /// C++ expression: an `FfiCapX` (interface `ty`) → `std::shared_ptr<X>`, or a
    /// callback's `std::function` (null or empty for a null capability).
    fn cpp_cap_from_ffi(&self, ty: &Ty, e: &str) -> Result<String, BuildError> {
        let Ty::Interface(id) = ty else {
            return Err(BuildError::Unsupported(format!(
                "C++ bridge: {ty:?} is no capability"
            )));
        };
        let i = self.iface(*id)?;
        let to = if Self::is_callback(i) {
            "function"
        } else {
            "shared"
        };
        Ok(format!(
            "{}::{}_{to}_from_cap(*({e}).cap)",
            self.f,
            snake(&i.name)
        ))
    }

    /// C++ expression: ffi value (owned or slice) → API value.
    fn cpp_from_ffi(&self, ty: &Ty, e: &str) -> Result<String, BuildError> {
        Ok(match ty {
            Ty::Bool | Ty::Int(_) | Ty::Float(_) => e.to_string(),
            Ty::Enum(_) => format!("static_cast<{}>({e})", self.cpp_ty(ty)?),
            Ty::Text => format!("::mphub::cxx::detail::to_std_string({e})"),
            Ty::Data => format!("::mphub::cxx::detail::to_std_bytes({e})"),
            Ty::AnyPointer => {
                format!("::mphub::cxx::AnyValue{{::mphub::cxx::detail::to_std_bytes({e})}}")
            }
            Ty::Interface(_) => format!(
                "(({e}).empty() ? {}() : {})",
                self.cpp_ty(ty)?,
                self.cpp_cap_from_ffi(ty, &format!("({e})[0]"))?
            ),
            Ty::List(inner) if Self::cpp_same_elements(inner) => {
                format!("::mphub::cxx::detail::to_std_vector({e})")
            }
            Ty::List(inner) if **inner == Ty::Void => {
                // At most the traversal limit's worth (Cap'n Proto charges void elements).
                format!("std::vector<std::monostate>(static_cast<std::size_t>({e}))")
            }
            Ty::List(inner) => {
                let d = Self::depth(ty);
                format!(
                    "[&] {{ {} list{d}; list{d}.reserve({e}.size()); for (const auto& x{d} : {e}) list{d}.push_back({}); return list{d}; }}()",
                    self.cpp_ty(ty)?,
                    match &**inner {
                        Ty::Text | Ty::Data | Ty::AnyPointer => {
                            self.cpp_from_ffi(inner, &format!("x{d}.data"))?
                        }
                        Ty::Interface(_) => self.cpp_cap_from_ffi(inner, &format!("x{d}"))?,
                        Ty::List(_) => self.cpp_from_ffi(inner, &format!("x{d}.items"))?,
                        _ => self.cpp_from_ffi(inner, &format!("x{d}"))?,
                    }
                )
            }
            Ty::Struct(_) => format!("{}::from_ffi({e})", self.f),
            other => return Err(BuildError::Unsupported(format!("C++ bridge: {other:?}"))),
        })
    }

    /// `r.<field> = <C++ member of v>;` for each (member, field), honouring `hasX` flags.
    fn fields_to_ffi(
        &self,
        o: &mut String,
        members: &[(String, &Field)],
    ) -> Result<(), BuildError> {
        for (mem, fl) in members {
            if Self::nullable(fl) {
                let generated = self.o.generated_types.is_some();
                let val = if generated {
                    self.cpp_to_ffi(&fl.ty, &format!("(*v.{mem})"))?
                } else {
                    self.cpp_to_ffi(&fl.ty, &format!("v.{mem}"))?
                };
                let guard = if generated {
                    format!("if (v.{mem}) ")
                } else {
                    String::new()
                };
                writeln!(o, "    {guard}r.{}.push_back({val});", fl.snake).ok();
            } else if fl.has_flag.is_some() {
                let val = self.cpp_to_ffi(&fl.ty, &format!("(*v.{mem})"))?;
                writeln!(
                    o,
                    "    if (v.{mem}) {{ r.{0} = {val}; r.has_{0} = true; }}",
                    fl.snake
                )
                .ok();
            } else {
                let val = self.cpp_to_ffi(&fl.ty, &format!("v.{mem}"))?;
                writeln!(o, "    r.{} = {val};", fl.snake).ok();
            }
        }
        Ok(())
    }

    /// `r.<C++ member> = <field of v>;` for each (member, field), honouring `hasX` flags.
    fn fields_from_ffi(
        &self,
        o: &mut String,
        members: &[(String, &Field)],
    ) -> Result<(), BuildError> {
        for (mem, fl) in members {
            if Self::nullable(fl) {
                let val = self.cpp_from_ffi(&fl.ty, &format!("v.{}[0]", fl.snake))?;
                writeln!(o, "    if (!v.{}.empty()) r.{mem} = {val};", fl.snake).ok();
                continue;
            }
            let val = self.cpp_from_ffi(&fl.ty, &format!("v.{}", fl.snake))?;
            if fl.has_flag.is_some() {
                writeln!(o, "    if (v.has_{}) r.{mem} = {val};", fl.snake).ok();
            } else {
                writeln!(o, "    r.{mem} = {val};").ok();
            }
        }
        Ok(())
    }

    /// (expression matched in `to_ffi`, Rust path of the variants) of a struct's union:
    /// the struct itself for a pure union (a Rust enum), else its `which` field.
    fn union_rust_paths(
        &self,
        st: &StructModel,
        u: &crate::model::UnionModel,
    ) -> Result<(&'static str, String), BuildError> {
        let p = &self.p;
        let name = st.generic.as_ref().map_or(&st.name, |g| &g.base_name);
        Ok(if u.pure {
            ("v", format!("{p}::{name}"))
        } else {
            ("v.which", format!("{p}::{name}Which"))
        })
    }

    /// Nothing of the struct crosses (an empty struct, or only skipped fields).
    fn ffi_is_empty(st: &StructModel) -> bool {
        st.union.is_none() && Self::struct_fields(st).is_empty()
    }

    /// The values of a struct's union members (`Void` members have none).
    fn union_fields(s: &StructModel) -> Vec<&Field> {
        s.union
            .iter()
            .flat_map(|u| u.members.iter().filter_map(|m| m.field.as_ref()))
            .collect()
    }

    /// The C++ member holding a struct's union discriminant: `which`, or `which_` when
    /// a plain field already has that name.
    fn cpp_which(s: &StructModel) -> &'static str {
        Self::which_member(&s.fields)
    }

    /// `which`, or `which_` when one of `fields` already has that name.
    fn which_member(fields: &[Field]) -> &'static str {
        if fields.iter().any(|f| f.cpp_member == "which") {
            "which_"
        } else {
            "which"
        }
    }

    fn struct_fields(s: &StructModel) -> Vec<&Field> {
        s.fields.iter().filter(|f| !f.skip && !f.is_flag).collect()
    }

    // ---------------------------------------------------------------- signatures

    /// Names of params that are `wantX` flags of an output (hidden in C++).
    fn want_params(m: &Method) -> HashMap<String, String> {
        let mut out = HashMap::new();
        for r in outputs(m).into_iter().filter(|r| r.wanted) {
            out.insert(format!("want{}", camel(&r.name)), r.name.clone());
        }
        out
    }

    /// A param and a result of one name and type: one `T&` in C++. (Same name, other
    /// types, as `FindParam`/`FindResult`: a `const` param and an out-param `nameOut`.)
    fn in_out(m: &Method, name: &str) -> bool {
        let param = visible_params(m).into_iter().find(|p| p.name == name);
        let result = outputs(m).into_iter().find(|r| r.name == name);
        matches!((param, result), (Some(p), Some(r)) if p.ty == r.ty)
    }

    /// The C++ out-parameter of result `r`.
    fn cpp_out_name(m: &Method, r: &Field) -> String {
        if !Self::in_out(m, &r.name) && visible_params(m).iter().any(|p| p.name == r.name) {
            cpp_ident(&format!("{}Out", r.name))
        } else {
            cpp_ident(&r.name)
        }
    }

    /// The C++ signature of a method: (return type, [(param type, param name)]).
    fn cpp_sig(&self, m: &Method) -> Result<(String, Vec<(String, String)>), BuildError> {
        let wants = Self::want_params(m);
        let mut args = Vec::new();
        for p in visible_params(m) {
            if wants.contains_key(&p.name) {
                continue;
            }
            let name = cpp_ident(&p.name);
            let t = match &p.ty {
                Ty::Interface(id) => {
                    let i = self.iface(*id)?;
                    if Self::is_callback(i) {
                        Self::callback_fn_type(i)
                    } else {
                        format!("{}&", cpp_qualified(&i.wrap))
                    }
                }
                ty if Self::in_out(m, &p.name) => {
                    if p.has_flag.is_some() {
                        format!("std::optional<{}>&", self.cpp_ty(ty)?)
                    } else {
                        format!("{}&", self.cpp_ty(ty)?)
                    }
                }
                ty if p.has_flag.is_some() => format!("const std::optional<{}>&", self.cpp_ty(ty)?),
                ty if Self::cpp_is_scalar(ty) => self.cpp_ty(ty)?,
                ty => format!("const {}&", self.cpp_ty(ty)?),
            };
            args.push((t, name));
        }
        let mut ret = "void".to_string();
        for r in outputs(m) {
            if Self::in_out(m, &r.name) {
                continue; // in/out: already a reference param
            }
            if r.name == "result" {
                ret = match &r.ty {
                    Ty::Interface(id) => {
                        let i = self.iface(*id)?;
                        if Self::is_callback(i) {
                            return Err(BuildError::Unsupported(format!(
                                "C++ bridge: {} returns a callback",
                                m.name
                            )));
                        }
                        format!("std::unique_ptr<{}>", cpp_qualified(&i.wrap))
                    }
                    ty if r.has_flag.is_some() => format!("std::optional<{}>", self.cpp_ty(ty)?),
                    ty => self.cpp_ty(ty)?,
                };
                continue;
            }
            if matches!(r.ty, Ty::Interface(_)) {
                return Err(BuildError::Unsupported(format!(
                    "C++ bridge: {}: interface out-parameter",
                    m.name
                )));
            }
            let t = if r.wanted {
                format!("{}*", self.cpp_ty(&r.ty)?)
            } else if r.has_flag.is_some() {
                format!("std::optional<{}>&", self.cpp_ty(&r.ty)?)
            } else {
                format!("{}&", self.cpp_ty(&r.ty)?)
            };
            args.push((t, Self::cpp_out_name(m, r)));
        }
        Ok((ret, args))
    }

    fn join_args(args: &[(String, String)]) -> String {
        args.iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Generates the bridge for `model`.
pub fn emit(model: &Model, o: &CxxOptions) -> Result<CxxCode, BuildError> {
    let ns = o.cpp_namespace.trim_start_matches("::").to_string();
    let mut g = Gen {
        model,
        o,
        structs: model.structs.iter().map(|s| (s.id, s)).collect(),
        enums: model.enums.iter().map(|e| (e.id, e)).collect(),
        used_enums: BTreeSet::new(),
        nested_lists: BTreeMap::new(),
        ifaces: model.interfaces.iter().map(|i| (i.id, i)).collect(),
        used_structs: BTreeSet::new(),
        declared: Vec::new(),
        declared_text: Vec::new(),
        f: format!("::{ns}::ffi::{}", o.stem),
        p: o.proxies.clone(),
        s: o.support.clone(),
    };
    for (name, _) in &o.rust_impls {
        if !model.interfaces.iter().any(|i| &i.name == name) {
            return Err(BuildError::Unsupported(format!(
                "rust_impl names interface {name}, which is not a wrapped interface of this schema"
            )));
        }
    }
    for i in &model.interfaces {
        for m in Gen::methods(i) {
            for f in m.params.iter().chain(m.results.iter()) {
                g.collect_struct(&f.ty)?;
            }
            for e in exceptions(m) {
                let t = e.exception.clone().unwrap_or_default();
                match e.ty {
                    Ty::Struct(id) => {
                        if !g.declared.iter().any(|(d, _)| *d == id) {
                            g.declared.push((id, t));
                        }
                    }
                    Ty::Text => {
                        if !g.declared_text.iter().any(|(d, _)| *d == t) {
                            let cpp = text_exception_type(&t, o);
                            g.declared_text.push((t, cpp));
                        }
                    }
                    _ => {
                        return Err(BuildError::Unsupported(format!(
                            "C++ bridge: {}.{}, field {}: $Proxy.exception on a field that is \
                             neither a struct nor Text",
                            i.name, m.name, e.name
                        )))
                    }
                }
            }
        }
    }
    let rust = g.rust()?;
    let glue_header = g.glue_header()?;
    let header = g.header()?;
    let source = g.source()?;
    let types_header = match o.generated_types {
        Some(_) => Some(g.types_header()?),
        None => None,
    };
    Ok(CxxCode {
        rust,
        header,
        glue_header,
        source,
        types_header,
    })
}

/// Splits `a::b::C` into (`a::b`, `C`).
/// The C++ type a Text `$Proxy.exception("T")` is thrown as: `std::runtime_error` for
/// `std::exception` (what libmultiprocess's client throws), other `std::` types as
/// named, and with generated types a generated `std::runtime_error` subclass (moved to
/// the types namespace when one is configured).
fn text_exception_type(annotation: &str, o: &CxxOptions) -> String {
    let name = annotation.trim_start_matches("::");
    if name == "std::exception" {
        return "std::runtime_error".into();
    }
    if name.starts_with("std::") {
        return name.into();
    }
    match o
        .generated_types
        .as_ref()
        .and_then(|g| g.namespace.as_ref())
    {
        Some(ns) => format!("{}::{}", ns, split_qualified(name).1),
        None => name.into(),
    }
}

fn split_qualified(name: &str) -> (&str, &str) {
    let name = name.trim_start_matches("::");
    match name.rsplit_once("::") {
        Some((ns, last)) => (ns, last),
        None => ("", name),
    }
}

/// Opens `ns` (C++17 nested form) or nothing for the global namespace.
fn open_ns(o: &mut String, ns: &str) {
    if !ns.is_empty() {
        writeln!(o, "namespace {ns} {{").ok();
    }
}

fn close_ns(o: &mut String, ns: &str) {
    if !ns.is_empty() {
        writeln!(o, "}} // namespace {ns}").ok();
    }
}

impl Gen<'_> {
    /// The generated `<stem>-types.h`: a struct per struct that crosses the bridge
    /// (members named and typed as the conversions expect; declared exceptions derive
    /// from `std::exception`) and an abstract class per interface, with the signatures
    /// libmultiprocess's rules give (the same ones `RemoteX` overrides).
    fn types_header(&self) -> Result<String, BuildError> {
        let mut o = String::new();
        writeln!(o, "// @generated by mphub-build (C++ bridge emitter). Do not edit.\n//\n// C++ types of schema `{}`: the interfaces and structs its `$Proxy.wrap` names\n// (or capnp names) stand for, generated because no C++ header declares them.\n#pragma once\n\n#include <cstdint>\n#include <exception>\n#include <functional>\n#include <memory>\n#include <optional>\n#include <stdexcept>\n#include <string>\n#include <utility>\n#include <variant>\n#include <vector>\n\n#include <mphub/cxx/common.h>\n", self.o.stem).ok();
        // Forward declarations, so classes and structs can name each other; one block
        // per namespace.
        let mut forward: Vec<(String, Vec<String>)> = Vec::new();
        let mut declare = |ns: &str, decl: String| match forward.iter_mut().find(|(n, _)| n == ns) {
            Some((_, decls)) => decls.push(decl),
            None => forward.push((ns.to_string(), vec![decl])),
        };
        for id in &self.used_enums {
            let e = self.enm(*id)?;
            let cpp = self.cpp_enum(*id)?;
            let (ns, name) = split_qualified(&cpp);
            let enumerants: Vec<String> = e
                .enumerants
                .iter()
                .enumerate()
                .map(|(i, n)| format!("{} = {i}", cpp_ident(n)))
                .collect();
            declare(
                ns,
                format!(
                    "//! capnp enum `{}`.\nenum class {name} : std::uint16_t {{ {} }};",
                    e.name,
                    enumerants.join(", ")
                ),
            );
        }
        let mut templates = BTreeSet::new();
        for id in &self.used_structs {
            let st = self.strct(*id)?;
            let (ns, name) = split_qualified(self.strct_wrap(*id)?);
            match &st.generic {
                Some(g) => {
                    if templates.insert(g.base) {
                        declare(
                            ns,
                            format!("{}\nstruct {name};", self.template_head(g.base)?),
                        );
                    }
                }
                None => declare(ns, format!("struct {name};")),
            }
        }
        for i in self
            .model
            .interfaces
            .iter()
            .filter(|i| !Self::is_callback(i))
        {
            let (ns, name) = split_qualified(&i.wrap);
            declare(ns, format!("class {name};"));
        }
        for (ns, decls) in &forward {
            open_ns(&mut o, ns);
            for d in decls {
                writeln!(o, "{d}").ok();
            }
            close_ns(&mut o, ns);
        }
        // A callback named by the user's header in libmultiprocess schemas (Core's
        // `CRPCCommand::Actor`): an alias of the std::function its method gives.
        let mut aliases: BTreeMap<String, (&str, String)> = BTreeMap::new();
        for i in self
            .model
            .interfaces
            .iter()
            .filter(|i| Self::is_callback(i))
        {
            let function = Self::callback_fn_type(i);
            let key = function.trim_start_matches("::").to_string();
            if key.starts_with("std::function<") {
                continue;
            }
            let (ret, args) = self.cpp_sig(Self::callback_method(i)?)?;
            let types: Vec<&str> = args.iter().map(|(t, _)| t.as_str()).collect();
            let target = format!("std::function<{ret}({})>", types.join(", "));
            match aliases.get(&key) {
                Some((_, same)) if *same == target => continue,
                Some((other, _)) => {
                    return Err(BuildError::Unsupported(format!(
                        "C++ bridge: callback interfaces {other} and {} both become the \
                         generated alias {key}, with different signatures",
                        i.name
                    )))
                }
                None => {}
            }
            let taken = self
                .used_structs
                .iter()
                .filter_map(|id| self.strct_wrap(*id).ok())
                .chain(
                    self.model
                        .interfaces
                        .iter()
                        .filter(|x| !Self::is_callback(x))
                        .map(|x| x.wrap.as_str()),
                )
                .any(|w| w.trim_start_matches("::") == key);
            if taken {
                return Err(BuildError::Unsupported(format!(
                    "C++ bridge: callback interface {}'s generated alias {key} is also the \
                     name of a generated struct or class",
                    i.name
                )));
            }
            let (ns, name) = split_qualified(&function);
            open_ns(&mut o, ns);
            writeln!(
                o,
                "//! capnp callback interface `{}`: the function a `ProxyCallback` carries.\nusing {name} = {target};",
                i.name
            )
            .ok();
            close_ns(&mut o, ns);
            aliases.insert(key, (&i.name, target));
        }
        writeln!(o).ok();
        // Text exceptions without a C++ type of their own.
        for (_, cpp) in self
            .declared_text
            .iter()
            .filter(|(_, c)| !c.starts_with("std::"))
        {
            let (ns, name) = split_qualified(cpp);
            open_ns(&mut o, ns);
            writeln!(o, "//! Declared exception (`$Proxy.exception` on a Text field): the text is what().\nstruct {name} : std::runtime_error\n{{\n    using std::runtime_error::runtime_error;\n}};").ok();
            close_ns(&mut o, ns);
        }
        // Structs, each after the structs its members hold by value.
        let mut done = BTreeSet::new();
        for id in &self.used_structs {
            self.emit_struct_type(&mut o, *id, &mut done)?;
        }
        for i in self.interfaces_bases_first() {
            let (ns, name) = split_qualified(&i.wrap);
            let bases: Vec<String> = i
                .supers
                .iter()
                .filter_map(|b| self.ifaces.get(b))
                .map(|b| format!("public {}", cpp_qualified(&b.wrap)))
                .collect();
            let bases = if bases.is_empty() {
                String::new()
            } else {
                format!(" : {}", bases.join(", "))
            };
            open_ns(&mut o, ns);
            writeln!(o, "//! capnp interface `{}`: implement it to serve one, or call a\n//! `Remote{}` that implements it.\nclass {name}{bases}\n{{\npublic:\n    virtual ~{name}() = default;", i.name, i.name).ok();
            for m in Self::methods(i).filter(|m| m.declared_in == i.name) {
                let (ret, args) = self.cpp_sig(m)?;
                writeln!(
                    o,
                    "    //! capnp method `{}`.\n    virtual {ret} {}({}) = 0;",
                    m.name,
                    cpp_ident(&m.cpp_name),
                    Self::join_args(&args)
                )
                .ok();
            }
            writeln!(o, "}};").ok();
            close_ns(&mut o, ns);
            writeln!(o).ok();
        }
        Ok(o)
    }

    /// Non-callback interfaces, each after its superclasses (C++ needs a base class
    /// defined before a class derives from it).
    fn interfaces_bases_first(&self) -> Vec<&Interface> {
        let mut out: Vec<&Interface> = Vec::new();
        fn visit<'i>(g: &Gen<'i>, i: &'i Interface, out: &mut Vec<&'i Interface>) {
            if out.iter().any(|x| x.id == i.id) {
                return;
            }
            for b in &i.supers {
                if let Some(base) = g.ifaces.get(b).copied() {
                    visit(g, base, out);
                }
            }
            out.push(i);
        }
        for i in self
            .model
            .interfaces
            .iter()
            .filter(|i| !Self::is_callback(i))
        {
            visit(self, i, &mut out);
        }
        out
    }

    /// `template <class Key, class Value>` of generic struct `base`.
    fn template_head(&self, base: u64) -> Result<String, BuildError> {
        let b = self.model.generic_bases.get(&base).ok_or_else(|| {
            BuildError::Unsupported(format!("C++ bridge: generic struct {base:#x} unknown"))
        })?;
        let params: Vec<String> = b.params.iter().map(|p| format!("class {p}")).collect();
        Ok(format!("template <{}>", params.join(", ")))
    }

    /// The C++ template of generic struct `base` (named `cpp`), once.
    fn emit_template(
        &self,
        o: &mut String,
        base: u64,
        cpp: &str,
        done: &mut BTreeSet<u64>,
    ) -> Result<(), BuildError> {
        if !done.insert(base) {
            return Ok(());
        }
        let b = self.model.generic_bases.get(&base).ok_or_else(|| {
            BuildError::Unsupported(format!("C++ bridge: generic struct {base:#x} unknown"))
        })?;
        let (ns, name) = split_qualified(cpp);
        open_ns(o, ns);
        writeln!(
            o,
            "//! capnp generic struct `{name}`.\n{}\nstruct {name}\n{{",
            self.template_head(base)?
        )
        .ok();
        let mut members = Vec::new();
        for f in b.fields.iter().filter(|f| !f.skip && !f.is_flag) {
            let t = self.cpp_member_ty(f, Some(&b.params))?;
            let init = f.cpp_default.as_deref().unwrap_or("");
            let m = cpp_ident(&f.cpp_member);
            writeln!(o, "    {t} {m}{{{init}}};").ok();
            members.push(m);
        }
        if let Some(u) = &b.union {
            let which = Self::which_member(&b.fields);
            self.cpp_union_members(o, u, which, Some(&b.params))?;
            members.push(which.to_string());
            members.extend(
                u.members
                    .iter()
                    .filter_map(|m| m.field.as_ref())
                    .map(|f| cpp_ident(&f.cpp_member)),
            );
        }
        // A field that is not a type parameter is checked when the template is defined:
        // one holding a callback (std::function has no ==) rules the operator out.
        let fixed_callback = b
            .fields
            .iter()
            .chain(
                b.union
                    .iter()
                    .flat_map(|u| u.members.iter().filter_map(|m| m.field.as_ref())),
            )
            .filter(|f| !f.skip && !f.is_flag && !f.generic_param)
            .any(|f| self.ty_holds_callback(&f.ty, &mut BTreeSet::new()));
        if fixed_callback {
            writeln!(
                o,
                "    // No operator==: a callback member (std::function) cannot be compared."
            )
            .ok();
        } else {
            Self::cpp_equality(o, name, &members);
        }
        writeln!(o, "}};").ok();
        close_ns(o, ns);
        writeln!(o).ok();
        Ok(())
    }

    /// [`Self::cpp_ty`] inside a template: parameters by name, generic uses bound to them.
    fn cpp_template_ty(&self, ty: &Ty, params: &[String]) -> Result<String, BuildError> {
        Ok(match ty {
            Ty::Param(i) => params.get(*i).cloned().unwrap_or_default(),
            Ty::List(inner) => format!("std::vector<{}>", self.cpp_template_ty(inner, params)?),
            Ty::Generic(base, args) => {
                let cpp = self
                    .model
                    .structs
                    .iter()
                    .find(|s| s.generic.as_ref().is_some_and(|g| g.base == *base))
                    .and_then(|s| s.wrap.clone())
                    .ok_or_else(|| {
                        BuildError::Unsupported(format!(
                            "C++ bridge: generic struct {base:#x} used only inside another generic"
                        ))
                    })?;
                let args = args
                    .iter()
                    .map(|a| self.cpp_template_ty(a, params))
                    .collect::<Result<Vec<_>, _>>()?;
                format!("{}<{}>", cpp_qualified(&cpp), args.join(", "))
            }
            other => self.cpp_ty(other)?,
        })
    }

    /// The C++ member type of a generated struct's field (`params`: the template's
    /// parameter names, inside a generic struct): `std::optional` for `hasX` and
    /// nullable struct fields, `mphub::cxx::Boxed` for a struct holding itself.
    fn cpp_member_ty(&self, f: &Field, params: Option<&[String]>) -> Result<String, BuildError> {
        let t = match params {
            Some(params) => self.cpp_template_ty(&f.ty, params)?,
            None => self.cpp_ty(&f.ty)?,
        };
        Ok(if f.boxed && Self::nullable(f) {
            format!("::mphub::cxx::Boxed<{t}>")
        } else if f.has_flag.is_some() || Self::nullable(f) {
            format!("std::optional<{t}>")
        } else {
            t
        })
    }

    /// `friend operator==` and `!=` comparing `members` (C++ member names) of `name`.
    fn cpp_equality(o: &mut String, name: &str, members: &[String]) {
        let eq: Vec<String> = members.iter().map(|m| format!("a.{m} == b.{m}")).collect();
        let (eq, a, b) = if eq.is_empty() {
            ("true".to_string(), "", "")
        } else {
            (eq.join(" && "), " a", " b")
        };
        writeln!(o, "    friend bool operator==(const {name}&{a}, const {name}&{b}) {{ return {eq}; }}\n    friend bool operator!=(const {name}& a, const {name}& b) {{ return !(a == b); }}").ok();
    }

    /// A union's C++ members: `enum class Which`, the discriminant member `which`, one
    /// member per non-`Void` variant.
    fn cpp_union_members(
        &self,
        o: &mut String,
        u: &crate::model::UnionModel,
        which: &str,
        params: Option<&[String]>,
    ) -> Result<(), BuildError> {
        let variants: Vec<String> = u
            .members
            .iter()
            .map(|m| format!("{} = {}", cpp_ident(&m.name), m.discriminant))
            .collect();
        writeln!(
            o,
            "    //! Which union member is set (the others keep their defaults).\n    enum class Which : std::uint16_t {{ {} }};\n    Which {which}{{}};",
            variants.join(", ")
        )
        .ok();
        for m in &u.members {
            if let Some(f) = &m.field {
                let t = self.cpp_member_ty(f, params)?;
                writeln!(o, "    {t} {}{{}};", cpp_ident(&f.cpp_member)).ok();
            }
        }
        Ok(())
    }

    /// Whether struct `id` holds a callback interface (a `std::function`), in a field, a
    /// list or a struct it holds.
    fn holds_callback(&self, id: u64, seen: &mut BTreeSet<u64>) -> bool {
        if !seen.insert(id) {
            return false;
        }
        let Ok(st) = self.strct(id) else {
            return false;
        };
        let fields: Vec<&Field> = Self::struct_fields(st)
            .into_iter()
            .chain(Self::union_fields(st))
            .collect();
        fields
            .into_iter()
            .any(|f| self.ty_holds_callback(&f.ty, seen))
    }

    /// Whether a value of `ty` holds a callback interface (see [`Self::holds_callback`]).
    fn ty_holds_callback(&self, ty: &Ty, seen: &mut BTreeSet<u64>) -> bool {
        match ty {
            Ty::List(inner) => self.ty_holds_callback(inner, seen),
            Ty::Interface(i) => self.iface(*i).is_ok_and(Self::is_callback),
            Ty::Struct(inner) => self.holds_callback(*inner, seen),
            _ => false,
        }
    }

    fn strct_wrap(&self, id: u64) -> Result<&str, BuildError> {
        let s = self.strct(id)?;
        s.wrap.as_deref().ok_or_else(|| {
            BuildError::Unsupported(format!("C++ bridge: struct {} has no C++ name", s.name))
        })
    }

    fn emit_struct_type(
        &self,
        o: &mut String,
        id: u64,
        done: &mut BTreeSet<u64>,
    ) -> Result<(), BuildError> {
        if !done.insert(id) {
            return Ok(());
        }
        let st = self.strct(id)?;
        let fields = Self::struct_fields(st);
        for f in fields.iter().chain(Self::union_fields(st).iter()) {
            let mut ty = &f.ty;
            while let Ty::List(inner) = ty {
                ty = inner;
            }
            if let Ty::Struct(dep) = ty {
                self.emit_struct_type(o, *dep, done)?;
            }
        }
        if let Some(g) = &st.generic {
            return self.emit_template(o, g.base, self.strct_wrap(id)?, done);
        }
        let (ns, name) = split_qualified(self.strct_wrap(id)?);
        let exception = self.declared.iter().any(|(d, _)| *d == id);
        open_ns(o, ns);
        let base = if exception { " : std::exception" } else { "" };
        writeln!(
            o,
            "//! capnp struct `{}`.\nstruct {name}{base}\n{{",
            st.name
        )
        .ok();
        if exception && !fields.is_empty() {
            // A base class rules out aggregate initialisation: give `T{a, b}` back.
            let mut params = Vec::new();
            let mut inits = Vec::new();
            for f in &fields {
                let t = self.cpp_member_ty(f, None)?;
                let m = cpp_ident(&f.cpp_member);
                params.push(format!("{t} {m}_"));
                inits.push(format!("{m}(std::move({m}_))"));
            }
            writeln!(
                o,
                "    {name}() = default;\n    {name}({}) : {} {{}}",
                params.join(", "),
                inits.join(", ")
            )
            .ok();
        }
        let mut members = Vec::new();
        for f in &fields {
            let t = self.cpp_member_ty(f, None)?;
            let init = f.cpp_default.as_deref().unwrap_or("");
            let m = cpp_ident(&f.cpp_member);
            writeln!(o, "    {t} {m}{{{init}}};").ok();
            members.push(m);
        }
        if let Some(u) = &st.union {
            self.cpp_union_members(o, u, Self::cpp_which(st), None)?;
            members.push(Self::cpp_which(st).to_string());
            members.extend(
                Self::union_fields(st)
                    .iter()
                    .map(|f| cpp_ident(&f.cpp_member)),
            );
        }
        if self.holds_callback(id, &mut BTreeSet::new()) {
            // std::function has no operator==, so neither has a struct holding one.
            writeln!(
                o,
                "    // No operator==: a callback member (std::function) cannot be compared."
            )
            .ok();
        } else {
            Self::cpp_equality(o, name, &members);
        }
        if exception {
            let message = fields
                .iter()
                .find(|f| f.name == "message" && f.ty == Ty::Text);
            let what = match message {
                Some(_) => "message.c_str()".to_string(),
                None => format!("\"{}\"", st.name),
            };
            writeln!(
                o,
                "    const char* what() const noexcept override {{ return {what}; }}"
            )
            .ok();
        }
        writeln!(o, "}};").ok();
        close_ns(o, ns);
        writeln!(o).ok();
        Ok(())
    }

    fn ns_open(&self) -> String {
        self.o
            .cpp_namespace
            .trim_start_matches("::")
            .split("::")
            .map(|p| format!("namespace {p} {{"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn ns_close(&self) -> String {
        self.o
            .cpp_namespace
            .trim_start_matches("::")
            .split("::")
            .map(|_| "}")
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn ffi_ns_open(&self) -> String {
        format!(
            "{} namespace ffi {{ namespace {} {{",
            self.ns_open(),
            self.o.stem
        )
    }

    fn ffi_ns_close(&self) -> String {
        format!("}} }} {}", self.ns_close())
    }

    fn header_path(&self, suffix: &str) -> String {
        format!("{}/{}{}", self.o.header_dir, self.o.stem, suffix)
    }

    // ================================================================ Rust

    fn rust(&self) -> Result<String, BuildError> {
        let (p, s) = (&self.p, &self.s);
        let mut bridge = String::new();
        let mut glue = String::new();
        let mut rust_fns = String::new();
        let mut cpp_fns = String::new();

        // shared structs
        writeln!(bridge, "    /// Bytes of a Text or Data list element.\n    #[derive(Default)]\n    struct FfiBytes {{\n        data: Vec<u8>,\n    }}").ok();
        for (tag, element) in &self.nested_lists {
            writeln!(
                bridge,
                "    /// One inner list of a list of lists.\n    struct FfiList{tag} {{\n        items: {},\n    }}",
                self.ffi_ty(&Ty::List(Box::new(element.clone())), "")?
            )
            .ok();
        }
        for id in &self.used_structs {
            let st = self.strct(*id)?;
            writeln!(
                bridge,
                "    /// Struct `{}` at the boundary.\n    #[derive(Default)]\n    struct Ffi{} {{",
                st.name, st.name
            )
            .ok();
            if st.union.is_some() {
                writeln!(bridge, "        union_which: u16,").ok();
            }
            for f in Self::union_fields(st) {
                writeln!(
                    bridge,
                    "        {}: {},",
                    f.snake,
                    self.ffi_field_ty(f, "")?
                )
                .ok();
            }
            for f in Self::struct_fields(st) {
                writeln!(
                    bridge,
                    "        {}: {},",
                    f.snake,
                    self.ffi_field_ty(f, "")?
                )
                .ok();
                if f.has_flag.is_some() {
                    writeln!(bridge, "        has_{}: bool,", f.snake).ok();
                }
            }
            if Self::ffi_is_empty(st) {
                writeln!(
                    bridge,
                    "        /// cxx has no empty shared structs.\n        empty_: u8,"
                )
                .ok();
            }
            writeln!(bridge, "    }}").ok();
            // conversions
            let fields = Self::struct_fields(st);
            writeln!(
                glue,
                "#[allow(dead_code)]\nfn {}_to_ffi(v: {}) -> ffi::Ffi{} {{",
                snake(&st.name),
                self.api_ty(&Ty::Struct(*id))?,
                st.name
            )
            .ok();
            for f in &fields {
                if f.has_flag.is_some() {
                    writeln!(glue, "    let ({0}, has_{0}) = match v.{2} {{ Some(x) => ({1}, true), None => (::std::default::Default::default(), false) }};", f.snake, self.rs_to_ffi(&f.ty, "x")?, f.rust).ok();
                } else {
                    let conv = self.field_to_ffi(f, &format!("v.{}", f.rust))?;
                    writeln!(glue, "    let {} = {conv};", f.snake).ok();
                }
            }
            let union_rest = if st.union.is_some() {
                "..::std::default::Default::default() "
            } else {
                ""
            };
            let binding = if st.union.is_some() {
                "let mut r = "
            } else {
                ""
            };
            write!(glue, "    {binding}ffi::Ffi{} {{ ", st.name).ok();
            if Self::ffi_is_empty(st) {
                write!(glue, "empty_: 0, ").ok();
            }
            for f in &fields {
                write!(glue, "{}, ", f.snake).ok();
                if f.has_flag.is_some() {
                    write!(glue, "has_{}, ", f.snake).ok();
                }
            }
            if let Some(u) = &st.union {
                writeln!(glue, "{union_rest}}};").ok();
                let (scrutinee, path) = self.union_rust_paths(st, u)?;
                writeln!(glue, "    match {scrutinee} {{").ok();
                for m in &u.members {
                    match &m.field {
                        None => writeln!(
                            glue,
                            "        {path}::{} => r.union_which = {},",
                            m.variant, m.discriminant
                        ),
                        Some(f) => {
                            let conv = self.field_to_ffi(f, "x")?;
                            writeln!(
                                glue,
                                "        {path}::{}(x) => {{ r.union_which = {}; r.{} = {conv}; }}",
                                m.variant, m.discriminant, f.snake
                            )
                        }
                    }
                    .ok();
                }
                writeln!(glue, "    }}\n    r\n}}\n").ok();
            } else {
                writeln!(glue, "}}\n}}\n").ok();
            }
            writeln!(
                glue,
                "#[allow(dead_code)]\nfn {}_from_ffi(v: ffi::Ffi{}) -> {} {{",
                snake(&st.name),
                st.name,
                self.api_ty(&Ty::Struct(*id))?
            )
            .ok();
            let ctor = st.generic.as_ref().map_or(&st.name, |g| &g.base_name);
            let union_match = match &st.union {
                Some(u) => {
                    let (_, path) = self.union_rust_paths(st, u)?;
                    let mut arms = String::new();
                    for m in &u.members {
                        match &m.field {
                            None => write!(arms, "{} => {path}::{}, ", m.discriminant, m.variant),
                            Some(f) => {
                                let conv = self.field_from_ffi(f, &format!("v.{}", f.snake))?;
                                write!(
                                    arms,
                                    "{} => {path}::{}({conv}), ",
                                    m.discriminant, m.variant
                                )
                            }
                        }
                        .ok();
                    }
                    Some(format!(
                        "match v.union_which {{ {arms}_ => ::std::default::Default::default() }}"
                    ))
                }
                None => None,
            };
            if let (Some(u), Some(m)) = (&st.union, &union_match) {
                if u.pure {
                    writeln!(glue, "    {m}\n}}\n").ok();
                    continue;
                }
            }
            write!(glue, "    {p}::{ctor} {{ ").ok();
            if let Some(m) = &union_match {
                write!(glue, "which: {m}, ").ok();
            }
            for f in &fields {
                let conv = self.field_from_ffi(f, &format!("v.{}", f.snake))?;
                if f.has_flag.is_some() {
                    write!(
                        glue,
                        "{}: if v.has_{} {{ Some({conv}) }} else {{ None }}, ",
                        f.rust, f.snake
                    )
                    .ok();
                } else {
                    write!(glue, "{}: {conv}, ", f.rust).ok();
                }
            }
            if st.fields.iter().any(|f| f.skip) {
                // `$Proxy.skip`/`count(0)` fields do not cross: they read as empty.
                write!(glue, "..::std::default::Default::default() ").ok();
            }
            writeln!(glue, "}}\n}}\n").ok();
        }

        // server handle
        writeln!(bridge, "    extern \"Rust\" {{\n        type ServerBox;\n        fn server_stop(server: &mut ServerBox);\n        fn server_wait(server: &ServerBox, timeout_ms: i64) -> bool;\n        fn server_path(server: &ServerBox) -> String;\n    }}").ok();
        writeln!(glue, "/// A running server (socket listener or one connection) for C++.\npub struct ServerBox({s}::ServerHandle);\n").ok();
        writeln!(glue, "fn server_stop(server: &mut ServerBox) {{ server.0.stop(); }}\nfn server_wait(server: &ServerBox, timeout_ms: i64) -> bool {{ server.0.wait(timeout_ms) }}\nfn server_path(server: &ServerBox) -> String {{ server.0.path() }}\n").ok();

        // declared exceptions
        for (id, ty) in &self.declared {
            let st = self.strct(*id)?;
            let sn = snake(&st.name);
            writeln!(
                rust_fns,
                "        fn take_declared_{sn}() -> Ffi{};",
                st.name
            )
            .ok();
            writeln!(
                cpp_fns,
                "        fn take_cpp_declared_{sn}() -> Ffi{};",
                st.name
            )
            .ok();
            writeln!(glue, "thread_local! {{\n    static DECLARED_{}: ::std::cell::RefCell<Option<{p}::{}>> = const {{ ::std::cell::RefCell::new(None) }};\n}}\n", sn.to_uppercase(), st.name).ok();
            writeln!(glue, "fn take_declared_{sn}() -> ffi::Ffi{} {{\n    DECLARED_{}.with(|d| d.borrow_mut().take()).map({sn}_to_ffi).unwrap_or_default()\n}}\n", st.name, sn.to_uppercase()).ok();
            let _ = ty;
        }
        if !self.declared_text.is_empty() {
            writeln!(rust_fns, "        fn take_declared_text() -> Vec<u8>;").ok();
            writeln!(cpp_fns, "        fn take_cpp_declared_text() -> Vec<u8>;").ok();
            writeln!(glue, "thread_local! {{\n    static DECLARED_TEXT: ::std::cell::RefCell<Option<Vec<u8>>> = const {{ ::std::cell::RefCell::new(None) }};\n}}\n\nfn take_declared_text() -> Vec<u8> {{\n    DECLARED_TEXT.with(|d| d.borrow_mut().take()).unwrap_or_default()\n}}\n").ok();
        }
        // error conversions
        writeln!(
            glue,
            "#[allow(dead_code)]\nfn to_bridge_error(e: ::mphub::Error) -> {s}::BridgeError {{"
        )
        .ok();
        for (ty, _) in &self.declared_text {
            writeln!(glue, "    if let ::mphub::Error::Declared(d) = &e {{\n        if d.type_name == {ty:?} {{\n            if let Some(text) = e.declared_as::<::mphub::Text>() {{\n                DECLARED_TEXT.with(|d| *d.borrow_mut() = Some(text.as_bytes().to_vec()));\n                return {s}::BridgeError::declared({ty:?}, &e);\n            }}\n        }}\n    }}").ok();
        }
        for (id, ty) in &self.declared {
            let st = self.strct(*id)?;
            writeln!(glue, "    if let Some(v) = e.declared_as::<{p}::{}>() {{\n        DECLARED_{}.with(|d| *d.borrow_mut() = Some(v.clone()));\n        return {s}::BridgeError::declared({ty:?}, &e);\n    }}", st.name, snake(&st.name).to_uppercase()).ok();
        }
        writeln!(glue, "    {s}::BridgeError::from(e)\n}}\n").ok();
        writeln!(
            glue,
            "#[allow(dead_code)]\nfn from_cpp_error(e: ::cxx::Exception) -> ::mphub::Error {{"
        )
        .ok();
        for (id, ty) in &self.declared {
            let st = self.strct(*id)?;
            writeln!(glue, "    if {s}::is_declared_marker(e.what(), {ty:?}) {{\n        return ::mphub::Error::declared({ty:?}, {}_from_ffi(ffi::take_cpp_declared_{}()));\n    }}", snake(&st.name), snake(&st.name)).ok();
        }
        for (ty, _) in &self.declared_text {
            writeln!(glue, "    if {s}::is_declared_marker(e.what(), {ty:?}) {{\n        return ::mphub::Error::declared({ty:?}, ::mphub::Text::from_bytes(ffi::take_cpp_declared_text()));\n    }}").ok();
        }
        writeln!(glue, "    {s}::cpp_failure(&e)\n}}\n").ok();

        for i in &self.model.interfaces {
            self.rust_iface(i, &mut bridge, &mut glue, &mut rust_fns, &mut cpp_fns)?;
        }
        for (name, path) in &self.o.rust_impls {
            let pre = snake(name);
            writeln!(
                rust_fns,
                "        fn rust_{pre}() -> Result<Box<{name}Cap>>;"
            )
            .ok();
            writeln!(glue, "fn rust_{pre}() -> ::std::result::Result<Box<{name}Cap>, {s}::BridgeError> {{\n    {s}::guard(|| Ok(Box::new({name}Cap({path}()))))\n}}\n").ok();
        }

        let mut out = String::new();
        writeln!(
            out,
            "// @generated by mphub-build (C++ bridge emitter). Do not edit."
        )
        .ok();
        writeln!(out, "#[allow(clippy::all, missing_docs, dead_code, unused_variables, unused_mut, clippy::needless_lifetimes)]").ok();
        writeln!(
            out,
            "#[::cxx::bridge(namespace = \"{}::ffi::{}\")]\npub mod ffi {{",
            self.o.cpp_namespace.trim_start_matches("::"),
            self.o.stem
        )
        .ok();
        out.push_str(&bridge);
        writeln!(out, "    extern \"Rust\" {{").ok();
        out.push_str(&rust_fns);
        writeln!(out, "    }}").ok();
        writeln!(
            out,
            "    unsafe extern \"C++\" {{\n        include!(\"{}\");",
            self.header_path("-glue.h")
        )
        .ok();
        out.push_str(&cpp_fns);
        writeln!(out, "    }}\n}}\n").ok();
        out.push_str(&glue);
        Ok(out)
    }

    #[allow(clippy::too_many_lines)]
    fn rust_iface(
        &self,
        i: &Interface,
        bridge: &mut String,
        glue: &mut String,
        rust_fns: &mut String,
        cpp_fns: &mut String,
    ) -> Result<(), BuildError> {
        let (p, s) = (&self.p, &self.s);
        let n = &i.name;
        let pre = snake(n);
        writeln!(
            rust_fns,
            "        type {n}ClientBox;\n        type {n}Cap;\n        fn {pre}_is_null(client: &{n}ClientBox) -> bool;\n        fn {pre}_cap_null() -> Box<{n}Cap>;\n        fn {pre}_cap_from_client(client: &{n}ClientBox) -> Box<{n}Cap>;\n        fn {pre}_cap_from_cpp(holder: UniquePtr<{n}Holder>) -> Result<Box<{n}Cap>>;"
        )
        .ok();
        writeln!(cpp_fns, "        type {n}Holder;").ok();
        // Capabilities inside values (struct fields, list elements) cross in this.
        writeln!(bridge, "    /// A `{n}` capability (maybe null) inside a value.\n    struct FfiCap{n} {{\n        cap: Box<{n}Cap>,\n    }}").ok();
        writeln!(
            rust_fns,
            "        fn {pre}_client_from_cap(cap: &{n}Cap) -> Result<Box<{n}ClientBox>>;"
        )
        .ok();
        writeln!(glue, "fn {pre}_client_from_cap(cap: &{n}Cap) -> ::std::result::Result<Box<{n}ClientBox>, {s}::BridgeError> {{\n    {s}::guard(|| match cap.0.client() {{\n        Some(client) => Ok({n}ClientBox::detached(Some(client))),\n        None if cap.0.is_null() => Ok({n}ClientBox::detached(None)),\n        None => Err({s}::BridgeError::usage(\"a local {n} inside a value cannot be handed to C++ (only received capabilities can)\")),\n    }})\n}}\n").ok();
        writeln!(glue, "/// A `{n}Client` (or null) held by C++.\npub struct {n}ClientBox {{\n    client: Option<{p}::{n}Client>,\n    keep: Option<::std::sync::Arc<{s}::RuntimeKeep>>,\n}}\n").ok();
        writeln!(glue, "impl {n}ClientBox {{\n    fn new(client: Option<{p}::{n}Client>, keep: Option<::std::sync::Arc<{s}::RuntimeKeep>>) -> Box<Self> {{ Box::new({n}ClientBox {{ client, keep }}) }}\n    /// A connection's first client: its keep waits (bounded) for an orderly shutdown.\n    fn root(client: {p}::{n}Client) -> Box<Self> {{\n        let keep = {s}::RuntimeKeep::root(&client);\n        Self::new(Some(client), Some(keep))\n    }}\n    /// A client a C++ server method receives: released without waiting.\n    fn detached(client: Option<{p}::{n}Client>) -> Box<Self> {{\n        let keep = client.as_ref().map({s}::RuntimeKeep::detached);\n        Self::new(client, keep)\n    }}\n    fn get(&self) -> ::std::result::Result<&{p}::{n}Client, {s}::BridgeError> {{\n        self.client.as_ref().ok_or_else(|| {s}::BridgeError::usage(\"call on a null {n}\"))\n    }}\n}}\n").ok();
        writeln!(glue, "/// A `{n}` capability to serve or pass.\npub struct {n}Cap(::mphub::Cap<{p}::{n}Client>);\n").ok();
        writeln!(glue, "fn {pre}_is_null(client: &{n}ClientBox) -> bool {{ client.client.is_none() }}\nfn {pre}_cap_null() -> Box<{n}Cap> {{ Box::new({n}Cap(::mphub::Cap::null())) }}\nfn {pre}_cap_from_client(client: &{n}ClientBox) -> Box<{n}Cap> {{ Box::new({n}Cap(client.client.clone().into())) }}").ok();
        writeln!(glue, "fn {pre}_cap_from_cpp(holder: ::cxx::UniquePtr<ffi::{n}Holder>) -> ::std::result::Result<Box<{n}Cap>, {s}::BridgeError> {{\n    {s}::guard(|| {{\n        let Some(holder) = {s}::Holder::new(holder) else {{ return Ok({pre}_cap_null()) }};\n        Ok(Box::new({n}Cap({p}::{n}Client::local(::std::sync::Arc::new(Cpp{n}(::std::sync::Arc::new(holder)))))))\n    }})\n}}\n").ok();
        writeln!(glue, "// SAFETY: the C++ object behind a holder is called from several threads; the\n// contract (doc/cxx-bridge.md) requires C++ implementations to be thread-safe.\nunsafe impl Send for ffi::{n}Holder {{}}\nunsafe impl Sync for ffi::{n}Holder {{}}\n").ok();
        if Self::is_bootstrap(i) {
            writeln!(bridge, "    /// A spawned `{n}` server process and the client for it.\n    struct {n}Spawned {{\n        client: Box<{n}ClientBox>,\n        pid: i32,\n    }}\n    /// An in-process `{n}` server and the client for it.\n    struct {n}Embedded {{\n        server: Box<ServerBox>,\n        client: Box<{n}ClientBox>,\n    }}").ok();
            writeln!(rust_fns, "        fn {pre}_connect(path: &str) -> Result<Box<{n}ClientBox>>;\n        fn {pre}_connect_fd(fd: i32) -> Result<Box<{n}ClientBox>>;\n        fn {pre}_spawn(program: &str) -> Result<{n}Spawned>;\n        fn {pre}_serve(cap: Box<{n}Cap>, path: &str) -> Result<Box<ServerBox>>;\n        fn {pre}_serve_fd(cap: Box<{n}Cap>, fd: i32) -> Result<Box<ServerBox>>;\n        fn {pre}_embed(cap: Box<{n}Cap>) -> Result<{n}Embedded>;").ok();
            writeln!(glue, "fn {pre}_connect(path: &str) -> ::std::result::Result<Box<{n}ClientBox>, {s}::BridgeError> {{\n    {s}::guard(|| {{ Ok({n}ClientBox::root({s}::connect::<{p}::{n}Client>(path)?)) }})\n}}").ok();
            writeln!(glue, "fn {pre}_connect_fd(fd: i32) -> ::std::result::Result<Box<{n}ClientBox>, {s}::BridgeError> {{\n    {s}::guard(|| {{ Ok({n}ClientBox::root({s}::connect_fd::<{p}::{n}Client>(fd)?)) }})\n}}").ok();
            writeln!(glue, "fn {pre}_spawn(program: &str) -> ::std::result::Result<ffi::{n}Spawned, {s}::BridgeError> {{\n    {s}::guard(|| {{ let (c, pid) = {s}::spawn::<{p}::{n}Client>(program)?; Ok(ffi::{n}Spawned {{ client: {n}ClientBox::root(c), pid }}) }})\n}}").ok();
            writeln!(glue, "fn {pre}_serve(cap: Box<{n}Cap>, path: &str) -> ::std::result::Result<Box<ServerBox>, {s}::BridgeError> {{\n    {s}::guard(|| Ok(Box::new(ServerBox({s}::ServerHandle::listen(path, cap.0)?))))\n}}").ok();
            writeln!(glue, "fn {pre}_serve_fd(cap: Box<{n}Cap>, fd: i32) -> ::std::result::Result<Box<ServerBox>, {s}::BridgeError> {{\n    {s}::guard(|| Ok(Box::new(ServerBox({s}::ServerHandle::serve_fd(fd, cap.0)?))))\n}}").ok();
            writeln!(glue, "fn {pre}_embed(cap: Box<{n}Cap>) -> ::std::result::Result<ffi::{n}Embedded, {s}::BridgeError> {{\n    {s}::guard(|| {{ let (server, c) = {s}::embed::<{p}::{n}Client>(cap.0)?; Ok(ffi::{n}Embedded {{ server: Box::new(ServerBox(server)), client: {n}ClientBox::root(c) }}) }})\n}}\n").ok();
        }

        // ---- the C++ implementation adapter (Rust server trait → C++ holder)
        writeln!(glue, "/// Serves `{n}` by calling a C++ implementation on a worker thread.\npub struct Cpp{n}(::std::sync::Arc<{s}::Holder<ffi::{n}Holder>>);\n").ok();
        // One impl per server trait: inherited methods belong to the ancestor's trait
        // (the derived trait has it as a supertrait).
        let mut adapters: Vec<(&str, String)> = vec![(n.as_str(), String::new())];
        let mut free = String::new();
        for m in Self::methods(i) {
            let slot = match adapters.iter().position(|(d, _)| *d == m.declared_in) {
                Some(k) => k,
                None => {
                    adapters.push((m.declared_in.as_str(), String::new()));
                    adapters.len() - 1
                }
            };
            self.rust_method(
                i,
                m,
                bridge,
                rust_fns,
                cpp_fns,
                &mut free,
                &mut adapters[slot].1,
            )?;
        }
        for (declared_in, adapter) in &adapters {
            writeln!(
                glue,
                "impl {p}::{declared_in}Server for Cpp{n} {{\n{adapter}}}\n"
            )
            .ok();
        }
        glue.push_str(&free);
        Ok(())
    }

    #[allow(clippy::too_many_lines)]
    #[allow(clippy::too_many_arguments)]
    fn rust_method(
        &self,
        i: &Interface,
        m: &Method,
        bridge: &mut String,
        rust_fns: &mut String,
        cpp_fns: &mut String,
        free: &mut String,
        adapter: &mut String,
    ) -> Result<(), BuildError> {
        let (p, s) = (&self.p, &self.s);
        let n = &i.name;
        let pre = snake(n);
        let ret = self.ret(i, m)?;
        let ret_struct = Self::ret_struct_name(i, m);
        // bridge return types
        let (client_ret, holder_ret, ret_rs) = match &ret {
            Ret::Unit => ("()".to_string(), "()".to_string(), "()".to_string()),
            Ret::Single(f) => match &f.ty {
                Ty::Interface(id) => {
                    let t = &self.iface(*id)?.name;
                    (
                        format!("Box<{t}ClientBox>"),
                        format!("Box<{t}Cap>"),
                        format!("Box<{t}ClientBox>"),
                    )
                }
                ty => (
                    self.ffi_ty(ty, "")?,
                    self.ffi_ty(ty, "")?,
                    self.ffi_ty(ty, "ffi::")?,
                ),
            },
            Ret::Struct { .. } => (
                ret_struct.clone(),
                ret_struct.clone(),
                format!("ffi::{ret_struct}"),
            ),
        };
        if let Ret::Struct { .. } = ret {
            let mut st = format!("    /// Outputs of `{n}.{}`.\n    #[derive(Default)]\n    struct {ret_struct} {{\n", m.name);
            for f in outputs(m) {
                writeln!(st, "        {}: {},", f.snake, self.ffi_ty(&f.ty, "")?).ok();
                if is_optional_out(f) {
                    writeln!(st, "        has_{}: bool,", f.snake).ok();
                }
            }
            st.push_str("    }\n");
            bridge.push_str(&st);
        }
        // ---- bridge params
        let mut client_params = vec![format!("client: &{n}ClientBox")];
        let mut params_rs = client_params.clone();
        let mut holder_params = vec![format!("holder: &{n}Holder")];
        for prm in visible_params(m) {
            match &prm.ty {
                Ty::Interface(id) => {
                    let t = &self.iface(*id)?.name;
                    client_params.push(format!("{}: Box<{t}Cap>", prm.snake));
                    params_rs.push(format!("{}: Box<{t}Cap>", prm.snake));
                    holder_params.push(format!("{}: Box<{t}ClientBox>", prm.snake));
                }
                ty => {
                    client_params.push(format!("{}: {}", prm.snake, self.ffi_arg_ty(ty, "")?));
                    params_rs.push(format!("{}: {}", prm.snake, self.ffi_arg_ty(ty, "ffi::")?));
                    holder_params.push(format!("{}: {}", prm.snake, self.ffi_arg_ty(ty, "")?));
                    if prm.has_flag.is_some() {
                        client_params.push(format!("has_{}: bool", prm.snake));
                        params_rs.push(format!("has_{}: bool", prm.snake));
                        holder_params.push(format!("has_{}: bool", prm.snake));
                    }
                }
            }
        }
        let result_of = |t: &str| {
            if t == "()" {
                "Result<()>".to_string()
            } else {
                format!("Result<{t}>")
            }
        };
        writeln!(
            rust_fns,
            "        fn {pre}_call_{}({}) -> {};",
            m.snake,
            client_params.join(", "),
            result_of(&client_ret)
        )
        .ok();
        writeln!(
            cpp_fns,
            "        fn {pre}_holder_{}({}) -> {};",
            m.snake,
            holder_params.join(", "),
            result_of(&holder_ret)
        )
        .ok();

        // ---- client function (C++ → Rust client)
        let mut body = String::new();
        let mut call_args = Vec::new();
        for prm in visible_params(m) {
            let v = format!("p_{}", prm.snake);
            match &prm.ty {
                Ty::Interface(_) => {
                    writeln!(body, "        let {v} = {}.0;", prm.snake).ok();
                }
                ty if prm.has_flag.is_some() => {
                    writeln!(
                        body,
                        "        let {v} = if has_{0} {{ Some({1}) }} else {{ None }};",
                        prm.snake,
                        self.rs_from_ffi_arg(ty, &prm.snake)?
                    )
                    .ok();
                }
                ty @ Ty::Struct(_) => {
                    writeln!(
                        body,
                        "        let {v} = {};",
                        self.f_from_ffi(ty, &prm.snake)?
                    )
                    .ok();
                }
                ty => {
                    writeln!(
                        body,
                        "        let {v} = {};",
                        self.rs_from_ffi_arg(ty, &prm.snake)?
                    )
                    .ok();
                }
            }
            call_args.push(v);
        }
        writeln!(
            body,
            "        let out = client.get()?.{}({}).map_err(to_bridge_error)?;",
            m.rust_blocking,
            call_args.join(", ")
        )
        .ok();
        match &ret {
            Ret::Unit => {
                writeln!(body, "        let () = out;\n        Ok(())").ok();
            }
            Ret::Single(f) => match &f.ty {
                Ty::Interface(id) => {
                    let t = &self.iface(*id)?.name;
                    writeln!(
                        body,
                        "        Ok({t}ClientBox::new(out, client.keep.clone()))"
                    )
                    .ok();
                }
                ty => {
                    writeln!(body, "        Ok({})", self.f_to_ffi(ty, "out")?).ok();
                }
            },
            Ret::Struct { api_single } => {
                writeln!(
                    body,
                    "        #[allow(clippy::needless_update)]\n        let mut r = ffi::{ret_struct}::default();"
                )
                .ok();
                for f in outputs(m) {
                    let src = if *api_single {
                        "out".to_string()
                    } else {
                        format!("out.{}", f.rust)
                    };
                    if is_optional_out(f) {
                        writeln!(
                            body,
                            "        if let Some(x) = {src} {{ r.{0} = {1}; r.has_{0} = true; }}",
                            f.snake,
                            self.rs_to_ffi(&f.ty, "x")?
                        )
                        .ok();
                    } else {
                        writeln!(
                            body,
                            "        r.{} = {};",
                            f.snake,
                            self.f_to_ffi(&f.ty, &src)?
                        )
                        .ok();
                    }
                }
                writeln!(body, "        Ok(r)").ok();
            }
        }
        writeln!(
            free,
            "#[allow(clippy::too_many_arguments)]\nfn {pre}_call_{}({}) -> ::std::result::Result<{ret_rs}, {s}::BridgeError> {{\n    {s}::guard(move || {{\n{body}    }})\n}}\n",
            m.snake,
            params_rs.join(", ")
        )
        .ok();

        // ---- adapter method (Rust server trait → C++ holder)
        let mut sig = String::new();
        for prm in visible_params(m) {
            let t = match &prm.ty {
                Ty::Interface(id) => format!(
                    "::std::option::Option<{p}::{}Client>",
                    self.iface(*id)?.name
                ),
                ty if prm.has_flag.is_some() => {
                    format!("::std::option::Option<{}>", self.api_ty(ty)?)
                }
                ty => self.fapi_ty(ty)?,
            };
            write!(sig, ", {}: {t}", prm.snake).ok();
        }
        let api_ret = match &ret {
            Ret::Unit => "()".to_string(),
            Ret::Single(f) => match &f.ty {
                Ty::Interface(id) => {
                    format!("::mphub::Cap<{p}::{}Client>", self.iface(*id)?.name)
                }
                ty => self.fapi_ty(ty)?,
            },
            Ret::Struct { api_single: true } => {
                let f = outputs(m)[0];
                format!("::std::option::Option<{}>", self.api_ty(&f.ty)?)
            }
            Ret::Struct { api_single: false } => {
                format!("{p}::{}{}Output", n, camel(&m.name))
            }
        };
        let mut conv = String::new();
        let mut args = vec!["holder.get()".to_string()];
        for prm in visible_params(m) {
            match &prm.ty {
                Ty::Interface(id) => {
                    let t = &self.iface(*id)?.name;
                    args.push(format!("{t}ClientBox::detached({})", prm.snake));
                }
                ty if prm.has_flag.is_some() => {
                    let owned = matches!(ty, Ty::Text | Ty::Data);
                    writeln!(
                        conv,
                        "            let ({0}, has_{0}) = match {0} {{ Some(x) => ({1}, true), None => (::std::default::Default::default(), false) }};",
                        prm.snake,
                        self.rs_to_ffi(ty, "x")?
                    )
                    .ok();
                    if owned {
                        args.push(format!("&{}[..]", prm.snake));
                    } else {
                        args.push(prm.snake.clone());
                    }
                    args.push(format!("has_{}", prm.snake));
                }
                ty @ Ty::Struct(_) => {
                    args.push(self.f_to_ffi(ty, &prm.snake)?);
                }
                ty => {
                    args.push(self.rs_to_ffi_arg(ty, &prm.snake)?);
                }
            }
        }
        let mut back = String::new();
        match &ret {
            Ret::Unit => {
                writeln!(back, "            let () = r;\n            Ok(())").ok();
            }
            Ret::Single(f) => match &f.ty {
                Ty::Interface(_) => {
                    writeln!(back, "            Ok(r.0)").ok();
                }
                ty => {
                    writeln!(back, "            Ok({})", self.f_from_ffi(ty, "r")?).ok();
                }
            },
            Ret::Struct { api_single: true } => {
                let f = outputs(m)[0];
                writeln!(
                    back,
                    "            Ok(if r.has_{0} {{ Some({1}) }} else {{ None }})",
                    f.snake,
                    self.rs_from_ffi(&f.ty, &format!("r.{}", f.snake))?
                )
                .ok();
            }
            Ret::Struct { api_single: false } => {
                write!(back, "            Ok({api_ret} {{ ").ok();
                for f in outputs(m) {
                    let v = self.rs_from_ffi(&f.ty, &format!("r.{}", f.snake))?;
                    if is_optional_out(f) {
                        write!(
                            back,
                            "{}: if r.has_{} {{ Some({v}) }} else {{ None }}, ",
                            f.rust, f.snake
                        )
                        .ok();
                    } else {
                        let v = self.f_from_ffi(&f.ty, &format!("r.{}", f.snake))?;
                        write!(back, "{}: {v}, ", f.rust).ok();
                    }
                }
                writeln!(back, "}})").ok();
            }
        }
        writeln!(adapter, "    #[allow(clippy::too_many_arguments)]\n    async fn {}(&self, cx: &::mphub::CallContext{sig}) -> ::mphub::Result<{api_ret}> {{\n        let holder = self.0.clone();\n        {s}::run_cpp(cx, move || {{\n{conv}            let r = ffi::{pre}_holder_{}({}).map_err(from_cpp_error)?;\n{back}        }})\n        .await\n    }}", m.rust_name, m.snake, args.join(", ")).ok();
        Ok(())
    }
}

/// C++ emitters.
impl Gen<'_> {
    /// C++ spelling of the wrapped type an interface maps to.
    fn cpp_wrap(i: &Interface) -> String {
        if Self::is_callback(i) {
            Self::callback_fn_type(i)
        } else {
            cpp_qualified(&i.wrap)
        }
    }

    fn remote(&self, i: &Interface) -> String {
        format!(
            "::{}::Remote{}",
            self.o.cpp_namespace.trim_start_matches("::"),
            i.name
        )
    }

    /// C++ return type of the `…_holder_…` / `…_call_…` glue functions.
    fn cpp_glue_ret(&self, i: &Interface, m: &Method, holder: bool) -> Result<String, BuildError> {
        Ok(match self.ret(i, m)? {
            Ret::Unit => "void".into(),
            Ret::Single(f) => match &f.ty {
                Ty::Interface(id) => {
                    let t = &self.iface(*id)?.name;
                    if holder {
                        format!("::rust::Box<{}::{t}Cap>", self.f)
                    } else {
                        format!("::rust::Box<{}::{t}ClientBox>", self.f)
                    }
                }
                ty => self.cpp_ffi_ty(ty)?,
            },
            Ret::Struct { .. } => format!("{}::{}", self.f, Self::ret_struct_name(i, m)),
        })
    }

    fn glue_header(&self) -> Result<String, BuildError> {
        let f = &self.f;
        let mut o = String::new();
        writeln!(o, "// @generated by mphub-build (C++ bridge emitter). Do not edit.\n// Internal: declarations the cxx bridge of schema `{}` needs.\n#pragma once\n", self.o.stem).ok();
        writeln!(o, "#include <cstdint>\n#include <functional>\n#include <memory>\n\n#include <mphub/cxx/common.h>").ok();
        for inc in &self.model.includes {
            writeln!(o, "#include <{inc}>").ok();
        }
        writeln!(o, "\n{}", self.ffi_ns_open()).ok();
        writeln!(o, "struct FfiBytes;\nstruct ServerBox;").ok();
        for tag in self.nested_lists.keys() {
            writeln!(o, "struct FfiList{tag};").ok();
        }
        for id in &self.used_structs {
            writeln!(o, "struct Ffi{};", self.strct(*id)?.name).ok();
        }
        for i in &self.model.interfaces {
            let n = &i.name;
            writeln!(o, "struct {n}ClientBox;\nstruct {n}Cap;\nstruct FfiCap{n};").ok();
            if Self::is_bootstrap(i) {
                writeln!(o, "struct {n}Spawned;\nstruct {n}Embedded;").ok();
            }
            for m in Self::methods(i) {
                if let Ret::Struct { .. } = self.ret(i, m)? {
                    writeln!(o, "struct {};", Self::ret_struct_name(i, m)).ok();
                }
            }
            writeln!(o, "//! Owns (or borrows for one call) the C++ object serving a `{n}`.\nstruct {n}Holder : ::mphub::cxx::detail::Holder<{}> {{\n    using Holder::Holder;\n}};", Self::cpp_wrap(i)).ok();
        }
        for i in &self.model.interfaces {
            for m in Self::methods(i) {
                let ret = self.cpp_glue_ret(i, m, true)?;
                let params = self.cpp_holder_params(i, m)?;
                writeln!(
                    o,
                    "{ret} {}_holder_{}({});",
                    snake(&i.name),
                    m.snake,
                    params.join(", ")
                )
                .ok();
            }
        }
        for (id, _) in &self.declared {
            let st = self.strct(*id)?;
            writeln!(o, "Ffi{} take_cpp_declared_{}();", st.name, snake(&st.name)).ok();
        }
        if !self.declared_text.is_empty() {
            writeln!(o, "::rust::Vec<std::uint8_t> take_cpp_declared_text();").ok();
        }
        writeln!(o, "{}", self.ffi_ns_close()).ok();
        let _ = f;
        Ok(o)
    }

    fn cpp_holder_params(&self, i: &Interface, m: &Method) -> Result<Vec<String>, BuildError> {
        let mut v = vec![format!("const {}Holder& holder", i.name)];
        for prm in visible_params(m) {
            match &prm.ty {
                Ty::Interface(id) => v.push(format!(
                    "::rust::Box<{}::{}ClientBox> {}",
                    self.f,
                    self.iface(*id)?.name,
                    prm.snake
                )),
                ty => {
                    v.push(format!("{} {}", self.cpp_ffi_arg_ty(ty)?, prm.snake));
                    if prm.has_flag.is_some() {
                        v.push(format!("bool has_{}", prm.snake));
                    }
                }
            }
        }
        Ok(v)
    }

    fn header(&self) -> Result<String, BuildError> {
        let f = &self.f;
        let mut o = String::new();
        writeln!(o, "// @generated by mphub-build (C++ bridge emitter). Do not edit.\n//\n// C++ API for schema `{}` on top of mphub's Rust runtime; see doc/cxx-bridge.md.\n#pragma once\n", self.o.stem).ok();
        writeln!(o, "#include <cstdint>\n#include <functional>\n#include <memory>\n#include <optional>\n#include <string>\n#include <utility>\n#include <vector>\n\n#include <mphub/cxx/common.h>\n#include <{}>", self.header_path(".rs.h")).ok();
        for inc in &self.model.includes {
            writeln!(o, "#include <{inc}>").ok();
        }
        writeln!(o, "\n{}", self.ns_open()).ok();
        for i in &self.model.interfaces {
            let n = &i.name;
            let wrap = Self::cpp_wrap(i);
            if Self::is_callback(i) {
                let m = Self::callback_method(i)?;
                let (ret, args) = self.cpp_sig(m)?;
                writeln!(o, "//! Calls a remote `{n}` (a peer's `{wrap}`) through mphub's Rust client.\nclass Remote{n} final\n{{\npublic:\n    explicit Remote{n}(::rust::Box<{f}::{n}ClientBox> client) noexcept;\n    Remote{n}(const Remote{n}&) = delete;\n    Remote{n}& operator=(const Remote{n}&) = delete;\n    ~Remote{n}();\n    //! Blocking call; throws mphub::cxx::Error.\n    {ret} call({}) const;\n    //! The target of the `{wrap}` that `function` returns: it calls the remote object,\n    //! and the bridge hands it on as that object (no new capability wrapping it).\n    struct Fn {{\n        std::shared_ptr<Remote{n}> remote;\n        template <class... A>\n        auto operator()(A&&... args) const {{ return remote->call(std::forward<A>(args)...); }}\n    }};\n    //! A `{wrap}` calling `client` (empty when `client` is null).\n    static {wrap} function(::rust::Box<{f}::{n}ClientBox> client);\n    const {f}::{n}ClientBox& rustClient() const noexcept {{ return *m_client; }}\n\nprivate:\n    ::rust::Box<{f}::{n}ClientBox> m_client;\n}};\n", Self::join_args(&args)).ok();
            } else {
                writeln!(o, "//! A `{wrap}` whose methods call a remote `{n}` through mphub's Rust client\n//! (blocking; any thread). Errors throw mphub::cxx::Error, declared exceptions\n//! their own type. Destroying it releases the remote object (`destroy`).\nclass Remote{n} final : public {wrap}\n{{\npublic:\n    explicit Remote{n}(::rust::Box<{f}::{n}ClientBox> client) noexcept;\n    Remote{n}(const Remote{n}&) = delete;\n    Remote{n}& operator=(const Remote{n}&) = delete;\n    ~Remote{n}() override;").ok();
                for m in Self::methods(i) {
                    let (ret, args) = self.cpp_sig(m)?;
                    writeln!(
                        o,
                        "    {ret} {}({}) override;",
                        cpp_ident(&m.cpp_name),
                        Self::join_args(&args)
                    )
                    .ok();
                }
                writeln!(o, "    const {f}::{n}ClientBox& rustClient() const noexcept {{ return *m_client; }}\n\nprivate:\n    ::rust::Box<{f}::{n}ClientBox> m_client;\n}};\n").ok();
            }
            let ctor_arg = if Self::is_callback(i) {
                format!("{wrap} fn")
            } else {
                format!("std::unique_ptr<{wrap}> impl")
            };
            writeln!(o, "//! A `{n}` to serve or to pass as an argument: a C++ implementation, a\n//! remote object, a Rust implementation, or null. Move-only.\nclass {n}Cap\n{{\npublic:\n    //! Hosts a C++ implementation; its methods run on mphub worker threads and must be\n    //! thread-safe (doc/cxx-bridge.md). A null argument makes a null capability.\n    explicit {n}Cap({ctor_arg});\n    explicit {n}Cap(::rust::Box<{f}::{n}Cap> cap) noexcept : m_cap(std::move(cap)) {{}}\n    static {n}Cap null();\n    ::rust::Box<{f}::{n}Cap> release() &&;\n\nprivate:\n    ::rust::Box<{f}::{n}Cap> m_cap;\n}};\n").ok();
            if Self::is_bootstrap(i) {
                writeln!(o, "//! Serves `cap` on unix socket `socket_path` (mode 0600) to every connection.\n::mphub::cxx::Server serve({n}Cap cap, const std::string& socket_path);\n//! Serves `cap` on the connected socket `fd` (ownership taken) until the peer leaves.\n::mphub::cxx::Server serveFd({n}Cap cap, int fd);\n//! Serves `cap` in this process over a socketpair and connects to it.\n::mphub::cxx::Embedded<Remote{n}> embed({n}Cap cap);\n//! Connects to a `{n}` server on a unix socket.\nstd::unique_ptr<Remote{n}> connect{n}(const std::string& socket_path);\n//! Uses the connected socket `fd` (ownership taken) as a client.\nstd::unique_ptr<Remote{n}> connect{n}Fd(int fd);\n//! Starts `program -ipcfd N` with one end of a socketpair and connects to it.\n::mphub::cxx::Spawned<Remote{n}> spawn{n}(const std::string& program);\n").ok();
            }
        }
        for (name, path) in &self.o.rust_impls {
            writeln!(
                o,
                "//! The Rust implementation `{path}`, to serve or embed.\n{name}Cap rust{name}();\n"
            )
            .ok();
        }
        writeln!(o, "{}", self.ns_close()).ok();
        Ok(o)
    }

    #[allow(clippy::too_many_lines)]
    fn source(&self) -> Result<String, BuildError> {
        let f = &self.f;
        let ns = format!("::{}", self.o.cpp_namespace.trim_start_matches("::"));
        let mut o = String::new();
        writeln!(o, "// @generated by mphub-build (C++ bridge emitter). Do not edit.\n#include <{}>\n\n#include <optional>\n#include <stdexcept>\n#include <string>\n#include <utility>\n#include <vector>\n", self.header_path(".h")).ok();
        writeln!(o, "{}", self.ffi_ns_open()).ok();
        // capability helpers
        for i in &self.model.interfaces {
            let n = &i.name;
            let pre = snake(n);
            let wrap = Self::cpp_wrap(i);
            let remote = self.remote(i);
            if Self::is_callback(i) {
                writeln!(o, "[[maybe_unused]] static ::rust::Box<{n}Cap> {pre}_cap_from_function({wrap} fn)\n{{\n    if (!fn) return {pre}_cap_null();\n    if (auto* r = fn.target<{remote}::Fn>()) return {pre}_cap_from_client(r->remote->rustClient());\n    return {pre}_cap_from_cpp(std::make_unique<{n}Holder>(std::make_unique<{wrap}>(std::move(fn))));\n}}").ok();
                writeln!(o, "[[maybe_unused]] static {wrap} {pre}_function_from_cap(const {n}Cap& cap)\n{{\n    return {remote}::function({pre}_client_from_cap(cap));\n}}").ok();
            } else {
                writeln!(o, "[[maybe_unused]] static ::rust::Box<{n}Cap> {pre}_cap_from_unique(std::unique_ptr<{wrap}> p)\n{{\n    if (!p) return {pre}_cap_null();\n    if (auto* r = dynamic_cast<{remote}*>(p.get())) return {pre}_cap_from_client(r->rustClient());\n    return {pre}_cap_from_cpp(std::make_unique<{n}Holder>(std::move(p)));\n}}").ok();
                writeln!(o, "[[maybe_unused]] static ::rust::Box<{n}Cap> {pre}_cap_from_shared(const std::shared_ptr<{wrap}>& p)\n{{\n    if (!p) return {pre}_cap_null();\n    if (auto* r = dynamic_cast<{remote}*>(p.get())) return {pre}_cap_from_client(r->rustClient());\n    return {pre}_cap_from_cpp(std::make_unique<{n}Holder>(p));\n}}\n[[maybe_unused]] static std::shared_ptr<{wrap}> {pre}_shared_from_cap(const {n}Cap& cap)\n{{\n    auto client = {pre}_client_from_cap(cap);\n    if ({pre}_is_null(*client)) return nullptr;\n    return std::make_shared<{remote}>(std::move(client));\n}}").ok();
                writeln!(o, "[[maybe_unused]] static ::rust::Box<{n}Cap> {pre}_cap_from_ref({wrap}& obj, ::mphub::cxx::detail::BorrowScope& scope)\n{{\n    if (auto* r = dynamic_cast<{remote}*>(&obj)) return {pre}_cap_from_client(r->rustClient());\n    return {pre}_cap_from_cpp(std::make_unique<{n}Holder>(obj, scope.borrow()));\n}}").ok();
            }
        }
        // struct conversions
        for id in &self.used_structs {
            let st = self.strct(*id)?;
            let t = self.cpp_ty(&Ty::Struct(*id))?;
            writeln!(o, "[[maybe_unused]] static Ffi{0} to_ffi(const {t}& v);\n[[maybe_unused]] static {t} from_ffi(const Ffi{0}& v);", st.name).ok();
        }
        for id in &self.used_structs {
            let st = self.strct(*id)?;
            let t = self.cpp_ty(&Ty::Struct(*id))?;
            let fields = Self::struct_fields(st);
            let pair = st.wrap.is_none();
            let member = |k: usize, fl: &Field| {
                if pair {
                    if k == 0 {
                        "first".to_string()
                    } else {
                        "second".to_string()
                    }
                } else {
                    cpp_ident(&fl.cpp_member)
                }
            };
            writeln!(
                o,
                "static Ffi{} to_ffi(const {t}& v)\n{{\n    Ffi{} r{{}};",
                st.name, st.name
            )
            .ok();
            let members: Vec<(String, &Field)> = fields
                .iter()
                .enumerate()
                .map(|(k, fl)| (member(k, fl), *fl))
                .collect();
            self.fields_to_ffi(&mut o, &members)?;
            // A union's members all cross (the unset ones at their defaults), with the
            // discriminant; the Rust side reads the one `union_which` names.
            let union: Vec<(String, &Field)> = Self::union_fields(st)
                .into_iter()
                .map(|fl| (cpp_ident(&fl.cpp_member), fl))
                .collect();
            let which = Self::cpp_which(st);
            if st.union.is_some() {
                writeln!(
                    o,
                    "    r.union_which = static_cast<std::uint16_t>(v.{which});"
                )
                .ok();
                self.fields_to_ffi(&mut o, &union)?;
            }
            writeln!(
                o,
                "    return r;\n}}\nstatic {t} from_ffi(const Ffi{}& v)\n{{\n    {t} r{{}};",
                st.name
            )
            .ok();
            self.fields_from_ffi(&mut o, &members)?;
            if st.union.is_some() {
                writeln!(
                    o,
                    "    r.{which} = static_cast<decltype(r.{which})>(v.union_which);"
                )
                .ok();
                self.fields_from_ffi(&mut o, &union)?;
            }
            writeln!(o, "    return r;\n}}").ok();
        }
        // declared exceptions
        for (id, exc) in &self.declared {
            let st = self.strct(*id)?;
            let sn = snake(&st.name);
            let exc = cpp_qualified(exc);
            writeln!(o, "static thread_local std::optional<Ffi{0}> g_declared_{sn};\nFfi{0} take_cpp_declared_{sn}()\n{{\n    Ffi{0} r{{}};\n    if (g_declared_{sn}) {{ r = std::move(*g_declared_{sn}); g_declared_{sn}.reset(); }}\n    return r;\n}}", st.name).ok();
            writeln!(
                o,
                "static {exc} declared_{sn}(const Ffi{}& v)\n{{\n    {exc} r;",
                st.name
            )
            .ok();
            let members: Vec<(String, &Field)> = Self::struct_fields(st)
                .into_iter()
                .map(|fl| (cpp_ident(&fl.cpp_member), fl))
                .collect();
            self.fields_from_ffi(&mut o, &members)?;
            writeln!(o, "    return r;\n}}\nstatic Ffi{} declared_to_ffi_{sn}(const {exc}& v)\n{{\n    Ffi{} r{{}};", st.name, st.name).ok();
            self.fields_to_ffi(&mut o, &members)?;
            writeln!(o, "    return r;\n}}").ok();
        }
        if !self.declared_text.is_empty() {
            writeln!(o, "static thread_local std::optional<std::string> g_declared_text;\n::rust::Vec<std::uint8_t> take_cpp_declared_text()\n{{\n    ::rust::Vec<std::uint8_t> r;\n    if (g_declared_text) {{ r = ::mphub::cxx::detail::to_rust_bytes(*g_declared_text); g_declared_text.reset(); }}\n    return r;\n}}").ok();
        }
        writeln!(
            o,
            "[[noreturn]] [[maybe_unused]] static void rethrow(const ::rust::Error& e)\n{{"
        )
        .ok();
        for (ty, cpp) in &self.declared_text {
            writeln!(o, "    if (::mphub::cxx::detail::is_declared(e, \"{ty}\")) throw {}(::mphub::cxx::detail::to_std_string(take_declared_text()));", cpp_qualified(cpp)).ok();
        }
        for (id, exc) in &self.declared {
            let sn = snake(&self.strct(*id)?.name);
            writeln!(o, "    if (::mphub::cxx::detail::is_declared(e, \"{exc}\")) throw declared_{sn}(take_declared_{sn}());").ok();
        }
        writeln!(o, "    ::mphub::cxx::detail::throw_error(e);\n}}\n").ok();
        writeln!(o, "class ServerImpl final : public ::mphub::cxx::Server::Impl\n{{\npublic:\n    explicit ServerImpl(::rust::Box<ServerBox> box) noexcept : m_box(std::move(box)) {{}}\n    void stop() noexcept override {{ server_stop(*m_box); }}\n    bool wait(std::int64_t timeout_ms) override {{ return server_wait(*m_box, timeout_ms); }}\n    std::string path() const override {{ return std::string(server_path(*m_box)); }}\n\nprivate:\n    ::rust::Box<ServerBox> m_box;\n}};\n").ok();
        // holder functions (Rust server → C++ implementation)
        for i in &self.model.interfaces {
            for m in Self::methods(i) {
                self.cpp_holder_fn(i, m, &mut o)?;
            }
        }
        writeln!(o, "{}\n", self.ffi_ns_close()).ok();

        // public classes
        writeln!(o, "{}", self.ns_open()).ok();
        for i in &self.model.interfaces {
            let n = &i.name;
            let pre = snake(n);
            let wrap = Self::cpp_wrap(i);
            writeln!(o, "Remote{n}::Remote{n}(::rust::Box<{f}::{n}ClientBox> client) noexcept : m_client(std::move(client)) {{}}\nRemote{n}::~Remote{n}() = default;").ok();
            if Self::is_callback(i) {
                let m = Self::callback_method(i)?;
                self.cpp_remote_method(i, m, "call", " const", &mut o)?;
                writeln!(o, "{wrap} Remote{n}::function(::rust::Box<{f}::{n}ClientBox> client)\n{{\n    if ({f}::{pre}_is_null(*client)) return {{}};\n    return Fn{{std::make_shared<Remote{n}>(std::move(client))}};\n}}").ok();
                writeln!(o, "{n}Cap::{n}Cap({wrap} fn) : m_cap([&] {{\n    try {{ return {f}::{pre}_cap_from_function(std::move(fn)); }} catch (const ::rust::Error& e) {{ {f}::rethrow(e); }}\n}}()) {{}}").ok();
            } else {
                for m in Self::methods(i) {
                    self.cpp_remote_method(i, m, &cpp_ident(&m.cpp_name), "", &mut o)?;
                }
                writeln!(o, "{n}Cap::{n}Cap(std::unique_ptr<{wrap}> impl) : m_cap([&] {{\n    try {{ return {f}::{pre}_cap_from_unique(std::move(impl)); }} catch (const ::rust::Error& e) {{ {f}::rethrow(e); }}\n}}()) {{}}").ok();
            }
            if Self::is_bootstrap(i) {
                writeln!(o, "::mphub::cxx::Server serve({n}Cap cap, const std::string& socket_path)\n{{\n    try {{ return ::mphub::cxx::Server(std::make_unique<{f}::ServerImpl>({f}::{pre}_serve(std::move(cap).release(), socket_path))); }}\n    catch (const ::rust::Error& e) {{ {f}::rethrow(e); }}\n}}").ok();
                writeln!(o, "::mphub::cxx::Server serveFd({n}Cap cap, int fd)\n{{\n    try {{ return ::mphub::cxx::Server(std::make_unique<{f}::ServerImpl>({f}::{pre}_serve_fd(std::move(cap).release(), fd))); }}\n    catch (const ::rust::Error& e) {{ {f}::rethrow(e); }}\n}}").ok();
                writeln!(o, "::mphub::cxx::Embedded<Remote{n}> embed({n}Cap cap)\n{{\n    try {{\n        auto e = {f}::{pre}_embed(std::move(cap).release());\n        return ::mphub::cxx::Embedded<Remote{n}>{{::mphub::cxx::Server(std::make_unique<{f}::ServerImpl>(std::move(e.server))), std::make_unique<Remote{n}>(std::move(e.client))}};\n    }} catch (const ::rust::Error& e) {{ {f}::rethrow(e); }}\n}}").ok();
                writeln!(o, "std::unique_ptr<Remote{n}> connect{n}(const std::string& socket_path)\n{{\n    try {{ return std::make_unique<Remote{n}>({f}::{pre}_connect(socket_path)); }}\n    catch (const ::rust::Error& e) {{ {f}::rethrow(e); }}\n}}").ok();
                writeln!(o, "std::unique_ptr<Remote{n}> connect{n}Fd(int fd)\n{{\n    try {{ return std::make_unique<Remote{n}>({f}::{pre}_connect_fd(fd)); }}\n    catch (const ::rust::Error& e) {{ {f}::rethrow(e); }}\n}}").ok();
                writeln!(o, "::mphub::cxx::Spawned<Remote{n}> spawn{n}(const std::string& program)\n{{\n    try {{\n        auto s = {f}::{pre}_spawn(program);\n        return ::mphub::cxx::Spawned<Remote{n}>{{::mphub::cxx::Process(s.pid), std::make_unique<Remote{n}>(std::move(s.client))}};\n    }} catch (const ::rust::Error& e) {{ {f}::rethrow(e); }}\n}}").ok();
            }
            writeln!(o, "{n}Cap {n}Cap::null() {{ return {n}Cap({f}::{pre}_cap_null()); }}\n::rust::Box<{f}::{n}Cap> {n}Cap::release() && {{ return std::move(m_cap); }}\n").ok();
        }
        for (name, _) in &self.o.rust_impls {
            writeln!(o, "{name}Cap rust{name}()\n{{\n    try {{ return {name}Cap({f}::rust_{}()); }} catch (const ::rust::Error& e) {{ {f}::rethrow(e); }}\n}}", snake(name)).ok();
        }
        writeln!(o, "{}", self.ns_close()).ok();
        let _ = ns;
        Ok(o)
    }

    /// `…_holder_…`: runs one method of the C++ implementation for the Rust adapter.
    fn cpp_holder_fn(&self, i: &Interface, m: &Method, o: &mut String) -> Result<(), BuildError> {
        let n = &i.name;
        let pre = snake(n);
        let ret = self.cpp_glue_ret(i, m, true)?;
        let params = self.cpp_holder_params(i, m)?;
        let wrap = Self::cpp_wrap(i);
        let wants = Self::want_params(m);
        let (cpp_ret, _) = self.cpp_sig(m)?;
        let mut body = String::new();
        let mut call_args = Vec::new();
        for prm in visible_params(m) {
            if wants.contains_key(&prm.name) {
                continue;
            }
            let a = format!("a_{}", prm.snake);
            match &prm.ty {
                Ty::Interface(id) => {
                    let t = self.iface(*id)?;
                    if Self::is_callback(t) {
                        writeln!(
                            body,
                            "        {} {a} = {}::function(std::move({}));",
                            Self::cpp_wrap(t),
                            self.remote(t),
                            prm.snake
                        )
                        .ok();
                    } else {
                        writeln!(body, "        {} {a}(std::move({}));\n        if ({}_is_null({a}.rustClient())) throw std::invalid_argument(\"{}.{}: argument {} is null\");", self.remote(t), prm.snake, snake(&t.name), i.name, m.name, prm.name).ok();
                    }
                }
                ty if prm.has_flag.is_some() => {
                    writeln!(
                        body,
                        "        std::optional<{}> {a};\n        if (has_{}) {a} = {};",
                        self.cpp_ty(ty)?,
                        prm.snake,
                        self.cpp_from_ffi(ty, &prm.snake)?
                    )
                    .ok();
                }
                ty => {
                    writeln!(
                        body,
                        "        {} {a} = {};",
                        self.cpp_ty(ty)?,
                        self.cpp_from_ffi(ty, &prm.snake)?
                    )
                    .ok();
                }
            }
            call_args.push(a);
        }
        for r in outputs(m) {
            if Self::in_out(m, &r.name) || r.name == "result" {
                continue;
            }
            let oname = format!("o_{}", r.snake);
            if r.has_flag.is_some() {
                writeln!(
                    body,
                    "        std::optional<{}> {oname};",
                    self.cpp_ty(&r.ty)?
                )
                .ok();
                call_args.push(oname);
            } else {
                writeln!(body, "        {} {oname}{{}};", self.cpp_ty(&r.ty)?).ok();
                if r.wanted {
                    let want = visible_params(m)
                        .into_iter()
                        .find(|p| wants.get(&p.name) == Some(&r.name))
                        .map(|p| p.snake.clone())
                        .unwrap_or_default();
                    call_args.push(format!("{want} ? &{oname} : nullptr"));
                } else {
                    call_args.push(oname);
                }
            }
        }
        let call = if Self::is_callback(i) {
            writeln!(body, "        if (!self) throw std::bad_function_call();").ok();
            format!("self({})", call_args.join(", "))
        } else {
            format!("self.{}({})", cpp_ident(&m.cpp_name), call_args.join(", "))
        };
        let src = |r: &Field| -> String {
            if r.name == "result" {
                "res".to_string()
            } else if Self::in_out(m, &r.name) {
                format!("a_{}", r.snake)
            } else {
                format!("o_{}", r.snake)
            }
        };
        if cpp_ret == "void" {
            writeln!(body, "        {call};").ok();
        } else {
            writeln!(body, "        {cpp_ret} res = {call};").ok();
        }
        match self.ret(i, m)? {
            Ret::Unit => {}
            Ret::Single(r) => match &r.ty {
                Ty::Interface(id) => {
                    writeln!(
                        body,
                        "        return {}_cap_from_unique(std::move(res));",
                        snake(&self.iface(*id)?.name)
                    )
                    .ok();
                }
                ty => {
                    writeln!(body, "        return {};", self.cpp_to_ffi(ty, "res")?).ok();
                }
            },
            Ret::Struct { .. } => {
                writeln!(body, "        {} r{{}};", ret).ok();
                for r in outputs(m) {
                    let v = src(r);
                    if r.wanted {
                        let want = visible_params(m)
                            .into_iter()
                            .find(|p| wants.get(&p.name) == Some(&r.name))
                            .map(|p| p.snake.clone())
                            .unwrap_or_default();
                        writeln!(
                            body,
                            "        if ({want}) {{ r.{} = {}; r.has_{} = true; }}",
                            r.snake,
                            self.cpp_to_ffi(&r.ty, &v)?,
                            r.snake
                        )
                        .ok();
                    } else if r.has_flag.is_some() {
                        writeln!(
                            body,
                            "        if ({v}) {{ r.{} = {}; r.has_{} = true; }}",
                            r.snake,
                            self.cpp_to_ffi(&r.ty, &format!("(*{v})"))?,
                            r.snake
                        )
                        .ok();
                    } else {
                        writeln!(
                            body,
                            "        r.{} = {};",
                            r.snake,
                            self.cpp_to_ffi(&r.ty, &v)?
                        )
                        .ok();
                    }
                }
                writeln!(body, "        return r;").ok();
            }
        }
        let excs = exceptions(m);
        writeln!(
            o,
            "{ret} {pre}_holder_{}({})\n{{",
            m.snake,
            params.join(", ")
        )
        .ok();
        if !excs.is_empty() {
            writeln!(o, "    try {{").ok();
        }
        writeln!(
            o,
            "    return holder.with([&]({wrap}& self) -> {ret} {{\n{body}    }});"
        )
        .ok();
        if !excs.is_empty() {
            writeln!(o, "    }}").ok();
            for e in &excs {
                let Ty::Struct(id) = e.ty else { continue };
                let sn = snake(&self.strct(id)?.name);
                let exc = e.exception.clone().unwrap_or_default();
                writeln!(o, "    catch (const {} & e) {{\n        g_declared_{sn} = declared_to_ffi_{sn}(e);\n        throw ::mphub::cxx::detail::DeclaredThrown(\"{exc}\");\n    }}", cpp_qualified(&exc)).ok();
            }
            // Text exceptions: named types first, `std::exception` (any) last.
            let mut texts: Vec<&(String, String)> = self
                .declared_text
                .iter()
                .filter(|(t, _)| {
                    excs.iter()
                        .any(|e| e.ty == Ty::Text && e.exception.as_deref() == Some(t.as_str()))
                })
                .collect();
            texts.sort_by_key(|(t, _)| t.trim_start_matches("::") == "std::exception");
            for (ty, cpp) in texts {
                let caught = if ty.trim_start_matches("::") == "std::exception" {
                    "std::exception".to_string()
                } else {
                    cpp_qualified(cpp)
                };
                writeln!(o, "    catch (const {caught}& e) {{\n        g_declared_text = std::string(e.what());\n        throw ::mphub::cxx::detail::DeclaredThrown(\"{ty}\");\n    }}").ok();
            }
        }
        writeln!(o, "}}").ok();
        Ok(())
    }

    /// A `RemoteX` method: converts, calls the Rust client, converts back.
    fn cpp_remote_method(
        &self,
        i: &Interface,
        m: &Method,
        cpp_name: &str,
        qualifier: &str,
        o: &mut String,
    ) -> Result<(), BuildError> {
        let f = &self.f;
        let n = &i.name;
        let pre = snake(n);
        let (cpp_ret, args) = self.cpp_sig(m)?;
        let wants = Self::want_params(m);
        let mut body = String::new();
        let mut ffi_args = vec!["*m_client".to_string()];
        let needs_scope = visible_params(m).iter().any(|p| match &p.ty {
            Ty::Interface(id) => self
                .iface(*id)
                .map(|t| !Self::is_callback(t))
                .unwrap_or(false),
            _ => false,
        });
        if needs_scope {
            writeln!(body, "        ::mphub::cxx::detail::BorrowScope scope;").ok();
        }
        for prm in visible_params(m) {
            let x = cpp_ident(&prm.name);
            if let Some(out) = wants.get(&prm.name) {
                ffi_args.push(format!("{} != nullptr", cpp_ident(out)));
                continue;
            }
            match &prm.ty {
                Ty::Interface(id) => {
                    let t = self.iface(*id)?;
                    if Self::is_callback(t) {
                        ffi_args.push(format!(
                            "{f}::{}_cap_from_function(std::move({x}))",
                            snake(&t.name)
                        ));
                    } else {
                        ffi_args.push(format!("{f}::{}_cap_from_ref({x}, scope)", snake(&t.name)));
                    }
                }
                ty if prm.has_flag.is_some() => {
                    let empty = match ty {
                        Ty::Text | Ty::Data => "::rust::Slice<const std::uint8_t>()".to_string(),
                        _ => format!("{}{{}}", self.cpp_ffi_ty(ty)?),
                    };
                    ffi_args.push(format!(
                        "{x} ? {} : {empty}",
                        self.cpp_to_ffi_arg(ty, &format!("(*{x})"))?
                    ));
                    ffi_args.push(format!("{x}.has_value()"));
                }
                ty => ffi_args.push(self.cpp_to_ffi_arg(ty, &x)?),
            }
        }
        let call = format!("{f}::{pre}_call_{}({})", m.snake, ffi_args.join(", "));
        match self.ret(i, m)? {
            Ret::Unit => {
                writeln!(body, "        {call};").ok();
            }
            Ret::Single(r) => match &r.ty {
                Ty::Interface(id) => {
                    let t = self.iface(*id)?;
                    writeln!(body, "        auto r = {call};\n        if ({f}::{}_is_null(*r)) return nullptr;\n        return std::make_unique<{}>(std::move(r));", snake(&t.name), self.remote(t)).ok();
                }
                ty => {
                    writeln!(
                        body,
                        "        auto r = {call};\n        return {};",
                        self.cpp_from_ffi(ty, "r")?
                    )
                    .ok();
                }
            },
            Ret::Struct { .. } => {
                writeln!(body, "        auto r = {call};").ok();
                let mut ret_expr = None;
                for r in outputs(m) {
                    let x = Self::cpp_out_name(m, r);
                    let val = self.cpp_from_ffi(&r.ty, &format!("r.{}", r.snake))?;
                    let opt = |val: &str| -> Result<String, BuildError> {
                        Ok(format!(
                            "r.has_{} ? std::optional<{}>({val}) : std::optional<{}>()",
                            r.snake,
                            self.cpp_ty(&r.ty)?,
                            self.cpp_ty(&r.ty)?
                        ))
                    };
                    if r.name == "result" {
                        ret_expr = Some(if r.has_flag.is_some() {
                            opt(&val)?
                        } else {
                            val
                        });
                    } else if r.wanted {
                        writeln!(body, "        if ({x} && r.has_{}) *{x} = {val};", r.snake).ok();
                    } else if r.has_flag.is_some() {
                        writeln!(body, "        {x} = {};", opt(&val)?).ok();
                    } else {
                        writeln!(body, "        {x} = {val};").ok();
                    }
                }
                if let Some(e) = ret_expr {
                    writeln!(body, "        return {e};").ok();
                }
            }
        }
        writeln!(
            o,
            "{cpp_ret} Remote{n}::{cpp_name}({}){qualifier}\n{{\n    try {{\n{body}    }} catch (const ::rust::Error& e) {{\n        {f}::rethrow(e);\n    }}\n}}",
            Self::join_args(&args)
        )
        .ok();
        Ok(())
    }
}
