use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use relcon::cli::{Cli, Command, SimArgs};
use relcon::sim::{self, SimConfig, faults::Faults};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("relcon: cannot start the async runtime: {e}");
            return ExitCode::from(70);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Some(Command::Sim(args)) => run_sim(args).await,
            Some(Command::Demo(args)) => {
                run_sim(SimArgs {
                    port: if args.port == 0 { 8080 } else { args.port },
                    seed: args.seed,
                    speed: args.speed,
                    scenario: None,
                    token_ttl: 3600,
                    client_budget: 1200,
                    faults: Vec::new(),
                })
                .await
            }
            None => Err(anyhow::anyhow!(
                "the console is not wired yet; try `relcon sim`"
            )),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relcon: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn sim_config(args: &SimArgs) -> anyhow::Result<SimConfig> {
    let mut faults = Faults::default();
    for f in &args.faults {
        faults.set(f).map_err(anyhow::Error::msg)?;
    }
    if !(args.speed > 0.0 && args.speed <= 10_000.0) {
        anyhow::bail!(
            "--speed must be above 0 and at most 10000, got {}",
            args.speed
        );
    }
    Ok(SimConfig {
        port: args.port,
        seed: args.seed,
        speed: args.speed,
        scenario: args.scenario.clone(),
        token_ttl: Duration::from_secs(args.token_ttl.max(1)),
        client_budget: args.client_budget,
        faults,
    })
}

async fn run_sim(args: SimArgs) -> anyhow::Result<()> {
    let config = sim_config(&args)?;
    let handle = sim::start(config).await?;
    let url = handle.url();
    println!("relcon sim: Release API simulator on {url}");
    println!(
        "  seed {}  speed {}x  scenario {}",
        handle.app.seed, args.speed, handle.app.scenario.name
    );
    println!("  demo credentials (every scope):");
    println!(
        "    client id {}  secret {}  (POST {url}/v1/auth/token or {url}/oauth/token)",
        sim::auth::DEMO_CLIENT_ID,
        sim::auth::DEMO_CLIENT_SECRET
    );
    println!(
        "    API key   {}  (Authorization: Bearer {})",
        sim::auth::DEMO_API_KEY,
        sim::auth::DEMO_API_KEY
    );
    println!("  try: curl -H 'Authorization: Bearer demo-key' {url}/api/v1/bots");
    println!(
        "  control: {url}/_sim/clock  /_sim/faults  /_sim/stats  /_sim/reset   (Ctrl-C stops)"
    );
    tokio::signal::ctrl_c().await?;
    handle.stop().await;
    Ok(())
}
