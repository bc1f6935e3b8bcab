//! Command-line definitions (clap).

use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "relcon",
    version,
    about = "Terminal release console for conversational bots on the Release API",
    long_about = "relcon watches and drives bot releases: blue-green deploys, canaries with \
automatic rollback, rollback to a chosen version, flow and environment deploys.\n\n\
Without a subcommand it opens the console on the configured profile. `relcon demo` opens it \
on a built-in simulator; `relcon sim` runs the simulator alone.\n\n\
Secrets come only from the environment: COGNIGY_API_KEY, or COGNIGY_CLIENT_ID and \
COGNIGY_CLIENT_SECRET; COGNIGY_API_URL overrides the profile's server."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct Global {
    /// Profile of the config file to use (default: its default_profile).
    #[arg(long, global = true, env = "RELCON_PROFILE")]
    pub profile: Option<String>,
    /// Config file (default: $RELCON_CONFIG, else the platform config dir's relcon/config.toml).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Server base URL, overriding the profile (COGNIGY_API_URL does the same).
    #[arg(long, global = true)]
    pub api_url: Option<String>,
    /// Output of the headless commands: progress for people, one JSON result on stdout, or
    /// (`relcon versions` only) one JSON object a line as it is read; other commands refuse
    /// jsonl with a usage error.
    #[arg(
        long,
        global = true,
        value_name = "FORMAT",
        default_value = "human",
        value_parser = output_parser()
    )]
    pub output: Output,
    /// `--output jsonl` was given (`output` is then [`Output::Json`]): see [`Global::format`].
    #[arg(skip)]
    pub jsonl: bool,
    /// Do not ask for confirmation (needed for production profiles when not interactive).
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    /// Refuse every mutating action.
    #[arg(long, global = true)]
    pub read_only: bool,
    /// The server's clock speed: set it to `relcon sim --speed X` so waits match the simulator.
    #[arg(long, global = true, env = "RELCON_CLOCK_SPEED")]
    pub clock_speed: Option<f64>,
    /// Print the default keymap and theme settings and exit.
    #[arg(long)]
    pub print_default_config: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

/// The API `relcon sim` speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum SimDialect {
    /// The Release API (docs/api.md).
    #[default]
    Release,
    /// NICE Cognigy.AI REST API v2.0 shapes under /new/v2.0 (docs/cognigy-api.md).
    Cognigy,
}

/// What the headless commands print. `--output jsonl` reads as [`Output::Json`] here (only
/// `relcon versions` streams lines, and it asks [`Global::format`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Output {
    #[default]
    Human,
    Json,
}

/// Every value `--output` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    #[default]
    Human,
    Json,
    /// One JSON object a line, printed as it is read (`relcon versions`).
    Jsonl,
}

/// The commands that take `--output jsonl`.
const JSONL_COMMANDS: &[&str] = &["versions"];

fn output_parser() -> impl clap::builder::TypedValueParser<Value = Output> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser as _};
    PossibleValuesParser::new([
        PossibleValue::new("human").help("progress and tables for people"),
        PossibleValue::new("json").help("one JSON document on stdout"),
        PossibleValue::new("jsonl").help(
            "`relcon versions` only: one JSON object a line, printed as each page arrives \
             (other commands refuse it)",
        ),
    ])
    .map(|v| match v.as_str() {
        "human" => Output::Human,
        _ => Output::Json,
    })
}

impl Global {
    /// The format `--output` named, jsonl included.
    pub fn format(&self) -> OutputFormat {
        match (self.output, self.jsonl) {
            (Output::Human, _) => OutputFormat::Human,
            (Output::Json, false) => OutputFormat::Json,
            (Output::Json, true) => OutputFormat::Jsonl,
        }
    }
}

