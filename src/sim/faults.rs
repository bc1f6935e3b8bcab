//! Fault switches: set at start-up (`--fault name=value`) and live through `/_sim/faults`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Faults {
    /// Added to every API response, in real milliseconds.
    pub latency_ms: u64,
    /// Share of requests answered 503 before they reach the world.
    pub error_rate: f64,
    /// Share of requests processed and then answered 502 (the client cannot tell).
    pub lost_response_rate: f64,
    /// Share of requests answered 429.
    pub rate_limit_storm: f64,
    /// Share of successful JSON bodies truncated into invalid JSON.
    pub malformed_rate: f64,
    /// Share of connections dropped mid-response.
    pub reset_rate: f64,
    /// New jobs never progress and end in `timeout` / FAILED.
    pub stall_jobs: bool,
    /// New tokens die after this many (real) seconds whatever `expires_in` says.
    pub token_ttl_seconds: Option<u64>,
    /// Environments whose health check reports `unhealthy`.
    pub unhealthy_environments: Vec<String>,
    /// Cognigy dialect: environments whose endpoint refuses to be re-pointed (`PATCH`
    /// answers 500), to exercise a switch that fails part-way.
    pub stuck_endpoints: Vec<String>,
    /// Cognigy dialect: new snapshot tasks end in `error` with a `failReason`.
    pub failing_snapshots: bool,
    /// Cognigy dialect: bots (projects) the API key may not touch: their snapshot and
    /// endpoint lists and their endpoints answer 403.
    pub forbidden_projects: Vec<String>,
}

impl Faults {
    /// Apply `name=value` (the camel-case or kebab-case field name).
    pub fn set(&mut self, spec: &str) -> Result<(), String> {
        let (name, value) = spec
            .split_once('=')
            .ok_or_else(|| format!("fault '{spec}' is not name=value (e.g. errorRate=0.2)"))?;
        let camel = kebab_to_camel(name.trim());
        let mut obj = serde_json::to_value(&*self).map_err(|e| e.to_string())?;
        let parsed: serde_json::Value = match camel.as_str() {
            "unhealthyEnvironments" | "stuckEndpoints" | "forbiddenProjects" => {
                serde_json::Value::Array(
                    value
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(|s| serde_json::Value::String(s.trim().to_string()))
                        .collect(),
                )
            }
            _ => serde_json::from_str(value.trim())
                .map_err(|_| format!("fault {name}: '{value}' is not a number or true/false"))?,
        };
        let map = obj
            .as_object_mut()
            .ok_or_else(|| "faults are not an object".to_string())?;
        if !map.contains_key(&camel) {
            let known: Vec<&String> = map.keys().collect();
            return Err(format!(
                "unknown fault '{name}'; known faults: {}",
                known
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        map.insert(camel, parsed);
        *self = serde_json::from_value(obj).map_err(|e| format!("fault {name}: {e}"))?;
        self.check()
    }

    pub fn check(&self) -> Result<(), String> {
        for (name, v) in [
            ("errorRate", self.error_rate),
            ("lostResponseRate", self.lost_response_rate),
            ("rateLimitStorm", self.rate_limit_storm),
            ("malformedRate", self.malformed_rate),
            ("resetRate", self.reset_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("fault {name} must be between 0 and 1, got {v}"));
            }
        }
        Ok(())
    }
}

fn kebab_to_camel(s: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in s.chars() {
        if c == '-' || c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_from_flags() {
        let mut f = Faults::default();
        f.set("errorRate=0.2").unwrap();
        f.set("stall-jobs=true").unwrap();
        f.set("unhealthyEnvironments=env-a,env-b").unwrap();
        assert_eq!(f.error_rate, 0.2);
        assert!(f.stall_jobs);
        assert_eq!(f.unhealthy_environments, vec!["env-a", "env-b"]);
        assert!(f.set("bogus=1").unwrap_err().contains("known faults"));
        assert!(f.set("errorRate=2").is_err());
        assert!(f.set("errorRate").is_err());
    }
}
