//! Writes the Rust source for a [`Model`].

use std::fmt::Write as _;
use std::path::Path;

use crate::model::{
    camel, exceptions, outputs, snake, visible_params, Field, Interface, Method, Model,
    StructModel, Ty,
};
use crate::BuildError;

/// Which side of a call a type appears on (interfaces map differently).
#[derive(Clone, Copy, PartialEq)]
enum Side {
    /// An argument the client sends.
    ClientArg,
    /// A value the client receives.
    ClientOut,
    /// An argument the server implementation receives.
    ServerArg,
    /// A value the server implementation returns.
    ServerOut,
    /// A struct member.
    Member,
}

struct Emitter<'a> {
    model: &'a Model,
    out: String,
}

impl<'a> Emitter<'a> {
    fn ty(&self, ty: &Ty, side: Side) -> Result<String, BuildError> {
        Ok(match ty {
            Ty::Void => "()".into(),
            Ty::Bool => "bool".into(),
            Ty::Int(t) | Ty::Float(t) => (*t).into(),
            Ty::Text => "::mphub::Text".into(),
            Ty::Data => "::std::vec::Vec<u8>".into(),
            Ty::List(inner) => {
                if matches!(**inner, Ty::Interface(_) | Ty::List(_)) {
                    return Err(BuildError::Unsupported(
                        "lists of interfaces or of lists".into(),
                    ));
                }
                format!("::std::vec::Vec<{}>", self.ty(inner, side)?)
            }
            Ty::Struct(id) => self.model.struct_names.get(id).cloned().ok_or_else(|| {
                BuildError::Unsupported(format!("struct {id:#x} from a file not in this set"))
            })?,
            Ty::Interface(id) => {
                let (name, _) = self.model.interface_paths.get(id).ok_or_else(|| {
                    BuildError::Unsupported(format!(
                        "interface {id:#x} has no $Proxy.wrap or is outside this set"
                    ))
                })?;
                match side {
                    Side::ClientArg | Side::ServerOut => format!("::mphub::Cap<{name}Client>"),
                    Side::ClientOut | Side::ServerArg => {
                        format!("::std::option::Option<{name}Client>")
                    }
                    Side::Member => {
                        return Err(BuildError::Unsupported("interfaces inside structs".into()))
                    }
                }
            }
            Ty::Context | Ty::ThreadMap => "()".into(),
            Ty::Unsupported(what) => return Err(BuildError::Unsupported(what.clone())),
        })
    }

    /// Type of a field including optionality (`hasX`, `wantX`).
    fn field_ty(&self, f: &Field, side: Side) -> Result<String, BuildError> {
        let base = self.ty(&f.ty, side)?;
        let optional =
            f.has_flag.is_some() || (f.wanted && matches!(side, Side::ClientOut | Side::ServerOut));
        Ok(if optional && !matches!(f.ty, Ty::Interface(_)) {
            format!("::std::option::Option<{base}>")
        } else {
            base
        })
    }

    /// Expression turning a reader value `raw` (already unwrapped) into an owned value.
    fn read_value(&self, ty: &Ty, raw: &str, conn: &str) -> Result<String, BuildError> {
        Ok(match ty {
            Ty::Void | Ty::Bool | Ty::Int(_) | Ty::Float(_) => raw.to_string(),
            Ty::Text => format!("::mphub::Text::from_bytes({raw}.as_bytes())"),
            Ty::Data => format!("{raw}.to_vec()"),
            Ty::Struct(_) => format!("{}::mphub_read({raw})?", self.ty(ty, Side::Member)?),
            Ty::List(inner) => {
                let elem = match **inner {
                    Ty::Text | Ty::Data => "e?",
                    _ => "e",
                };
                format!(
                    "{{ let l = {raw}; let mut v = ::std::vec::Vec::with_capacity(l.len() as usize); for e in l.iter() {{ v.push({}); }} v }}",
                    self.read_value(inner, elem, conn)?
                )
            }
            Ty::Interface(id) => {
                let (name, _) = &self.model.interface_paths[id];
                format!("{conn}.import::<{name}Client>({raw}.client)?")
            }
            _ => return Err(BuildError::Unsupported(format!("reading {ty:?}"))),
        })
    }

