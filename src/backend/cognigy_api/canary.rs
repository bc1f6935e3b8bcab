//! A canary on Cognigy.AI: the platform splits no traffic by weight, so a canary re-points a
//! growing set of the project's production endpoints (smallest share first) to the
//! candidate snapshot, and its weight is the share of the conversations those endpoints
//! carried over the last hour. The arms' evidence is read from OData `Analytics` by
//! `entrypoint` (the snapshot that answered), bucket by bucket, up to the newest record the
//! cache holds: a bucket the cache has not filled yet is left for a later look.
//!
//! Each bucket's evidence is a sample: the newest [`SAMPLE_PAGES`] pages of records of that
//! arm in that bucket. An error is an input the flow did not understand, latency is
//! `executionTime`, and a rating of 1 or -1 counts as a CSAT of 5 or 1.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use super::{CognigyApi, Ep, lit, odata_time};
use crate::backend::CanaryRequest;
use crate::backend::error::BackendError;
use crate::backend::http::ApiRequest;
use crate::domain::{Canary, CanaryMetrics, CanaryState, MetricPoint, Stage, WeightChange};

/// Pages of 100 records read per arm per bucket.
const SAMPLE_PAGES: usize = 3;
const PAGE: usize = 100;
/// The shortest bucket read (server time): OData answers in records, not aggregates, so a
/// bucket costs requests; finer steps than this are read a minute at a time.
const MIN_BUCKET: i64 = 60;
/// The most buckets one read covers: a canary that falls behind catches up over a few
/// looks instead of in one burst of requests.
const MAX_BUCKETS: usize = 5;

/// What relcon keeps of a canary it runs (the platform keeps nothing).
#[derive(Debug, Clone)]
pub(super) struct CanaryRec {
    pub canary: Canary,
    pub project: String,
    pub started: DateTime<Utc>,
}

/// `cgcanary.<unix start>.<project>.<stable>.<candidate>`: enough to read a canary back in
/// another relcon process.
fn canary_id(started: DateTime<Utc>, project: &str, stable: &str, candidate: &str) -> String {
    format!(
        "cgcanary.{}.{project}.{stable}.{candidate}",
        started.timestamp()
    )
}

fn parse_canary(id: &str) -> Option<(DateTime<Utc>, &str, &str, &str)> {
    let mut parts = id.strip_prefix("cgcanary.")?.split('.');
    let started = DateTime::from_timestamp(parts.next()?.parse().ok()?, 0)?;
    let (project, stable, candidate) = (parts.next()?, parts.next()?, parts.next()?);
    parts
        .next()
        .is_none()
        .then_some((started, project, stable, candidate))
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The production endpoints that carry traffic, smallest share first.
fn carriers(eps: &[Ep]) -> Vec<&Ep> {
    let mut v: Vec<&Ep> = eps
        .iter()
        .filter(|e| e.stage == Stage::Production && e.share > 0.0)
        .collect();
    v.sort_by(|a, b| a.share.total_cmp(&b.share));
    v
}

/// The endpoints (smallest first) whose shares first reach `pct`; at least one, all at 100.
fn subset<'a>(carriers: &[&'a Ep], pct: f64) -> Vec<&'a Ep> {
    if pct >= 99.5 {
        return carriers.to_vec();
    }
    let mut out = Vec::new();
    let mut sum = 0.0;
    for e in carriers {
        if !out.is_empty() && sum >= pct - 0.5 {
            break;
        }
        out.push(*e);
        sum += e.share;
    }
    if out.len() == carriers.len() && carriers.len() > 1 && pct < 99.5 {
        out.pop();
    }
    out
}

/// The canary's share now: what the endpoints serving the candidate carry.
fn weight_of(carriers: &[&Ep], candidate: &str) -> f64 {
    let w: f64 = carriers
        .iter()
        .filter(|e| e.serves() == Some(candidate))
        .map(|e| e.share)
        .sum();
    (w * 10.0).round() / 10.0
}

impl CognigyApi {
    fn remember(&self, rec: &CanaryRec) {
        self.cache
            .lock()
            .expect("cache")
            .canaries
            .insert(rec.canary.id.clone(), rec.clone());
    }