// Parsed once per process: the canary's many flags make one variant large, which is fine.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the Release API simulator (for demos, tests and other clients).
    Sim(SimArgs),
    /// Start the simulator in-process and open the console on it.
    Demo(DemoArgs),
    /// Blue-green deploy of a version to the idle environment, then switch traffic.
    Deploy(DeployArgs),
    /// Canary a version with stepped traffic and automatic rollback.
    Canary(CanaryArgs),
    /// Roll a bot back to a chosen (or the last known-good) version.
    Rollback(RollbackArgs),
    /// Flow deployment.
    Flows {
        #[command(subcommand)]
        command: FlowsCommand,
    },
    /// Environment deployment.
    Env {
        #[command(subcommand)]
        command: EnvCommand,
    },
    /// Bots, their environments, live versions, routing and operations in progress.
    Status(StatusArgs),
    /// Versions of a bot, newest first, read a page (50) at a time and printed as each page
    /// arrives: the newest 50 unless --limit N or --all asks for more.
    ///
    /// A plain `relcon versions BOT` reads one page and says how many more there are. The
    /// ★ last-known-good mark (the newest promoted PUBLISHED production version older than
    /// the live one) is judged over the versions read; when it may be older than those, a
    /// line says so (--all reads every version; `relcon rollback BOT` always finds it).
    ///
    /// --output json: one document {bot, live, lastKnownGood, lastKnownGoodKnown, total,
    /// truncated, versions} of the versions read (lastKnownGoodKnown is false when the
    /// answer may be on a page not read). --output jsonl: one version a line as it is read,
    /// and nothing else on stdout (notes go to stderr); with --all its memory stays flat
    /// however many versions the bot has.
    Versions(VersionsArgs),
    /// Make room under the platform's version limit (Cognigy.AI: 10 snapshots a project):
    /// remove the oldest snapshots no endpoint serves, never one that is live.
    Prune(PruneArgs),
    /// Promote a snapshot to another installation (dev → staging → prod): package it here,
    /// download it, upload it into the target profile's same-named project and restore that
    /// project from it, as one audited operation. Cognigy.AI profiles.
    Ship(ShipArgs),
    /// The bot's current operation as a tree (workflow, version, step, weight, last decision,
    /// who drives it); `--watch` follows it and exits with its outcome's code when it ends.
    Get(GetArgs),
    /// Ask the driver of the bot's running canary to go to its next step (`--full`: to 100%).
    Promote(PromoteArgs),
    /// Ask the driver of the bot's running operation to pause it (traffic stays as it is).
    Pause(VerbArgs),
    /// Ask the driver of the bot's paused operation to carry on; given an operation id of
    /// the intent journal, re-attach to that interrupted operation (as `relcon recover OP`);
    /// given nothing, list the interrupted operations.
    Resume(ResumeArgs),
    /// Ask the driver of the bot's running operation to stop and restore the previous state.
    Abort(VerbArgs),
    /// Ask the driver of the bot's operation to carry on after a pause for a decision (a
    /// canary whose evidence did not settle): it judges the step again.
    Retry(VerbArgs),
    /// Operations whose relcon died (from the intent journal): without OP, list them; with
    /// OP, re-attach to it and drive it to its end. Rerunning the same deploy, canary or
    /// rollback command re-attaches too.
    Recover(RecoverArgs),
    /// Take over driving an orphaned operation (its lease expired, or nobody holds one),
    /// from any machine: a canary is judged from its start and continues at the step its
    /// weight is at, a deploy is polled to its end and switched, a rollback polled and
    /// verified. Audited with whom it was adopted from.
    Adopt(AdoptArgs),
    /// End an orphaned operation safely: a canary is rolled back to its baseline, a
    /// deployment cancelled (its switch never made). Audited.
    End(EndArgs),
    /// The local audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Print a shell completion script: `relcon completions bash > ~/.local/share/bash-completion/completions/relcon`.
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the man page (roff): `relcon man > relcon.1; man ./relcon.1`.
    Man,
    /// Benchmarks the project keeps (results in docs/).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// relcon's canary judge against seed 001's rule and a Kayenta-style Mann–Whitney judge
    /// on many seeded simulator worlds: false rollbacks of healthy canaries, and how soon
    /// regressions are caught.
    Canary {
        /// Seeds per bot for the healthy canaries (three bots).
        #[arg(long, default_value_t = 70)]
        seeds: u64,
        /// Seeds per bot and regression.
        #[arg(long, default_value_t = 100)]
        regression_seeds: u64,
        /// The first seed.
        #[arg(long, default_value_t = 1)]
        first_seed: u64,
        /// Also write the report (markdown) to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The console on a simulated fleet for a few simulated minutes, with the platform's
    /// rate limit on: requests per 5 minutes, 429s, how old the selected bot's data and the
    /// oldest row get, how soon a selected bot's versions are painted, frame times.
    Console {
        /// The simulator's world (a built-in name or a file).
        #[arg(long, default_value = "fleet")]
        scenario: String,
        /// Simulator clock speed.
        #[arg(long, default_value_t = 4.0)]
        speed: f64,
        /// Simulated minutes to run.
        #[arg(long, default_value_t = 5.0)]
        minutes: f64,
        /// The off-screen terminal's size, WIDTHxHEIGHT.
        #[arg(long, default_value = "200x50")]
        size: String,
        /// The bot to select.
        #[arg(long, default_value = "fleet-10k")]
        select: String,
        /// Only watch: start no deploy and no canary.
        #[arg(long)]
        idle: bool,
        /// Also write the report (markdown) to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
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
    /// Scenario TOML, or a built-in one by name: `demo` (the default,
    /// assets/scenarios/demo.toml), `cognigy` (projects on several channels each) or `fleet`
    /// (200 bots, one with 10,000 versions, operations of another team running).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Token lifetime in real seconds.
    #[arg(long, default_value_t = 3600)]
    pub token_ttl: u64,
    /// Requests per simulator minute per client before 429.
    #[arg(long, default_value_t = 1200)]
    pub client_budget: u32,
    /// Requests per caller per 5 simulator minutes before 429. Cognigy dialect: per API key,
    /// 1000 when not given, with no Retry-After (the platform's published limit). Release API:
    /// per token client or API key, with Retry-After; no limit unless given.
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u32>,
    /// Fault switch name=value, repeatable (e.g. --fault errorRate=0.2 --fault stallJobs=true).
    #[arg(long = "fault", value_name = "NAME=VALUE")]
    pub faults: Vec<String>,
    /// The API to serve over the world: the Release API, or Cognigy.AI's REST API v2.0
    /// (X-API-Key: demo-key).
    #[arg(long, value_enum, default_value_t = SimDialect::Release)]
    pub dialect: SimDialect,
}

#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// Simulator clock speed for the demo.
    #[arg(long, default_value_t = 10.0)]
    pub speed: f64,
    /// The demo's world: a scenario TOML or a built-in one by name (`demo`, the default;
    /// `cognigy`, the default with --backend cognigy; `fleet`).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Seed of the demo world's traffic.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Serve on this port instead of a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Start the simulator and print how to reach it instead of opening the console.
    #[arg(long)]
    pub headless: bool,
    /// The backend the console drives: the Release API, or Cognigy.AI (the simulator then
    /// speaks the Cognigy dialect).
    #[arg(long, value_enum, default_value_t = SimDialect::Release)]
    pub backend: SimDialect,
    /// The simulator's rate limit, requests per caller per 5 simulator minutes, as
    /// `relcon sim --rate-limit` (no Release API limit unless given).
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u32>,
}