    /// Expression reading field `f` from reader `r`.
    fn read_field(
        &self,
        f: &Field,
        r: &str,
        conn: &str,
        want_binding: Option<&str>,
    ) -> Result<String, BuildError> {
        let getter = format!(
            "{r}.get_{}(){}",
            f.snake,
            if f.ty.is_pointer() { "?" } else { "" }
        );
        let value = self.read_value(&f.ty, &getter, conn)?;
        Ok(if let Ty::Interface(_) = f.ty {
            format!(
                "if {r}.has_{}() {{ Some({value}) }} else {{ None }}",
                f.snake
            )
        } else if let Some(flag) = &f.has_flag {
            format!(
                "if {r}.get_{}() {{ Some({value}) }} else {{ None }}",
                snake(flag)
            )
        } else if let Some(want) = want_binding {
            format!("if {want} {{ Some({value}) }} else {{ None }}")
        } else {
            value
        })
    }

    /// Statements writing the value referenced by `v` (a `&T`) into field `f` of builder `b`.
    fn write_value(
        &self,
        ty: &Ty,
        v: &str,
        b: &str,
        field_snake: &str,
        conn: &str,
    ) -> Result<String, BuildError> {
        Ok(match ty {
            Ty::Void => String::new(),
            Ty::Bool | Ty::Int(_) | Ty::Float(_) => format!("{b}.set_{field_snake}(*{v});"),
            Ty::Text => format!("{b}.set_{field_snake}(::mphub::rt::text_reader({v}));"),
            Ty::Data => format!("{b}.set_{field_snake}(&{v}[..]);"),
            Ty::Struct(_) => format!("{v}.mphub_write({b}.reborrow().init_{field_snake}())?;"),
            Ty::List(inner) => {
                let elem = match **inner {
                    Ty::Bool | Ty::Int(_) | Ty::Float(_) => "l.set(i as u32, *e);".to_string(),
                    Ty::Text => "l.set(i as u32, ::mphub::rt::text_reader(e));".to_string(),
                    Ty::Data => "l.set(i as u32, &e[..]);".to_string(),
                    Ty::Struct(_) => "e.mphub_write(l.reborrow().get(i as u32))?;".to_string(),
                    _ => return Err(BuildError::Unsupported(format!("list of {inner:?}"))),
                };
                format!(
                    "{{ let mut l = {b}.reborrow().init_{field_snake}(::mphub::rt::list_len({v}.len())?); for (i, e) in {v}.iter().enumerate() {{ {elem} }} }}"
                )
            }
            Ty::Interface(_) => format!(
                "if let Some(c) = {v}.to_client(&{conn})? {{ {b}.set_{field_snake}(::mphub::rt::capnp::capability::FromClientHook::new(c.hook)); }}"
            ),
            _ => return Err(BuildError::Unsupported(format!("writing {ty:?}"))),
        })
    }

    /// Statements writing field `f` from `v: &FieldType` (optional handled).
    fn write_field(
        &self,
        f: &Field,
        v: &str,
        b: &str,
        conn: &str,
        server_out: bool,
    ) -> Result<String, BuildError> {
        let inner = self.write_value(&f.ty, "v", b, &f.snake, conn)?;
        Ok(if matches!(f.ty, Ty::Interface(_)) {
            format!("{{ let v = {v}; {inner} }}")
        } else if let Some(flag) = &f.has_flag {
            format!(
                "match {v} {{ Some(v) => {{ {inner} {b}.set_{}(true); }} None => {{ {b}.set_{}(false); }} }}",
                snake(flag),
                snake(flag)
            )
        } else if f.wanted && server_out {
            format!("if let Some(v) = {v} {{ {inner} }}")
        } else {
            format!("{{ let v = {v}; {inner} }}")
        })
    }