    /// The canary as relcon last left it (or as its id spells it, from another process),
    /// its weight read from the endpoints now.
    async fn canary_rec(&self, id: &str) -> Result<(CanaryRec, Vec<Ep>), BackendError> {
        let known = self.cache.lock().expect("cache").canaries.get(id).cloned();
        let mut rec = match known {
            Some(r) => r,
            None => {
                let (started, project, stable, candidate) =
                    parse_canary(id).ok_or_else(|| BackendError::NotFound {
                        what: format!("canary {id}"),
                        detail: "not a canary the cognigy backend started".into(),
                    })?;
                let project = project.to_string();
                CanaryRec {
                    canary: Canary {
                        id: id.to_string(),
                        bot_id: project.clone(),
                        environment_id: String::new(),
                        version: candidate.to_string(),
                        stable_version: stable.to_string(),
                        state: CanaryState::Running,
                        canary_weight: 0.0,
                        max_traffic_percentage: 100.0,
                        rollback_thresholds: Default::default(),
                        started_at: stamp(started),
                        updated_at: stamp(started),
                        weight_history: Vec::new(),
                    },
                    project,
                    started,
                }
            }
        };
        let eps = self.endpoints(&rec.project).await?;
        rec.canary.canary_weight = weight_of(&carriers(&eps), &rec.canary.version);
        Ok((rec, eps))
    }

    /// Point the endpoints of `subset` at the candidate and every other carrier at the
    /// stable snapshot; a failure puts every endpoint back.
    async fn arrange(
        &self,
        carriers: &[&Ep],
        chosen: &[&Ep],
        candidate: &str,
        stable: &str,
    ) -> Result<(), BackendError> {
        let changes: Vec<(&Ep, &str)> = carriers
            .iter()
            .map(|e| {
                let to = if chosen.iter().any(|c| c.endpoint.id == e.endpoint.id) {
                    candidate
                } else {
                    stable
                };
                (*e, to)
            })
            .collect();
        self.apply(&changes).await.map(|_| ())
    }

    async fn set_share(
        &self,
        id: &str,
        pct: f64,
        state: CanaryState,
    ) -> Result<Canary, BackendError> {
        let (mut rec, eps) = self.canary_rec(id).await?;
        let carriers = carriers(&eps);
        let chosen = match state {
            CanaryState::RolledBack => Vec::new(),
            CanaryState::Promoted => carriers.clone(),
            _ => subset(&carriers, pct),
        };
        self.arrange(
            &carriers,
            &chosen,
            &rec.canary.version,
            &rec.canary.stable_version,
        )
        .await?;
        let now = stamp(self.server_now());
        rec.canary.canary_weight = chosen.iter().map(|e| e.share).sum::<f64>();
        rec.canary.canary_weight = (rec.canary.canary_weight * 10.0).round() / 10.0;
        rec.canary.state = state;
        rec.canary.updated_at = now.clone();
        rec.canary.weight_history.push(WeightChange {
            at: now,
            weight: rec.canary.canary_weight,
        });
        self.remember(&rec);
        Ok(rec.canary)
    }

    pub(super) async fn start(&self, req: &CanaryRequest) -> Result<Canary, BackendError> {
        let p = self.project(&req.bot_id).await?;
        let eps = self.endpoints(&p.id).await?;
        let carriers = carriers(&eps);
        if carriers.len() < 2 {
            return Err(BackendError::Invalid {
                detail: format!(
                    "a canary on Cognigy.AI re-points some of a project's production endpoints: project {} has {} carrying traffic, it needs two or more (deploy blue-green instead)",
                    p.id,
                    carriers.len()
                ),
                errors: Vec::new(),
            });
        }
        let busiest = carriers.last().expect("two or more");
        let stable = busiest.serves().unwrap_or_default().to_string();
        if stable == req.version {
            return Err(BackendError::Invalid {
                detail: format!(
                    "{} is already what the busiest endpoint serves",
                    req.version
                ),
                errors: Vec::new(),
            });
        }
        let started = self.server_now();
        let id = canary_id(started, &p.id, &stable, &req.version);
        let rec = CanaryRec {
            canary: Canary {
                id: id.clone(),
                bot_id: p.id.clone(),
                environment_id: req.environment_id.clone(),
                version: req.version.clone(),
                stable_version: stable,
                state: CanaryState::Running,
                canary_weight: 0.0,
                max_traffic_percentage: req.max_traffic_percentage,
                rollback_thresholds: req.thresholds.clone(),
                started_at: stamp(started),
                updated_at: stamp(started),
                weight_history: Vec::new(),
            },
            project: p.id.clone(),
            started,
        };
        self.remember(&rec);
        self.set_share(&id, req.canary_pct, CanaryState::Running)
            .await
    }

