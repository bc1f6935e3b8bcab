//! Canary with automatic rollback (seed 001): a validated plan of traffic steps capped by
//! max traffic; per step hold, sample both arms, judge against the thresholds, and promote
//! or roll back automatically. Operators can promote one step, promote fully, pause,
//! resume and abort.

use std::time::Duration;

use serde_json::{Value, json};

use crate::backend::{CanaryRequest, MetricType, MetricsQuery};
use crate::domain::{Canary, MetricSummary, Stage, Thresholds, VersionStatus};
use crate::engine::events::{CanarySample, EventKind, OpCommand, Outcome, Verdict, WorkflowKind};
use crate::engine::judge::{Judgement, judge};
use crate::engine::{Ctx, Engine, Report, Stop, Woken, details};

const KIND: WorkflowKind = WorkflowKind::Canary;

#[derive(Debug, Clone)]
pub struct CanaryPlan {
    pub bot: String,
    pub version: String,
    /// Default: the bot's production environment with the most traffic.
    pub environment: Option<String>,
    /// Canary shares in percent, ascending; the last one is held before promotion.
    pub steps: Vec<f64>,
    /// How long each step is held (server time).
    pub interval: Duration,
    pub thresholds: Thresholds,
    /// Conversations the canary arm needs before a step can be judged.
    pub min_conversations: u64,
    /// No step may exceed this share.
    pub max_traffic: f64,
    /// How many times a step may be held again for lack of data before rolling back.
    pub max_extensions: u32,
}

impl CanaryPlan {
    /// Every problem with the plan, in words; empty when it is valid.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.steps.is_empty() {
            p.push("the plan has no traffic steps".into());
        }
        let mut prev = 0.0;
        for s in &self.steps {
            if !(*s > 0.0 && *s <= 100.0) {
                p.push(format!("step {s}% is outside (0, 100]"));
            }
            if *s <= prev {
                p.push(format!("steps must rise: {s}% follows {prev}%"));
            }
            if *s > self.max_traffic {
                p.push(format!(
                    "step {s}% is above max traffic {}%",
                    self.max_traffic
                ));
            }
            prev = *s;
        }
        if !(1.0..=100.0).contains(&self.max_traffic) {
            p.push(format!(
                "max traffic {}% is outside 1..=100",
                self.max_traffic
            ));
        }
        let t = &self.thresholds;
        if !(0.0..=1.0).contains(&t.error_rate) {
            p.push(format!(
                "error_rate threshold {} is outside 0..=1",
                t.error_rate
            ));
        }
        if !(0.0..=5.0).contains(&t.satisfaction_score) {
            p.push(format!(
                "satisfaction_score threshold {} is outside 0..=5",
                t.satisfaction_score
            ));
        }
        if t.max_latency_ms <= 0.0 {
            p.push(format!(
                "max_latency_ms threshold {} must be above 0",
                t.max_latency_ms
            ));
        }
        if self.interval < Duration::from_secs(1) {
            p.push("the step interval must be at least 1s".into());
        }
        p
    }

    /// The steps with any above max traffic dropped (for plans built from defaults).
    pub fn capped(mut self) -> CanaryPlan {
        let max = self.max_traffic;
        self.steps.retain(|s| *s <= max);
        if self.steps.last().is_none_or(|l| *l < max) && max < 100.0 {
            self.steps.push(max);
        }
        self
    }
}

pub fn step_names(plan: &CanaryPlan) -> Vec<String> {
    let mut v = vec!["validate".to_string(), "start canary".to_string()];
    for s in &plan.steps {
        v.push(format!("hold {s}%"));
    }
    v.push("promote".into());
    v
}

/// How the run ended, before reporting.
enum End {
    Promoted(String),
    Breach(Judgement, usize),
    NoData(usize),
}