#[derive(Debug, Args, Clone)]
pub struct DeployArgs {
    pub bot: String,
    pub version: String,
    /// Environment to deploy to (default: the idle colour of the bot's blue/green pair).
    #[arg(long = "to")]
    pub to: Option<String>,
    /// Cognigy.AI: first take a snapshot of the project named VERSION (its task followed
    /// step by step), then deploy it.
    #[arg(long)]
    pub snapshot: bool,
}

#[derive(Debug, Args, Clone)]
pub struct CanaryArgs {
    pub bot: String,
    pub version: String,
    /// Canary traffic per step, in percent (default: the profile's, e.g. 5,10,25,50,100).
    #[arg(long, value_delimiter = ',')]
    pub steps: Option<Vec<f64>>,
    /// Shortest hold of each step, and the length of each extension (e.g. 60s, 5m).
    #[arg(long)]
    pub interval: Option<String>,
    /// Longest hold of a step before --on-inconclusive decides (e.g. 30m).
    #[arg(long)]
    pub max_hold: Option<String>,
    /// No step may exceed this share of traffic (percent).
    #[arg(long)]
    pub max_traffic: Option<f64>,
    /// Guardrail name=value: error_rate, satisfaction_score, max_latency_ms (repeatable).
    #[arg(long = "threshold", value_name = "NAME=VALUE")]
    pub thresholds: Vec<String>,
    /// Tolerated degradation against the baseline, metric=value (repeatable): error_rate=0.01
    /// (one percentage point), fallback_rate, handoff_rate, latency_ms=100,
    /// satisfaction_score=0.2, intent_score=0.03.
    #[arg(long = "tolerance", value_name = "METRIC=VALUE")]
    pub tolerances: Vec<String>,
    /// The metrics to gate on (default: the profile's, all of them).
    #[arg(long = "gate", value_delimiter = ',', value_name = "METRIC")]
    pub gates: Option<Vec<String>>,
    /// False-alarm level of the whole canary: the chance of ever rolling back a canary that
    /// is within its tolerances (default 0.01).
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Risk, per metric, of passing a step although the metric is worse than tolerated
    /// (default 0.05).
    #[arg(long)]
    pub beta: Option<f64>,
    /// Observations each arm needs before a metric is judged at all.
    #[arg(long)]
    pub min_conversations: Option<u64>,
    /// What a step does when its evidence has not settled by the longest hold: pause (exit
    /// 7, the canary left paused for a person), rollback, or promote (carry on as passed).
    #[arg(long, value_parser = ["pause", "rollback", "promote"])]
    pub on_inconclusive: Option<String>,
    /// Failing looks tolerated before rolling back (default 0).
    #[arg(long)]
    pub failure_limit: Option<u32>,
    /// Extensions tolerated over the whole canary before --on-inconclusive decides.
    #[arg(long)]
    pub inconclusive_limit: Option<u32>,
    /// Metric reads that may fail in a row before the canary pauses (never a rollback).
    #[arg(long)]
    pub error_limit: Option<u32>,
    /// Environment to canary in (default: the bot's busiest production environment).
    #[arg(long)]
    pub env: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct RollbackArgs {
    pub bot: String,
    /// Version to roll back to (default: the last known-good version).
    #[arg(long = "to")]
    pub to: Option<String>,
    /// Refuse while more sessions than this are active.
    #[arg(long)]
    pub max_active_sessions: Option<u32>,
    /// Wait this long for sessions to drain (e.g. 5m) before refusing.
    #[arg(long)]
    pub wait_drain: Option<String>,
    /// Version to fall back to if the rollback job fails.
    #[arg(long)]
    pub fallback: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum FlowsCommand {
    /// Export, validate, resolve dependencies, write a manifest, push and verify every flow.
    Deploy {
        /// Target environment.
        #[arg(long)]
        env: String,
        /// Where to write the manifest (default: <data dir>/manifests/<env>-<time>.json).
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// Only this bot's flows.
        #[arg(long)]
        bot: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Validate, trace and roll out a configuration snapshot, with health checks.
    Deploy {
        /// Target environment.
        env: String,
        /// Snapshot file (TOML or JSON): configuration_snapshot, dependency_locks, rollback_policy, ...
        #[arg(long)]
        snapshot: PathBuf,
    },
}

#[derive(Debug, Args, Clone)]
pub struct StatusArgs {
    /// Only this bot.
    pub bot: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct GetArgs {
    pub bot: String,
    /// Follow the operation until it ends: redrawn in place on a terminal, appended lines
    /// otherwise; the exit code is the operation's outcome.
    #[arg(long, short = 'w')]
    pub watch: bool,
}

#[derive(Debug, Args, Clone)]
pub struct PromoteArgs {
    pub bot: String,
    /// Promote to 100% now instead of the next step.
    #[arg(long)]
    pub full: bool,
    /// Why, for the audit trail and the driver's log.
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct VerbArgs {
    pub bot: String,
    /// Why, for the audit trail and the driver's log.
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct ResumeArgs {
    /// The bot whose paused operation should carry on, or an interrupted operation's id (or
    /// a unique prefix of it) as `relcon resume` lists it.
    pub target: Option<String>,
    /// Why, for the audit trail and the driver's log.
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct RecoverArgs {
    /// The operation id (or a unique prefix of it), as `relcon recover` lists it.
    pub op: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct AdoptArgs {
    /// The bot (its operation in progress) or a server operation id (cnry_…, dep_…, job_…).
    pub target: String,
}

#[derive(Debug, Args, Clone)]
pub struct EndArgs {
    /// The bot (its operation in progress) or a server operation id.
    pub target: String,
    /// Why, for the audit trail and the operation's events.
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct VersionsArgs {
    /// The bot (Cognigy.AI: the project's name or id).
    pub bot: String,
    /// The newest N versions (at least 1; default 50, one page): one request per 50.
    #[arg(
        long,
        value_name = "N",
        value_parser = parse_limit,
        allow_hyphen_values = true,
        conflicts_with = "all"
    )]
    pub limit: Option<u64>,
    /// Every version, page after page (one request per 50 versions).
    #[arg(long)]
    pub all: bool,
}

fn parse_limit(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("give a number of versions, 1 or more, or --all for every version".into()),
    }
}

#[derive(Debug, Args, Clone)]
pub struct ShipArgs {
    pub bot: String,
    /// The snapshot (its id or its name).
    pub version: String,
    /// The profile of the installation to ship to.
    #[arg(long)]
    pub to: String,
    /// Upload only: leave the target project's working state as it is.
    #[arg(long)]
    pub no_restore: bool,
}

#[derive(Debug, Args, Clone)]
pub struct PruneArgs {
    pub bot: String,
    /// How many versions to keep (default: one fewer than the limit, so the next deploy
    /// with --snapshot has room).
    #[arg(long)]
    pub keep: Option<usize>,
    /// Show what would be removed, remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain: any edit, deletion or reordering is reported with its line.
    Verify {
        /// Audit log (default: the profile's).
        file: Option<PathBuf>,
    },
    /// Print records, filtered.
    Show {
        /// Audit log (default: the profile's).
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long)]
        bot: Option<String>,
        /// deploy, canary, rollback, flows, environment.
        #[arg(long)]
        operation: Option<String>,
        /// Only records since then: a duration back from now (30m, 2h) or an RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// Only the last N records.
        #[arg(long)]
        last: Option<usize>,
    },
}

/// The command line with the exit-code table at the end of every `--help`.
pub fn command() -> clap::Command {
    fn with_codes(cmd: clap::Command, text: &str) -> clap::Command {
        cmd.after_help(text.to_string())
            .mut_subcommands(|sub| with_codes(sub, text))
    }
    with_codes(Cli::command(), &crate::exit::table())
}

/// Parse the process's arguments. `Err(code)` after printing: 0 for `--help` and
/// `--version`, [`crate::exit::USAGE`] for a command line that does not parse.
pub fn parse() -> Result<Cli, u8> {
    parse_from(std::env::args_os())
}

/// [`parse`] over given arguments (the first is the program name).
pub fn parse_from<I, T>(args: I) -> Result<Cli, u8>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let result = command().try_get_matches_from(args).and_then(|m| {
        let mut cli = Cli::from_arg_matches(&m)?;
        cli.global.jsonl = jsonl_given(&m);
        if cli.global.jsonl {
            let name = m.subcommand_name().unwrap_or_default();
            if !JSONL_COMMANDS.contains(&name) {
                let instead = if name.is_empty() {
                    String::new()
                } else {
                    format!("; `relcon {name}` prints one JSON document with --output json")
                };
                return Err(command().error(
                    clap::error::ErrorKind::InvalidValue,
                    format!("--output jsonl is for `relcon versions` only{instead}"),
                ));
            }
        }
        Ok(cli)
    });
    match result {
        Ok(cli) => Ok(cli),
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    crate::exit::OK
                }
                _ => crate::exit::USAGE,
            };
            let _ = e.print();
            Err(code)
        }
    }
}

/// `--output jsonl` on the command line, wherever it stands (the flag is global).
fn jsonl_given(m: &clap::ArgMatches) -> bool {
    let here = m
        .try_get_raw("output")
        .ok()
        .flatten()
        .and_then(|mut v| v.next_back())
        .is_some_and(|v| v == "jsonl");
    here || m.subcommand().is_some_and(|(_, sub)| jsonl_given(sub))
}

/// Write the completion script for `shell`.
pub fn completions(shell: Shell, out: &mut dyn std::io::Write) {
    use clap_complete::Shell as S;
    let shell = match shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
        Shell::Elvish => S::Elvish,
        Shell::Powershell => S::PowerShell,
    };
    clap_complete::generate(shell, &mut command(), "relcon", out);
}

/// Write the man page (roff), the exit codes included.
pub fn man_page(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    clap_mangen::Man::new(command()).render(out)
}