    pub(super) async fn weight(&self, id: &str, pct: f64) -> Result<Canary, BackendError> {
        self.set_share(id, pct, CanaryState::Running).await
    }

    pub(super) async fn promote(&self, id: &str) -> Result<Canary, BackendError> {
        self.set_share(id, 100.0, CanaryState::Promoted).await
    }

    pub(super) async fn abandon(&self, id: &str) -> Result<Canary, BackendError> {
        self.set_share(id, 0.0, CanaryState::RolledBack).await
    }

    pub(super) async fn read(&self, id: &str) -> Result<Canary, BackendError> {
        Ok(self.canary_rec(id).await?.0.canary)
    }

    pub(super) async fn hold(&self, id: &str, paused: bool) -> Result<Canary, BackendError> {
        let (mut rec, _) = self.canary_rec(id).await?;
        if rec.canary.state.is_active() {
            rec.canary.state = if paused {
                CanaryState::Paused
            } else {
                CanaryState::Running
            };
        }
        self.remember(&rec);
        Ok(rec.canary)
    }

    /// The newest `Analytics` record of the project: how far the cache has got.
    async fn newest_record(&self, project: &str) -> Result<Option<DateTime<Utc>>, BackendError> {
        // Within the last hour: the cache lags by minutes, and a bounded query is cheap.
        let since = self.server_now() - chrono::Duration::hours(1);
        let filter = format!(
            "projectId eq {} and timestamp gt {}",
            lit(project),
            lit(&odata_time(since))
        );
        let page = self.odata_page("Analytics", &filter, 1, 0).await?;
        Ok(page
            .first()
            .and_then(|r| r.get("timestamp"))
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc)))
    }

    async fn odata_page(
        &self,
        collection: &str,
        filter: &str,
        top: usize,
        skip: usize,
    ) -> Result<Vec<Value>, BackendError> {
        let req = ApiRequest::get(format!("/v2.4/{collection}"))
            .query("$filter", filter)
            .query("$orderby", "timestamp desc")
            .query("$top", top.to_string())
            .query("$skip", skip.to_string())
            .query("apikey", self.key_text())
            .secret(self.key.0.clone());
        let what = format!("GET /v2.4/{collection}");
        let reply = self.odata.execute(&req, None).await?;
        self.saw(&reply);
        match reply.body.get("value") {
            Some(Value::Array(rows)) => Ok(rows.clone()),
            _ => Err(BackendError::Decode {
                what,
                detail: "the OData page has no value list".into(),
            }),
        }
    }

    /// One arm's evidence in `[from, to)`: a sample of its newest records there.
    async fn arm_point(
        &self,
        project: &str,
        snapshot: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Sample, BackendError> {
        let filter = format!(
            "projectId eq {} and entrypoint eq {} and timestamp ge {} and timestamp lt {}",
            lit(project),
            lit(snapshot),
            lit(&odata_time(from)),
            lit(&odata_time(to))
        );
        let mut s = Sample::default();
        for page in 0..SAMPLE_PAGES {
            let rows = self
                .odata_page("Analytics", &filter, PAGE, page * PAGE)
                .await?;
            for r in &rows {
                s.add(r);
            }
            if rows.len() < PAGE {
                break;
            }
        }
        Ok(s)
    }

    pub(super) async fn metrics(
        &self,
        id: &str,
        since: Option<&str>,
        step: Duration,
    ) -> Result<CanaryMetrics, BackendError> {
        let (rec, _) = self.canary_rec(id).await?;
        let step_s = (step.as_secs() as i64).max(MIN_BUCKET);
        let since = since
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .map_or(rec.started, |t| t.max(rec.started));
        let newest = self.newest_record(&rec.project).await?;
        let now = self.server_now();
        // Only whole buckets the cache has filled: the rest is read at a later look, from
        // where this one ends.
        let filled = newest.map_or(since, |n| n.min(now));
        let align = |t: DateTime<Utc>| t.timestamp().div_euclid(step_s) * step_s;
        let mut baseline = Vec::new();
        let mut canary = Vec::new();
        let mut t = align(since);
        let mut read = 0;
        let mut end = since;
        while t + step_s <= filled.timestamp() && read < MAX_BUCKETS {
            let from = DateTime::from_timestamp(t, 0).unwrap_or(since);
            let to = DateTime::from_timestamp(t + step_s, 0).unwrap_or(filled);
            let partial = false;
            read += 1;
            end = to;
            let weight = weight_at(&rec.canary, to);
            for (arm, snapshot, out) in [
                (false, rec.canary.stable_version.as_str(), &mut baseline),
                (true, rec.canary.version.as_str(), &mut canary),
            ] {
                let s = self
                    .arm_point(&rec.project, snapshot, from.max(since), to.min(end))
                    .await?;
                if s.n > 0 {
                    out.push(s.point(t, &stamp(from), partial, arm.then_some(weight)));
                }
            }
            t += step_s;
        }
        Ok(CanaryMetrics {
            canary_id: id.to_string(),
            step_seconds: step_s as u64,
            window_start: stamp(DateTime::from_timestamp(align(since), 0).unwrap_or(since)),
            window_end: stamp(end),
            baseline,
            canary,
        })
    }
}

