//! Logs go to a daily-rolled file through a non-blocking writer, never to the terminal.
//! `RELCON_LOG` sets the filter (default `relcon=info`); HTTP client noise is filtered.

use std::path::PathBuf;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Where the log files go.
pub fn log_dir() -> PathBuf {
    crate::config::log_dir().unwrap_or_else(|| std::env::temp_dir().join("relcon-logs"))
}

/// The current log file's path pattern, for help screens.
pub fn log_file_hint() -> String {
    format!("{}/relcon.log.<date>", log_dir().display())
}

/// Install the file logger; keep the guard alive for the program's life so the last lines
/// are flushed. Returns `None` if the directory cannot be created (logging is then off).
pub fn init() -> Option<WorkerGuard> {
    let dir = log_dir();
    std::fs::create_dir_all(&dir).ok()?;
    let appender = tracing_appender::rolling::daily(&dir, "relcon.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = EnvFilter::try_from_env("RELCON_LOG")
        .unwrap_or_else(|_| EnvFilter::new("relcon=info,hyper=warn,reqwest=warn,h2=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init()
        .ok()?;
    Some(guard)
}