pub async fn run(mut ctx: Ctx, plan: CanaryPlan) -> Report {
    let names = step_names(&plan);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    ctx.started(
        KIND,
        format!("canary {} {}", plan.bot, plan.version),
        Some(plan.bot.clone()),
        &refs,
    );
    let mut canary: Option<Canary> = None;
    let result = run_inner(&mut ctx, &plan, &mut canary).await;
    let base = json!({"bot": plan.bot, "version": plan.version});
    match (result, canary) {
        (Ok(End::Promoted(summary)), Some(c)) => {
            let d = details(
                &ctx,
                json!({"bot": plan.bot, "version": plan.version, "canaryId": c.id, "environment": c.environment_id, "previousVersion": c.stable_version}),
            );
            ctx.notify(KIND, "canary.promoted", d.clone()).await;
            ctx.finish(KIND, Outcome::Succeeded, summary, d)
        }
        (Ok(End::Breach(j, step)), Some(c)) => {
            let reason = format!("step {step}: {}", j.reasons(Verdict::Fail));
            roll_back(&mut ctx, &plan, &c, reason, Some(&j), Outcome::RolledBack).await
        }
        (Ok(End::NoData(step)), Some(c)) => {
            let reason = format!(
                "step {step}: fewer than {} canary conversations after {} holds; not promoting without data",
                plan.min_conversations,
                plan.max_extensions + 1
            );
            roll_back(&mut ctx, &plan, &c, reason, None, Outcome::RolledBack).await
        }
        (Err(stop), Some(c)) if !matches!(stop, Stop::Audit(_)) => {
            // An abort ends as cancelled once the canary is rolled back.
            let restored = if matches!(stop, Stop::Cancelled) {
                Outcome::Cancelled
            } else {
                Outcome::RolledBack
            };
            roll_back(&mut ctx, &plan, &c, stop.to_string(), None, restored).await
        }
        (Err(stop), _) => ctx.finish_stopped(KIND, stop, details(&ctx, base)).await,
        (Ok(_), None) => {
            ctx.finish_stopped(
                KIND,
                Stop::Failed("the canary was never started".into()),
                details(&ctx, base),
            )
            .await
        }
    }
}

async fn validate(engine: &Engine, plan: &CanaryPlan) -> Result<(String, String), Stop> {
    let problems = plan.problems();
    if !problems.is_empty() {
        return Err(Stop::Refused(format!(
            "invalid plan: {}",
            problems.join("; ")
        )));
    }
    let b = engine.backend.as_ref();
    let bot = b.get_bot(&plan.bot).await?;
    if let Some(op) = &bot.active_operation {
        return Err(Stop::Refused(format!(
            "{} already has a {} in progress ({})",
            bot.id,
            op.kind.as_str(),
            op.id
        )));
    }
    let env = match &plan.environment {
        Some(e) => bot
            .environments
            .iter()
            .find(|x| &x.environment_id == e)
            .ok_or_else(|| Stop::Refused(format!("{} is not deployed to {e}", bot.id)))?,
        None => bot
            .environments
            .iter()
            .filter(|e| e.stage == Stage::Production)
            .max_by(|a, b| a.traffic_weight.total_cmp(&b.traffic_weight))
            .ok_or_else(|| Stop::Refused(format!("{} has no production environment", bot.id)))?,
    };
    let versions = b.list_versions(&plan.bot).await?;
    let v = versions
        .iter()
        .find(|v| v.id == plan.version || v.label == plan.version)
        .ok_or_else(|| Stop::Refused(format!("{} has no version {}", plan.bot, plan.version)))?;
    if v.status != VersionStatus::Published {
        return Err(Stop::Refused(format!(
            "version {} is {}; only PUBLISHED versions can be canaried",
            v.id,
            v.status.as_str()
        )));
    }
    let stable = env.live_version.clone().ok_or_else(|| {
        Stop::Refused(format!(
            "nothing is live in {} to compare against",
            env.environment_id
        ))
    })?;
    if stable == v.id {
        return Err(Stop::Refused(format!(
            "{} is already live in {}",
            v.id, env.environment_id
        )));
    }
    Ok((env.environment_id.clone(), v.id.clone()))
}