/// The canary's weight at `t`, from its history (the last change before `t`).
fn weight_at(c: &Canary, t: DateTime<Utc>) -> f64 {
    c.weight_history
        .iter()
        .rfind(|w| DateTime::parse_from_rfc3339(&w.at).is_ok_and(|at| at.with_timezone(&Utc) <= t))
        .map_or(c.canary_weight, |w| w.weight)
}

/// Sufficient statistics of a sample of `Analytics` records.
#[derive(Debug, Default)]
struct Sample {
    n: u64,
    errors: u64,
    lat: Vec<f64>,
    rated: u64,
    csat_sum: f64,
    csat_sq: f64,
    score_sum: f64,
}

impl Sample {
    fn add(&mut self, r: &Value) {
        self.n += 1;
        if r.get("understood").and_then(Value::as_bool) == Some(false) {
            self.errors += 1;
        }
        if let Some(l) = r.get("executionTime").and_then(Value::as_f64) {
            self.lat.push(l);
        }
        if let Some(x) = r.get("rating").and_then(Value::as_i64) {
            let csat = if x > 0 { 5.0 } else { 1.0 };
            self.rated += 1;
            self.csat_sum += csat;
            self.csat_sq += csat * csat;
        }
        self.score_sum += r.get("intentScore").and_then(Value::as_f64).unwrap_or(0.0);
    }

    fn point(&self, t: i64, at: &str, partial: bool, weight: Option<f64>) -> MetricPoint {
        let n = self.n.max(1) as f64;
        let mean_sd = |xs: &[f64]| -> (Option<f64>, Option<f64>) {
            if xs.is_empty() {
                return (None, None);
            }
            let m = xs.iter().sum::<f64>() / xs.len() as f64;
            let v = if xs.len() > 1 {
                xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64
            } else {
                0.0
            };
            (Some(m), Some(v.sqrt()))
        };
        let (lat_m, lat_sd) = mean_sd(&self.lat);
        let mut sorted = self.lat.clone();
        sorted.sort_by(f64::total_cmp);
        let p95 = (!sorted.is_empty()).then(|| {
            sorted[((sorted.len() as f64 * 0.95).ceil() as usize).clamp(1, sorted.len()) - 1]
        });
        let (sat_m, sat_sd) = if self.rated > 0 {
            let r = self.rated as f64;
            let m = self.csat_sum / r;
            let v = if self.rated > 1 {
                ((self.csat_sq - r * m * m) / (r - 1.0)).max(0.0)
            } else {
                0.0
            };
            (Some(m), Some(v.sqrt()))
        } else {
            (None, None)
        };
        MetricPoint {
            minute: t.div_euclid(60),
            t,
            at: at.to_string(),
            partial,
            conversations: self.n,
            errors: self.errors,
            fallbacks: self.errors,
            handoffs: 0,
            rated: self.rated,
            error_rate: Some(self.errors as f64 / n),
            avg_latency_ms: lat_m,
            latency_sd_ms: lat_sd,
            p95_latency_ms: p95,
            satisfaction_score: sat_m,
            satisfaction_sd: sat_sd,
            intent_score: Some(self.score_sum / n),
            intent_score_sd: None,
            weight,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canary_ids_round_trip() {
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let id = canary_id(t, "p", "aaa", "bbb");
        assert_eq!(parse_canary(&id), Some((t, "p", "aaa", "bbb")));
        assert_eq!(parse_canary("cgcanary.x.p.a.b"), None);
        assert_eq!(parse_canary("cgcanary.1.p.a.b.c"), None);
    }
}
