//! The console's plain data: what a row, an overlay or a describe stands for. No `App`
//! here: `app.rs`, the panes and the widgets all build on these types.

use crate::engine::events::OpId;

/// One row of the deployments pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployItem {
    /// A workflow of this process (index into `runs`).
    Run(usize),
    /// A server operation not matched to a workflow here (index into `operations`).
    Server(usize),
}

/// What a describe overlay shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DescribeTarget {
    Bot(String),
    Version {
        bot: String,
        version: String,
    },
    Run(OpId),
    Operation(String),
    /// The timeline's row at this index (newest first) when it was opened.
    Audit(usize),
}

/// A described object: its kind, its id (what `y` copies) and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub kind: &'static str,
    pub id: String,
    pub rows: Vec<(String, String)>,
}

impl Described {
    pub(crate) fn new(kind: &'static str, id: &str) -> Described {
        Described {
            kind,
            id: id.to_string(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn field(&mut self, name: &str, value: impl Into<String>) {
        self.rows
            .push((name.to_string(), crate::sanitize::clean(&value.into())));
    }

    /// A heading row between groups of fields.
    pub(crate) fn section(&mut self, name: &str) {
        self.rows.push((String::new(), String::new()));
        self.rows.push((format!("── {name}"), String::new()));
    }

    /// The rows as text lines, field names aligned.
    pub fn lines(&self) -> Vec<String> {
        let w = self
            .rows
            .iter()
            .filter(|(k, v)| !v.is_empty() || !k.starts_with("──"))
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        self.rows
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k:<w$}  {v}")
                }
            })
            .collect()
    }
}

/// What a canary form is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanaryTarget {
    pub bot_id: String,
    pub bot_name: String,
    pub version: String,
    pub env: String,
}
