//! The console face: wires the TUI to the engine and the backend.

use crate::cli::Global;

/// Open the console on the configured profile.
pub async fn run_profile(global: &Global) -> anyhow::Result<()> {
    let profile =
        crate::headless::resolve_profile(global).map_err(|e| anyhow::anyhow!(e.message))?;
    anyhow::bail!(
        "the console is not available in this build yet; use the headless commands against {} (relcon status, relcon --help)",
        profile.api_url
    )
}

/// Open the console on an in-process simulator.
pub async fn run_demo(url: &str, speed: f64) -> anyhow::Result<()> {
    println!("relcon demo: simulator on {url} (speed {speed}x, API key demo-key)");
    println!("  in another terminal: COGNIGY_API_URL={url} COGNIGY_API_KEY=demo-key relcon status");
    println!("  Ctrl-C stops");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
