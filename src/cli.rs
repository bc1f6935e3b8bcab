//! Command-line definitions (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "relcon",
    version,
    about = "Terminal release console for conversational bots on the Release API",
    long_about = "relcon watches and drives bot releases: blue-green deploys, canaries with \
automatic rollback, rollback to a chosen version, flow and environment deploys.\n\n\
Without a subcommand it opens the console on the configured profile. `relcon demo` opens it \
on a built-in simulator; `relcon sim` runs the simulator alone."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the Release API simulator (for demos, tests and other clients).
    Sim(SimArgs),
    /// Start the simulator in-process and open the console on it.
    Demo(DemoArgs),
}

#[derive(Debug, Args, Clone)]
pub struct SimArgs {
    /// Port to listen on, on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Seed of the traffic model and fault draws (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Clock speed: simulator seconds per real second (30 plays a 15-minute canary in 30 s).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Scenario TOML (default: the built-in demo world, assets/scenarios/demo.toml).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Token lifetime in real seconds.
    #[arg(long, default_value_t = 3600)]
    pub token_ttl: u64,
    /// Requests per simulator minute per client before 429.
    #[arg(long, default_value_t = 1200)]
    pub client_budget: u32,
    /// Fault switch name=value, repeatable (e.g. --fault errorRate=0.2 --fault stallJobs=true).
    #[arg(long = "fault", value_name = "NAME=VALUE")]
    pub faults: Vec<String>,
}

#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// Simulator clock speed for the demo.
    #[arg(long, default_value_t = 10.0)]
    pub speed: f64,
    /// Seed of the demo world's traffic.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Serve on this port instead of a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
}
