//! relcon's exit codes: one table, printed at the end of every `--help`, in the README, and
//! tested one by one.

pub const OK: u8 = 0;
pub const FAILED: u8 = 1;
pub const ROLLED_BACK: u8 = 2;
pub const REFUSED: u8 = 3;
pub const CONFIG: u8 = 4;
pub const TIMED_OUT: u8 = 5;
pub const CANCELLED: u8 = 6;
pub const PAUSED: u8 = 7;
pub const NOT_FOUND: u8 = 8;
/// A command line that does not parse (sysexits' EX_USAGE).
pub const USAGE: u8 = 64;

/// Every exit code with its meaning, as `--help` and the README print them.
pub const EXIT_CODES: &[(u8, &str)] = &[
    (OK, "success"),
    (FAILED, "failure"),
    (
        ROLLED_BACK,
        "rolled back (a failure or a breach, and the previous state restored)",
    ),
    (REFUSED, "refused by validation (nothing changed)"),
    (CONFIG, "auth or config error"),
    (TIMED_OUT, "timed out"),
    (CANCELLED, "cancelled"),
    (
        PAUSED,
        "paused for a decision (a canary whose evidence did not settle; it keeps its traffic)",
    ),
    (
        NOT_FOUND,
        "not found (no such bot, version, environment or operation; nothing changed)",
    ),
    (USAGE, "usage error (the command line does not parse)"),
];

/// The table as text, for `--help`.
pub fn table() -> String {
    let mut s = String::from("Exit codes:\n");
    for (code, meaning) in EXIT_CODES {
        s.push_str(&format!("  {code:>2}  {meaning}\n"));
    }
    s
}
