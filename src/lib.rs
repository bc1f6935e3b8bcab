//! relcon: a terminal release console for conversational bots on the Release API.
//!
//! The crate is one engine with four faces (TUI, demo, simulator, headless CLI); see
//! `docs/architecture.md` for how the modules fit together.

/// Print a line on stdout; if the reader has gone (`relcon status | head`), stop quietly
/// instead of panicking on the broken pipe. For the headless commands' results.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout().lock(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

pub mod audit;
pub mod backend;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod cognigy;
pub mod config;
pub mod console;
pub mod console_bench;
pub mod domain;
pub mod drive;
pub mod engine;
pub mod exit;
pub mod headless;
pub mod journal;
pub mod logging;
pub mod operator;
pub mod plans;
pub mod recover;
pub mod retry;
pub mod runtime;
pub mod sanitize;
pub mod schedule;
pub mod ship;
pub mod signing;
pub mod sim;
pub mod tui;
pub mod webhook;