async fn sample(
    engine: &Engine,
    plan: &CanaryPlan,
    env: &str,
    window: Duration,
) -> Result<(MetricSummary, MetricSummary), Stop> {
    let b = engine.backend.as_ref();
    let q = |metric_type| MetricsQuery {
        bot: plan.bot.clone(),
        environment: Some(env.to_string()),
        version: None,
        metric_type,
        window,
    };
    let canary = b.metrics_summary(&q(MetricType::Canary)).await?;
    let baseline = b.metrics_summary(&q(MetricType::Baseline)).await?;
    Ok((baseline, canary))
}

async fn run_inner(
    ctx: &mut Ctx,
    plan: &CanaryPlan,
    started: &mut Option<Canary>,
) -> Result<End, Stop> {
    let engine = ctx.engine.clone();
    let (env, version) = ctx
        .step("validate", async {
            let (env, version) = validate(&engine, plan).await?;
            let d = format!("{version} in {env}; steps {:?}", plan.steps);
            Ok(((env, version), Some(d)))
        })
        .await?;
    let first = plan.steps[0];
    ctx.audit(KIND, "started", |e| {
        e.bot = Some(plan.bot.clone());
        e.environment = Some(env.clone());
        e.to_version = Some(version.clone());
        e.detail = Some(format!("canary at {first}%"));
        e.metrics = Some(json!({"steps": plan.steps, "intervalSeconds": plan.interval.as_secs(), "thresholds": plan.thresholds, "minConversations": plan.min_conversations}));
    })
    .await?;
    let request = CanaryRequest {
        bot_id: plan.bot.clone(),
        environment_id: env.clone(),
        version: version.clone(),
        stable_pct: 100.0 - first,
        canary_pct: first,
        thresholds: plan.thresholds.clone(),
        max_traffic_percentage: plan.max_traffic,
    };
    let backend = engine.backend.clone();
    let canary = ctx
        .step("start canary", async {
            let c = backend.start_canary(&request).await?;
            let d = format!(
                "{} serving {}% ({} stable)",
                c.id, c.canary_weight, c.stable_version
            );
            Ok((c, Some(d)))
        })
        .await?;
    *started = Some(canary.clone());
    ctx.emit(EventKind::Linked {
        server_id: canary.id.clone(),
    });
    {
        let b = backend.clone();
        let id = canary.id.clone();
        ctx.set_pause_hook(std::sync::Arc::new(move |paused| {
            let b = b.clone();
            let id = id.clone();
            Box::pin(async move {
                // Best effort: the pause holds in relcon either way.
                let _ = if paused {
                    b.pause_canary(&id).await
                } else {
                    b.resume_canary(&id).await
                };
            })
        }));
    }
    let total = plan.steps.len();
    let mut i = 0;
    while i < total {
        let weight = plan.steps[i];
        let step_no = i + 1;
        let name = format!("hold {weight}%");
        if i > 0 {
            // Raising traffic is a decision on the previous step's verdict, already audited.
            backend.set_canary_weight(&canary.id, weight).await?;
        }
        ctx.emit(EventKind::StepStarted { step: name.clone() });
        match hold(ctx, plan, &canary, &env, step_no, weight).await {
            Ok(HoldEnd::Pass(j)) => {
                ctx.emit(EventKind::StepFinished {
                    step: name,
                    detail: Some(j.reasons(Verdict::Pass)),
                });
                audit_decision(ctx, plan, &env, &version, step_no, weight, "advance", &j).await?;
                i += 1;
            }
            Ok(HoldEnd::Skip) => {
                ctx.emit(EventKind::StepFinished {
                    step: name,
                    detail: Some("promoted early by the operator".into()),
                });
                ctx.audit(KIND, "decision", |e| {
                    e.bot = Some(plan.bot.clone());
                    e.to_version = Some(version.clone());
                    e.detail = Some(format!(
                        "operator promoted step {step_no} ({weight}%) without waiting"
                    ));
                })
                .await?;
                i += 1;
            }
            Ok(HoldEnd::Full) => {
                ctx.emit(EventKind::StepFinished {
                    step: name,
                    detail: Some("operator promoted fully".into()),
                });
                ctx.audit(KIND, "decision", |e| {
                    e.bot = Some(plan.bot.clone());
                    e.to_version = Some(version.clone());
                    e.detail = Some(format!(
                        "operator promoted fully at step {step_no} ({weight}%)"
                    ));
                })
                .await?;
                break;
            }
            Ok(HoldEnd::Fail(j)) => {
                ctx.emit(EventKind::StepFailed {
                    step: name,
                    reason: j.reasons(Verdict::Fail),
                });
                audit_decision(ctx, plan, &env, &version, step_no, weight, "roll back", &j).await?;
                return Ok(End::Breach(j, step_no));
            }
            Ok(HoldEnd::NoData) => {
                ctx.emit(EventKind::StepFailed {
                    step: name,
                    reason: "not enough conversations to judge".into(),
                });
                return Ok(End::NoData(step_no));
            }
            Err(e) => {
                ctx.emit(EventKind::StepFailed {
                    step: name,
                    reason: e.to_string(),
                });
                return Err(e);
            }
        }
    }
    let c = ctx
        .step("promote", async {
            let c = backend.promote_canary(&canary.id).await?;
            Ok((c, Some(format!("{version} now live in {env}"))))
        })
        .await?;
    let summary = format!(
        "{} {} promoted in {} after {} step(s) (was {})",
        plan.bot, version, env, total, c.stable_version
    );
    ctx.audit(KIND, "completed", |e| {
        e.bot = Some(plan.bot.clone());
        e.environment = Some(env.clone());
        e.from_version = Some(c.stable_version.clone());
        e.to_version = Some(version.clone());
        e.outcome = Some(Outcome::Succeeded.as_str().into());
        e.detail = Some(summary.clone());
    })
    .await?;
    Ok(End::Promoted(summary))
}

