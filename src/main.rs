//! relcon's entry point: parse the command line, install logging, pick a face.

#![deny(clippy::unwrap_used)]

use std::process::ExitCode;
use std::time::Duration;

use relcon::cli::{BenchCommand, Command, DemoArgs, SimArgs, SimDialect};
use relcon::exit;
use relcon::headless;
use relcon::sim::{self, SimConfig, faults::Faults};

fn main() -> ExitCode {
    let cli = match relcon::cli::parse() {
        Ok(cli) => cli,
        Err(code) => return ExitCode::from(code),
    };
    if cli.global.print_default_config {
        print!("{}", relcon::config::DEFAULT_CONFIG);
        return ExitCode::SUCCESS;
    }
    // Logs go to a file only: the terminal belongs to the console and to progress output.
    let _log_guard = relcon::logging::init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("relcon: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Some(Command::Sim(args)) => report(run_sim(args).await),
            Some(Command::Demo(args)) => report(run_demo(args).await),
            Some(Command::Bench { command }) => report(run_bench(command).await),
            Some(Command::Completions { shell }) => {
                let mut text = Vec::new();
                relcon::cli::completions(shell, &mut text);
                print_bytes(&text)
            }
            Some(Command::Man) => {
                let mut text = Vec::new();
                match relcon::cli::man_page(&mut text) {
                    Ok(()) => print_bytes(&text),
                    Err(e) => report(Err(e.into())),
                }
            }
            Some(cmd) => headless::run(&cli.global, cmd).await,
            None => report(relcon::console::run_profile(&cli.global).await),
        }
    });
    ExitCode::from(code)
}

/// Write to stdout; a reader that stops early (`| head`) is not an error.
fn print_bytes(bytes: &[u8]) -> u8 {
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(bytes) {
        Ok(()) => exit::OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => report(Err(e.into())),
    }
}

fn report(r: anyhow::Result<()>) -> u8 {
    match r {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("relcon: {e:#}");
            exit::FAILED
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
        rate_limit: args.rate_limit.unwrap_or(sim::DEFAULT_RATE_LIMIT),
        release_rate_limit: args.rate_limit,
        faults,
        dialect: match args.dialect {
            SimDialect::Release => sim::Dialect::Release,
            SimDialect::Cognigy => sim::Dialect::Cognigy,
        },
    })
}

/// Print a banner line; a closed stdout (`relcon sim | head -1`) must not stop the server.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

fn banner(handle: &sim::SimHandle, speed: f64) {
    let url = handle.url();
    if handle.app.config.dialect == sim::Dialect::Cognigy {
        say!("relcon sim: Cognigy.AI REST API v2.0 simulator on {url}");
        say!(
            "  seed {}  speed {speed}x  scenario {}",
            handle.app.seed,
            handle.app.scenario.name
        );
        say!(
            "  API key {}  (X-API-Key header or ?api_key=)",
            sim::auth::DEMO_API_KEY
        );
        say!(
            "  try: curl -H 'X-API-Key: {}' {url}/new/v2.0/projects",
            sim::auth::DEMO_API_KEY
        );
        say!(
            "  control: {url}/_sim/clock  /_sim/faults  /_sim/stats  /_sim/reset   (Ctrl-C stops)"
        );
        return;
    }
    say!("relcon sim: Release API simulator on {url}");
    say!(
        "  seed {}  speed {speed}x  scenario {}",
        handle.app.seed,
        handle.app.scenario.name
    );
    say!("  demo credentials (every scope):");
    say!(
        "    client id {}  secret {}  (POST {url}/v1/auth/token or {url}/oauth/token)",
        sim::auth::DEMO_CLIENT_ID,
        sim::auth::DEMO_CLIENT_SECRET
    );
    say!(
        "    API key   {}  (Authorization: Bearer {})",
        sim::auth::DEMO_API_KEY,
        sim::auth::DEMO_API_KEY
    );
    say!("  try: curl -H 'Authorization: Bearer demo-key' {url}/api/v1/bots");
    say!("  control: {url}/_sim/clock  /_sim/faults  /_sim/stats  /_sim/reset   (Ctrl-C stops)");
}

async fn run_sim(args: SimArgs) -> anyhow::Result<()> {
    let config = sim_config(&args)?;
    let handle = sim::start(config).await?;
    banner(&handle, args.speed);
    tokio::signal::ctrl_c().await?;
    handle.stop().await;
    Ok(())
}

async fn run_demo(args: DemoArgs) -> anyhow::Result<()> {
    let config = sim_config(&SimArgs {
        port: args.port,
        seed: args.seed,
        speed: args.speed,
        scenario: args
            .scenario
            .clone()
            .or_else(|| (args.backend == SimDialect::Cognigy).then(|| "cognigy".into())),
        token_ttl: 3600,
        client_budget: 100_000,
        rate_limit: args.rate_limit,
        faults: Vec::new(),
        dialect: args.backend,
    })?;
    let handle = sim::start(config).await?;
    if args.headless {
        banner(&handle, args.speed);
        match args.backend {
            SimDialect::Release => say!(
                "  point relcon at it: COGNIGY_API_URL={} COGNIGY_API_KEY=demo-key relcon status",
                handle.url()
            ),
            SimDialect::Cognigy => say!(
                "  point relcon at it: a profile with backend = \"cognigy\", api_url = \"{}\" and CAI_APIKEY=demo-key",
                handle.url()
            ),
        }
        tokio::signal::ctrl_c().await?;
        handle.stop().await;
        return Ok(());
    }
    let backend = match args.backend {
        SimDialect::Release => relcon::config::Backend::ReleaseApi,
        SimDialect::Cognigy => relcon::config::Backend::Cognigy(
            relcon::config::CognigyTarget::derived(&handle.url(), None),
        ),
    };
    let result = relcon::console::run_demo(&handle.url(), args.speed, backend).await;
    handle.stop().await;
    result
}

async fn run_bench(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Canary {
            seeds,
            regression_seeds,
            first_seed,
            out,
        } => {
            let opts = relcon::bench::Options {
                healthy_seeds: seeds,
                regression_seeds,
                first_seed,
                ..relcon::bench::Options::default()
            };
            let started = std::time::Instant::now();
            let results = relcon::bench::run_all(&opts).map_err(anyhow::Error::msg)?;
            let mut text = relcon::bench::report(&results, &opts);
            text.push_str(&format!(
                "\n{} runs in {:.1} s on {} threads.\n",
                results.len(),
                started.elapsed().as_secs_f64(),
                opts.threads
            ));
            say!("{text}");
            write_report(out, &text)
        }
        BenchCommand::Console {
            scenario,
            speed,
            minutes,
            size,
            select,
            idle,
            out,
        } => {
            let (width, height) = size
                .split_once('x')
                .and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)))
                .filter(|(w, h): &(u16, u16)| *w >= 40 && *h >= 12)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--size {size:?} is not WIDTHxHEIGHT of at least 40x12, like 200x50"
                    )
                })?;
            if !(speed.is_finite() && speed > 0.0 && minutes.is_finite() && minutes > 0.0) {
                anyhow::bail!("--speed and --minutes must be numbers above 0");
            }
            let opts = relcon::console_bench::Options {
                scenario,
                speed,
                minutes,
                width,
                height,
                select,
                workflows: !idle,
            };
            let figures = relcon::console_bench::run(&opts).await?;
            let text = relcon::console_bench::report(&opts, &figures);
            say!("{text}");
            write_report(out, &text)
        }
    }
}

fn write_report(out: Option<std::path::PathBuf>, text: &str) -> anyhow::Result<()> {
    if let Some(path) = out {
        std::fs::write(&path, text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}
