//! `calculator-server SOCKET`: serves the calculator on a unix socket until Ctrl-C.

use mphub_example_calculator::calc::CalcInitServer;
use mphub_example_calculator::Init;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: calculator-server SOCKET")?;
    let rt = mphub::Runtime::new()?;
    let _listener = mphub::listen(&rt, &path, Init.into_cap())?;
    println!("listening on {path}");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