enum HoldEnd {
    Pass(Judgement),
    Fail(Judgement),
    NoData,
    Skip,
    Full,
}

/// Hold one step: sample a few times (for the charts and early breach detection), then
/// judge at the end of the interval. Lack of data extends the hold.
async fn hold(
    ctx: &mut Ctx,
    plan: &CanaryPlan,
    canary: &Canary,
    env: &str,
    step: usize,
    weight: f64,
) -> Result<HoldEnd, Stop> {
    let engine = ctx.engine.clone();
    let samples = 4u32;
    let slice = plan.interval / samples;
    let mut extensions = 0;
    let clock = ctx.clock();
    let step_started = tokio::time::Instant::now();
    loop {
        let mut last = None;
        for _ in 0..samples {
            match ctx
                .wait(&format!("canary step {step} decision"), slice)
                .await?
            {
                Woken::Elapsed => {}
                Woken::Command(OpCommand::PromoteStep) => return Ok(HoldEnd::Skip),
                Woken::Command(OpCommand::PromoteFull) => return Ok(HoldEnd::Full),
                Woken::Command(_) => {}
            }
            // Judge everything since this step began (extensions included), at least a minute.
            let window = clock
                .to_server(step_started.elapsed())
                .max(Duration::from_secs(60));
            let (baseline, canary_m) = sample(&engine, plan, env, window).await?;
            let j = judge(
                &plan.thresholds,
                &baseline,
                &canary_m,
                plan.min_conversations,
            );
            let actual = engine
                .backend
                .get_canary(&canary.id)
                .await
                .ok()
                .map(|c| c.canary_weight);
            ctx.emit(EventKind::Canary(CanarySample {
                step,
                steps_total: plan.steps.len(),
                weight_set: weight,
                weight_actual: actual,
                baseline: baseline.clone(),
                canary: canary_m.clone(),
                verdicts: j.verdicts.clone(),
            }));
            if j.overall == Verdict::Fail {
                // A breach with enough data does not wait for the end of the step.
                return Ok(HoldEnd::Fail(j));
            }
            last = Some(j);
        }
        match last {
            Some(j) if j.overall == Verdict::Pass => return Ok(HoldEnd::Pass(j)),
            _ if extensions >= plan.max_extensions => return Ok(HoldEnd::NoData),
            _ => {
                extensions += 1;
                ctx.detail(format!(
                    "step {step}: not enough canary conversations yet; holding {weight}% again ({extensions}/{})",
                    plan.max_extensions
                ));
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn audit_decision(
    ctx: &Ctx,
    plan: &CanaryPlan,
    env: &str,
    version: &str,
    step: usize,
    weight: f64,
    decision: &str,
    j: &Judgement,
) -> Result<(), Stop> {
    let metrics: Value = json!({
        "step": step,
        "weight": weight,
        "verdict": format!("{:?}", j.overall).to_lowercase(),
        "verdicts": j.verdicts,
        "thresholds": plan.thresholds,
    });
    ctx.audit(KIND, "decision", |e| {
        e.bot = Some(plan.bot.clone());
        e.environment = Some(env.to_string());
        e.to_version = Some(version.to_string());
        e.detail = Some(format!("step {step} at {weight}%: {decision}"));
        e.metrics = Some(metrics);
    })
    .await
}

/// Roll the canary back; `restored` is the outcome to report (and announce) if that works.
async fn roll_back(
    ctx: &mut Ctx,
    plan: &CanaryPlan,
    c: &Canary,
    reason: String,
    j: Option<&Judgement>,
    restored: Outcome,
) -> Report {
    let backend = ctx.engine.backend.clone();
    let r = ctx
        .step("roll back", async {
            backend.rollback_canary(&c.id, &reason).await?;
            Ok((
                (),
                Some(format!(
                    "{} back to 0%, {} keeps all traffic",
                    c.version, c.stable_version
                )),
            ))
        })
        .await;
    let (outcome, summary) = match r {
        Ok(()) => (
            restored,
            format!("canary {} {} rolled back: {reason}", plan.bot, c.version),
        ),
        Err(e) => (
            Outcome::Failed,
            format!(
                "canary {} {} must be rolled back ({reason}) but that failed: {e}",
                plan.bot, c.version
            ),
        ),
    };
    let metrics = j.map(|j| json!({"verdicts": j.verdicts, "thresholds": plan.thresholds}));
    let d = details(
        ctx,
        json!({"bot": plan.bot, "version": c.version, "canaryId": c.id, "environment": c.environment_id, "stableVersion": c.stable_version, "reason": reason}),
    );
    ctx.conclude_restore(KIND, "canary.rolled_back", outcome, summary, d, |e| {
        e.bot = Some(plan.bot.clone());
        e.environment = Some(c.environment_id.clone());
        e.from_version = Some(c.version.clone());
        e.to_version = Some(c.stable_version.clone());
        e.metrics = metrics;
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(steps: Vec<f64>, max: f64) -> CanaryPlan {
        CanaryPlan {
            bot: "b".into(),
            version: "v".into(),
            environment: None,
            steps,
            interval: Duration::from_secs(60),
            thresholds: Thresholds::default(),
            min_conversations: 50,
            max_traffic: max,
            max_extensions: 2,
        }
    }

    #[test]
    fn plans_are_validated() {
        assert!(
            plan(vec![5.0, 10.0, 25.0, 50.0, 100.0], 100.0)
                .problems()
                .is_empty()
        );
        assert!(!plan(vec![10.0, 5.0], 100.0).problems().is_empty());
        assert!(!plan(vec![5.0, 50.0], 25.0).problems().is_empty());
        assert!(!plan(vec![], 100.0).problems().is_empty());
        let capped = plan(vec![5.0, 10.0, 25.0, 50.0, 100.0], 30.0).capped();
        assert_eq!(capped.steps, vec![5.0, 10.0, 25.0, 30.0]);
        assert!(capped.problems().is_empty());
    }
}
