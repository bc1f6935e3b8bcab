//! relcon: a terminal release console for conversational bots on the Release API.
//!
//! The crate is one engine with four faces (TUI, demo, simulator, headless CLI); see
//! `docs/architecture.md` for how the modules fit together.

pub mod clock;
pub mod domain;
pub mod engine;
pub mod sanitize;
pub mod tui;
