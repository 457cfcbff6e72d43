//! Example: a stack calculator served and used over mphub, from this crate's own
//! schema (`schema/calc.capnp`). `build.rs` generates the bindings; the server below
//! implements the generated traits; `src/bin/` has a server and a client program.

/// Bindings generated from `schema/calc.capnp`.
pub mod calc {
    include!(concat!(env!("OUT_DIR"), "/calc/mphub_gen.rs"));
}

use std::sync::Mutex;

use calc::{CalcInitServer, CalculatorClient, CalculatorServer, Op, WatcherClient};
use mphub::{CallContext, Cap, Error, Result, Text};

/// The bootstrap object: hands out calculators.
pub struct Init;

impl CalcInitServer for Init {
    async fn make_calculator(
        &self,
        _cx: &CallContext,
        name: Text,
    ) -> Result<Cap<CalculatorClient>> {
        Ok(Calculator {
            name,
            stack: Mutex::new(Vec::new()),
            watchers: Mutex::new(Vec::new()),
        }
        .into_cap())
    }
}

/// One calculator: a stack of numbers and the watchers to tell about changes.
pub struct Calculator {
    /// The name it was made with (for logs).
    pub name: Text,
    stack: Mutex<Vec<f64>>,
    watchers: Mutex<Vec<WatcherClient>>,
}

impl Calculator {
    fn stack(&self) -> std::sync::MutexGuard<'_, Vec<f64>> {
        self.stack.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells every watcher the new depth and top of the stack.
    async fn notify(&self) -> Result<()> {
        let (depth, top) = {
            let s = self.stack();
            (s.len() as u32, s.last().copied())
        };
        let watchers = self
            .watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for w in watchers {
            w.changed(depth, top).await?;
        }
        Ok(())
    }
}

impl CalculatorServer for Calculator {
    async fn push(&self, _cx: &CallContext, value: f64) -> Result<()> {
        self.stack().push(value);
        self.notify().await
    }

    async fn apply(&self, _cx: &CallContext, op: Op) -> Result<f64> {
        let result = {
            let mut s = self.stack();
            if s.len() < 2 {
                return Err(Error::declared(
                    "std::runtime_error",
                    Text::from(format!(
                        "{op:?} needs two values, the stack has {}",
                        s.len()
                    )),
                ));
            }
            let (b, a) = (s.pop().unwrap_or_default(), s.pop().unwrap_or_default());
            let r = match op {
                Op::Add => a + b,
                Op::Sub => a - b,
                Op::Mul => a * b,
                Op::Div if b == 0.0 => {
                    s.extend([a, b]);
                    return Err(Error::declared(
                        "std::runtime_error",
                        Text::from("division by zero"),
                    ));
                }
                Op::Div => a / b,
                Op::Unknown(n) => {
                    s.extend([a, b]);
                    return Err(Error::failed(format!("unknown operation {n}")));
                }
            };
            s.push(r);
            r
        };
        self.notify().await?;
        Ok(result)
    }

    async fn stack(&self, _cx: &CallContext) -> Result<Vec<f64>> {
        Ok(self.stack().clone())
    }

    async fn watch(&self, _cx: &CallContext, watcher: Option<WatcherClient>) -> Result<()> {
        let watcher = watcher.ok_or_else(|| Error::failed("watch: null watcher"))?;
        self.watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(watcher);
        Ok(())
    }
}