    fn emit_struct(&mut self, s: &StructModel) -> Result<(), BuildError> {
        let fields: Vec<&Field> = s.fields.iter().filter(|f| !f.skip && !f.is_flag).collect();
        let mut o = String::new();
        let wrap = s
            .wrap
            .as_ref()
            .map(|w| format!(" (C++ `{w}`)"))
            .unwrap_or_default();
        writeln!(o, "/// Struct `{}`{wrap}.", s.capnp_path).ok();
        writeln!(
            o,
            "#[derive(Clone, Debug, PartialEq)]\npub struct {} {{",
            s.name
        )
        .ok();
        for f in &fields {
            writeln!(o, "    /// Field `{}`.", f.name).ok();
            writeln!(
                o,
                "    pub {}: {},",
                f.snake,
                self.field_ty(f, Side::Member)?
            )
            .ok();
        }
        writeln!(o, "}}\n").ok();
        writeln!(
            o,
            "impl ::std::default::Default for {} {{\n    fn default() -> Self {{\n        {} {{",
            s.name, s.name
        )
        .ok();
        for f in &fields {
            let value = match (&f.default, &f.has_flag) {
                (Some(d), None) => d.clone(),
                _ => "::std::default::Default::default()".into(),
            };
            writeln!(o, "            {}: {value},", f.snake).ok();
        }
        writeln!(o, "        }}\n    }}\n}}\n").ok();
        writeln!(o, "impl {} {{", s.name).ok();
        writeln!(o, "    #[doc(hidden)]\n    pub fn mphub_read(r: {}::Reader<'_>) -> ::mphub::Result<Self> {{", s.capnp_path).ok();
        writeln!(o, "        Ok({} {{", s.name).ok();
        for f in &fields {
            writeln!(
                o,
                "            {}: {},",
                f.snake,
                self.read_field(f, "r", "conn", None)?
            )
            .ok();
        }
        writeln!(o, "        }})\n    }}").ok();
        writeln!(o, "    #[doc(hidden)]\n    #[allow(unused_mut)]\n    pub fn mphub_write(&self, mut b: {}::Builder<'_>) -> ::mphub::Result<()> {{", s.capnp_path).ok();
        for f in &fields {
            writeln!(
                o,
                "        {}",
                self.write_field(f, &format!("&self.{}", f.snake), "b", "conn", true)?
            )
            .ok();
        }
        writeln!(o, "        Ok(())\n    }}\n}}\n").ok();
        self.out.push_str(&o);
        Ok(())
    }

    /// The return type of a method for one side, and the output struct name if any.
    fn ret(
        &self,
        iface: &Interface,
        m: &Method,
        side: Side,
    ) -> Result<(String, Option<String>), BuildError> {
        let outs = outputs(m);
        match outs.as_slice() {
            [] => Ok(("()".into(), None)),
            [one] if one.name == "result" => Ok((self.field_ty(one, side)?, None)),
            many => {
                if many.iter().any(|f| matches!(f.ty, Ty::Interface(_))) {
                    return Err(BuildError::Unsupported(format!(
                        "{}.{}: several outputs including an interface",
                        iface.name, m.name
                    )));
                }
                let name = format!("{}{}Output", iface.name, camel(&m.name));
                Ok((name.clone(), Some(name)))
            }
        }
    }

    /// `{Iface}Forwarder`: a server implementation that forwards each call to a client
    /// proxy. `None` when some method's client and server types do not line up (then a
    /// proxy passed back to its own peer is sent as is).
    fn forwarder(&self, iface: &Interface) -> Result<Option<String>, BuildError> {
        let name = &iface.name;
        let mut body = String::new();
        for m in &iface.methods {
            if m.name == "construct" || m.name == "destroy" {
                continue;
            }
            let (sret, _) = self.ret(iface, m, Side::ServerOut)?;
            let (cret, _) = self.ret(iface, m, Side::ClientOut)?;
            let convert = if sret == cret {
                ""
            } else if sret
                == format!(
                    "::mphub::Cap<{}>",
                    cret.trim_start_matches("::std::option::Option<")
                        .trim_end_matches('>')
                )
            {
                ".map(::mphub::Cap::from)"
            } else {
                return Ok(None);
            };
            let mut sig = String::new();
            let mut args = String::new();
            for p in visible_params(m) {
                let st = self.field_ty(p, Side::ServerArg)?;
                let ct = self.field_ty(p, Side::ClientArg)?;
                let into = matches!(p.ty, Ty::Text | Ty::Interface(_)) && p.has_flag.is_none();
                if st != ct && !into {
                    return Ok(None);
                }
                write!(sig, ", {}: {st}", p.snake).ok();
                write!(args, "{}, ", p.snake).ok();
            }
            writeln!(body, "    #[allow(clippy::too_many_arguments)]\n    async fn {0}(&self, _cx: &::mphub::CallContext{sig}) -> ::mphub::Result<{sret}> {{\n        self.0.{0}({args}).await{convert}\n    }}", m.rust_name).ok();
        }
        let mut o = String::new();
        writeln!(o, "/// Forwards every call to the wrapped [`{name}Client`] (see [`::mphub::ProxyClient::forwarder`]).\n#[doc(hidden)]\npub struct {name}Forwarder(pub {name}Client);\n").ok();
        writeln!(o, "impl {name}Server for {name}Forwarder {{\n{body}}}\n").ok();
        Ok(Some(o))
    }

