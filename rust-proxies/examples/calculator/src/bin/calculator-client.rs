//! `calculator-client SOCKET`: computes (6 * 7) - 2 on the server, watching the stack
//! through a callback, then shows a declared exception.

use mphub::{CallContext, Result, Text};
use mphub_example_calculator::calc::{CalcInitClient, Op, WatcherServer};

/// Prints every change the server reports (it calls back during our own calls).
struct Printer;

impl WatcherServer for Printer {
    async fn changed(&self, _cx: &CallContext, depth: u32, top: Option<f64>) -> Result<()> {
        println!("  watcher: depth {depth}, top {top:?}");
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: calculator-client SOCKET")?;
    let rt = mphub::Runtime::new()?;
    let init: CalcInitClient = mphub::connect(&rt, &path).await?;
    let calc = init
        .make_calculator("example")
        .await?
        .ok_or("no calculator")?;
    calc.watch(WatcherServer::into_cap(Printer)).await?;
    calc.push(6.0).await?;
    calc.push(7.0).await?;
    println!("6 * 7 = {}", calc.apply(Op::Mul).await?);
    calc.push(2.0).await?;
    println!("42 - 2 = {}", calc.apply(Op::Sub).await?);
    println!("stack: {:?}", calc.stack().await?);
    match calc.apply(Op::Add).await {
        Err(e) => {
            let text = e
                .declared_as::<Text>()
                .map(|t| t.to_string())
                .unwrap_or_default();
            println!("apply(add) on one value: {text}");
        }
        Ok(v) => return Err(format!("apply(add) on one value returned {v}").into()),
    }
    Ok(())
}