    fn emit_output_struct(&mut self, iface: &Interface, m: &Method) -> Result<(), BuildError> {
        let (_, Some(name)) = self.ret(iface, m, Side::ClientOut)? else {
            return Ok(());
        };
        let mut o = String::new();
        writeln!(o, "/// Outputs of `{}.{}`.", iface.name, m.name).ok();
        writeln!(
            o,
            "#[derive(Clone, Debug, Default, PartialEq)]\npub struct {name} {{"
        )
        .ok();
        for f in outputs(m) {
            writeln!(o, "    /// Result field `{}`.", f.name).ok();
            writeln!(
                o,
                "    pub {}: {},",
                f.snake,
                self.field_ty(f, Side::ClientOut)?
            )
            .ok();
        }
        writeln!(o, "}}\n").ok();
        self.out.push_str(&o);
        Ok(())
    }

    fn emit_interface(&mut self, iface: &Interface) -> Result<(), BuildError> {
        for m in &iface.methods {
            if m.name != "construct" && m.name != "destroy" {
                self.emit_output_struct(iface, m)?;
            }
        }
        let name = &iface.name;
        let path = &iface.capnp_path;
        let has_destroy = iface.methods.iter().any(|m| m.name == "destroy");
        let has_construct = iface.methods.iter().any(|m| m.name == "construct");
        let fn_prefix = snake(name);
        let mut o = String::new();

        // ---- client ----
        writeln!(
            o,
            "/// Client for interface `{name}` (C++ `{}`): a `Send + Sync + Clone` proxy usable",
            iface.wrap
        )
        .ok();
        writeln!(o, "/// from any thread or task. Dropping the last clone calls `destroy` (if declared) and releases it.").ok();
        writeln!(
            o,
            "#[derive(Clone, Debug)]\npub struct {name}Client(::mphub::ProxyHandle);\n"
        )
        .ok();
        writeln!(o, "impl ::mphub::ProxyClient for {name}Client {{").ok();
        writeln!(o, "    const INTERFACE: &'static str = \"{name}\";").ok();
        if self.forwarder(iface)?.is_some() {
            writeln!(o, "    fn forwarder(&self) -> ::std::option::Option<::mphub::Cap<Self>> {{ Some({name}Forwarder(self.clone()).into_cap()) }}").ok();
        }
        writeln!(
            o,
            "    fn from_handle(handle: ::mphub::ProxyHandle) -> Self {{ Self(handle) }}"
        )
        .ok();
        writeln!(
            o,
            "    fn handle(&self) -> &::mphub::ProxyHandle {{ &self.0 }}"
        )
        .ok();
        if has_destroy {
            writeln!(o, "    fn destroy_fn() -> ::std::option::Option<::mphub::rt::DestroyFn> {{ Some({fn_prefix}_destroy) }}").ok();
        }
        if has_construct {
            writeln!(o, "    fn construct_fn() -> ::std::option::Option<::mphub::rt::ConstructFn> {{ Some({fn_prefix}_construct) }}").ok();
        }
        writeln!(o, "}}\n").ok();
        if has_destroy {
            let ctx = iface
                .methods
                .iter()
                .find(|m| m.name == "destroy")
                .is_some_and(|m| m.has_context());
            writeln!(o, "fn {fn_prefix}_destroy(c: ::mphub::rt::capnp::capability::Client, setup: ::mphub::rt::CallSetup) -> ::mphub::rt::LocalFuture<::mphub::Result<()>> {{").ok();
            writeln!(o, "    Box::pin(async move {{\n        let client: {path}::Client = ::mphub::rt::capnp::capability::FromClientHook::new(c.hook);").ok();
            writeln!(o, "        let setup = setup.named(\"{name}.destroy\");").ok();
            writeln!(
                o,
                "        #[allow(unused_mut)]\n        let mut req = client.destroy_request();"
            )
            .ok();
            if ctx {
                writeln!(o, "        setup.fill(req.get().init_context());").ok();
            }
            writeln!(
                o,
                "        setup.send(req).await?;\n        Ok(())\n    }})\n}}\n"
            )
            .ok();
        }
        if has_construct {
            writeln!(o, "fn {fn_prefix}_construct(c: ::mphub::rt::capnp::capability::Client, ours: ::mphub::proxy_capnp::thread_map::Client) -> ::mphub::rt::LocalFuture<::mphub::Result<::std::option::Option<::mphub::proxy_capnp::thread_map::Client>>> {{").ok();
            writeln!(o, "    Box::pin(async move {{\n        let client: {path}::Client = ::mphub::rt::capnp::capability::FromClientHook::new(c.hook);").ok();
            writeln!(o, "        let mut req = client.construct_request();\n        req.get().set_thread_map(ours);").ok();
            writeln!(
                o,
                "        let resp = req.send().promise.await?;\n        let r = resp.get()?;"
            )
            .ok();
            writeln!(o, "        Ok(if r.has_thread_map() {{ Some(r.get_thread_map()?) }} else {{ None }})\n    }})\n}}\n").ok();
        }

        // job functions + client methods
        let mut methods = String::new();
        for m in &iface.methods {
            if m.name == "construct" || m.name == "destroy" {
                continue;
            }
            let params = visible_params(m);
            let (ret, out_struct) = self.ret(iface, m, Side::ClientOut)?;
            let job = format!("{fn_prefix}_{}_job", m.snake);
            let mut sig = String::new();
            for p in &params {
                write!(
                    sig,
                    "p_{}: {}, ",
                    p.snake,
                    self.field_ty(p, Side::ClientArg)?
                )
                .ok();
            }
            writeln!(o, "#[allow(clippy::too_many_arguments, unused_variables)]").ok();
            writeln!(
                o,
                "fn {job}({sig}) -> impl ::mphub::rt::CallJob<{path}::Client, {ret}> {{"
            )
            .ok();
            writeln!(o, "    move |client: {path}::Client, setup: ::mphub::rt::CallSetup| -> ::mphub::rt::LocalFuture<::mphub::Result<{ret}>> {{").ok();
            writeln!(o, "        Box::pin(async move {{").ok();
            writeln!(o, "            let conn = setup.conn();").ok();
            writeln!(o, "            let mut req = client.{}_request();", m.snake).ok();
            writeln!(o, "            {{\n                #[allow(unused_mut)]\n                let mut b = req.get();").ok();
            if let Some(ctx) = m.params.iter().find(|f| f.ty == Ty::Context) {
                writeln!(
                    o,
                    "                setup.fill(b.reborrow().init_{}());",
                    ctx.snake
                )
                .ok();
            }
            for p in &params {
                writeln!(
                    o,
                    "                {}",
                    self.write_field(p, &format!("&p_{}", p.snake), "b", "conn", false)?
                )
                .ok();
            }
            writeln!(o, "            }}").ok();
            writeln!(
                o,
                "            let resp = setup.send(req).await?;\n            let r = resp.get()?;"
            )
            .ok();
            for e in exceptions(m) {
                let value = self.read_value(
                    &e.ty,
                    &format!(
                        "r.get_{}(){}",
                        e.snake,
                        if e.ty.is_pointer() { "?" } else { "" }
                    ),
                    "conn",
                )?;
                let cond = match &e.ty {
                    Ty::Bool | Ty::Int(_) | Ty::Float(_) => e
                        .has_flag
                        .as_ref()
                        .map(|f| format!("r.get_{}()", snake(f)))
                        .unwrap_or_else(|| "false".into()),
                    _ => format!("r.has_{}()", e.snake),
                };
                writeln!(o, "            if {cond} {{ return Err(::mphub::Error::declared({:?}, {value})); }}", e.exception.as_deref().unwrap_or("")).ok();
            }
            let want = |f: &Field| -> Option<String> {
                if f.wanted {
                    Some(format!("p_want{}", {
                        let s = snake(&camel(&f.name));
                        format!("_{s}")
                    }))
                } else {
                    None
                }
            };
            match out_struct {
                None => match outputs(m).first() {
                    Some(f) => {
                        let w = want(f);
                        writeln!(
                            o,
                            "            Ok({})",
                            self.read_field(f, "r", "conn", w.as_deref())?
                        )
                        .ok();
                    }
                    None => {
                        writeln!(o, "            Ok(())").ok();
                    }
                },
                Some(s) => {
                    writeln!(o, "            Ok({s} {{").ok();
                    for f in outputs(m) {
                        let w = want(f);
                        writeln!(
                            o,
                            "                {}: {},",
                            f.snake,
                            self.read_field(f, "r", "conn", w.as_deref())?
                        )
                        .ok();
                    }
                    writeln!(o, "            }})").ok();
                }
            }
            writeln!(o, "        }})\n    }}\n}}\n").ok();

            // public methods
            let mut psig = String::new();
            let mut conv = String::new();
            let mut args = String::new();
            for p in &params {
                let t = self.field_ty(p, Side::ClientArg)?;
                let into = matches!(p.ty, Ty::Text | Ty::Interface(_)) && p.has_flag.is_none();
                if into {
                    write!(psig, ", {}: impl ::std::convert::Into<{t}>", p.snake).ok();
                    write!(conv, "let {0} = {0}.into(); ", p.snake).ok();
                } else {
                    write!(psig, ", {}: {t}", p.snake).ok();
                }
                write!(args, "{}, ", p.snake).ok();
            }
            let ctx = m.has_context();
            let label = format!("{}.{}", name, m.name);
            let doc = format!(
                "`{}.{}` (@{}){}",
                name,
                m.name,
                m.ordinal,
                if ctx {
                    ""
                } else {
                    ", no context: runs on the server's event loop"
                }
            );
            writeln!(
                methods,
                "    /// Calls {doc}.\n    #[allow(clippy::too_many_arguments)]"
            )
            .ok();
            writeln!(methods, "    pub async fn {}(&self{psig}) -> ::mphub::Result<{ret}> {{\n        {conv}self.0.call({label:?}, {ctx}, {job}({args})).await\n    }}", m.rust_name).ok();
            writeln!(methods, "    /// Blocking form of [`Self::{}`]; each OS thread gets its own remote thread.\n    #[allow(clippy::too_many_arguments)]", m.rust_name).ok();
            writeln!(methods, "    pub fn {}_blocking(&self{psig}) -> ::mphub::Result<{ret}> {{\n        {conv}self.0.call_blocking({label:?}, {ctx}, {job}({args}))\n    }}", m.rust_name).ok();
        }
        writeln!(o, "impl {name}Client {{").ok();
        writeln!(o, "    /// A new explicit remote thread on this client's connection.\n    pub fn new_strand(&self, name: &str) -> ::mphub::Strand {{ self.0.new_strand(name) }}").ok();
        writeln!(o, "    /// This client with its calls bound to `strand` (one server thread, in order).\n    pub fn on_strand(&self, strand: &::mphub::Strand) -> ::mphub::Result<Self> {{ Ok(Self(self.0.on(strand)?)) }}").ok();
        writeln!(
            o,
            "    /// Hosts a local implementation, to pass as an argument or return from a server."
        )
        .ok();
        writeln!(o, "    pub fn local<T: {name}Server>(imp: ::std::sync::Arc<T>) -> ::mphub::Cap<{name}Client> {{").ok();
        writeln!(
            o,
            "        ::mphub::Cap::from_host_fn(move |conn: &::mphub::rt::ConnRef| {{"
        )
        .ok();
        writeln!(o, "            let adapter = {name}Adapter {{ imp: ::mphub::rt::Hosted::new(imp.clone(), {name:?}), conn: conn.clone() }};").ok();
        writeln!(o, "            let client: {path}::Client = ::mphub::rt::capnp_rpc::new_client(adapter);\n            client.client\n        }})\n    }}").ok();
        o.push_str(&methods);
        writeln!(o, "}}\n").ok();

        // ---- server trait ----
        writeln!(
            o,
            "/// Implement this to serve interface `{name}` (C++ `{}`). Methods run on the",
            iface.wrap
        )
        .ok();
        writeln!(
            o,
            "/// runtime's event loop, one call at a time per remote thread; do not block in them"
        )
        .ok();
        writeln!(o, "/// (use [`::mphub::CallContext::spawn_blocking`]). Unimplemented methods fail with `Unimplemented`.").ok();
        writeln!(o, "pub trait {name}Server: Send + Sync + 'static {{").ok();
        for m in &iface.methods {
            if m.name == "construct" || m.name == "destroy" {
                continue;
            }
            let (sret, _) = self.ret(iface, m, Side::ServerOut)?;
            let mut sig = String::new();
            let mut names = String::from("cx, ");
            for p in visible_params(m) {
                write!(sig, ", {}: {}", p.snake, self.field_ty(p, Side::ServerArg)?).ok();
                write!(names, "{}, ", p.snake).ok();
            }
            writeln!(
                o,
                "    /// Serves `{}.{}` (@{}).\n    #[allow(clippy::too_many_arguments)]",
                name, m.name, m.ordinal
            )
            .ok();
            writeln!(o, "    fn {}(&self, cx: &::mphub::CallContext{sig}) -> impl ::std::future::Future<Output = ::mphub::Result<{sret}>> {{", m.rust_name).ok();
            writeln!(o, "        let _ = ({names});\n        async {{ Err(::mphub::Error::Unimplemented({:?}.into())) }}\n    }}", format!("{}.{}", name, m.name)).ok();
        }
        writeln!(
            o,
            "    /// Hosts this implementation as a capability value."
        )
        .ok();
        writeln!(o, "    fn into_cap(self) -> ::mphub::Cap<{name}Client> where Self: Sized {{ {name}Client::local(::std::sync::Arc::new(self)) }}").ok();
        writeln!(o, "}}\n").ok();

        // ---- forwarder: what is sent when a proxy goes back to the peer hosting it ----
        if let Some(fwd) = self.forwarder(iface)? {
            o.push_str(&fwd);
        }

        // ---- adapter ----
        writeln!(o, "#[doc(hidden)]\npub struct {name}Adapter<T: {name}Server> {{\n    imp: ::mphub::rt::Hosted<T>,\n    conn: ::mphub::rt::ConnRef,\n}}\n").ok();
        writeln!(o, "#[allow(unused_mut, unused_variables)]\nimpl<T: {name}Server> {path}::Server for {name}Adapter<T> {{").ok();
        for m in &iface.methods {
            let cm = camel(&m.name);
            writeln!(o, "    fn {}(self: ::std::rc::Rc<Self>, params: {path}::{cm}Params, mut results: {path}::{cm}Results) -> impl ::std::future::Future<Output = ::std::result::Result<(), ::mphub::rt::capnp::Error>> + 'static {{", m.snake).ok();
            writeln!(o, "        async move {{\n            #[allow(unused_mut, unused_variables)]\n            let out: ::mphub::Result<()> = async {{").ok();
            writeln!(o, "                let p = params.get()?;").ok();
            writeln!(
                o,
                "                ::mphub::rt::trace_data(\"request data\", &p);"
            )
            .ok();
            if m.name == "construct" {
                writeln!(o, "                let peer = if p.has_thread_map() {{ Some(p.get_thread_map()?) }} else {{ None }};").ok();
                writeln!(o, "                results.get().set_thread_map(::mphub::rt::serve_construct(&self.conn, peer));\n                Ok(())").ok();
                writeln!(o, "            }}.await;\n            out.map_err(::mphub::rt::server_error)\n        }}\n    }}").ok();
                continue;
            }
            let ctx_expr = match m.params.iter().find(|f| f.ty == Ty::Context) {
                Some(c) => format!("Some(::mphub::rt::ContextCaps::read(if p.has_{0}() {{ Some(p.get_{0}()?) }} else {{ None }})?)", c.snake),
                None => "None".into(),
            };
            writeln!(o, "                let ctx = {ctx_expr};").ok();
            if m.name == "destroy" {
                writeln!(o, "                let this = self.clone();").ok();
                writeln!(o, "                ::mphub::rt::dispatch(&self.conn, \"{name}.destroy\", ctx, move |_cx| async move {{ this.imp.destroy(); Ok(()) }}).await").ok();
                writeln!(o, "            }}.await;\n            out.map_err(::mphub::rt::server_error)\n        }}\n    }}").ok();
                continue;
            }
            let mut args = String::new();
            for p in visible_params(m) {
                writeln!(
                    o,
                    "                let p_{} = {};",
                    p.snake,
                    self.read_field(p, "p", "self.conn", None)?
                )
                .ok();
                write!(args, ", p_{}", p.snake).ok();
            }
            writeln!(o, "                let imp = self.imp.get()?;").ok();
            writeln!(o, "                let value = ::mphub::rt::dispatch(&self.conn, \"{name}.{}\", ctx, move |cx| async move {{ imp.{}(&cx{args}).await }}).await;", m.name, m.rust_name).ok();
            writeln!(
                o,
                "                let value = match value {{\n                    Ok(v) => v,"
            )
            .ok();
            for e in exceptions(m) {
                let t = self.ty(&e.ty, Side::Member)?;
                let write = self.write_value(&e.ty, "v", "b", &e.snake, "self.conn")?;
                writeln!(o, "                    Err(::mphub::Error::Declared(d)) if d.downcast_ref::<{t}>().is_some() => {{").ok();
                writeln!(o, "                        if let Some(v) = d.downcast_ref::<{t}>() {{ let mut b = results.get(); {write} }}\n                        return Ok(());\n                    }}").ok();
            }
            writeln!(
                o,
                "                    Err(e) => return Err(e),\n                }};"
            )
            .ok();
            let (_, out_struct) = self.ret(iface, m, Side::ServerOut)?;
            let outs = outputs(m);
            if !outs.is_empty() {
                writeln!(o, "                let mut b = results.get();").ok();
            }
            match out_struct {
                None => {
                    if let Some(f) = outs.first() {
                        writeln!(
                            o,
                            "                {}",
                            self.write_field(f, "&value", "b", "self.conn", true)?
                        )
                        .ok();
                    }
                }
                Some(_) => {
                    for f in &outs {
                        writeln!(
                            o,
                            "                {}",
                            self.write_field(
                                f,
                                &format!("&value.{}", f.snake),
                                "b",
                                "self.conn",
                                true
                            )?
                        )
                        .ok();
                    }
                }
            }
            writeln!(o, "                let _ = &value;\n                ::mphub::rt::trace_data(\"response data\", &results.get().into_reader());\n                Ok(())").ok();
            writeln!(o, "            }}.await;\n            out.map_err(::mphub::rt::server_error)\n        }}\n    }}").ok();
        }
        writeln!(o, "}}\n").ok();
        self.out.push_str(&o);
        Ok(())
    }
}

/// Emits the whole generated module.
pub fn emit(model: &Model, capnp_out: &Path) -> Result<String, BuildError> {
    let mut e = Emitter {
        model,
        out: String::new(),
    };
    e.out
        .push_str("// @generated by mphub-build. Do not edit.\n");
    for (module, file) in &model.files {
        let path = capnp_out.join(format!("{module}.rs"));
        writeln!(
            e.out,
            "/// Cap'n Proto code for `{file}` (capnpc).\n#[allow(missing_docs, clippy::all, clippy::pedantic, unused)]\npub mod {module} {{ include!({:?}); }}\n",
            path.display().to_string()
        )
        .ok();
    }
    for s in &model.structs {
        e.emit_struct(s)?;
    }
    for i in &model.interfaces {
        e.emit_interface(i)?;
    }
    Ok(e.out)
}
