//! Canary with automatic rollback (seed 001): a validated plan of traffic steps capped by
//! max traffic. Each step is held and looked at every `look_every`: the judge compares the
//! arms since the canary started (see [`crate::engine::judge`]) and the step policy decides
//! — hold, advance, promote, roll back on a failure, extend or pause when the evidence is
//! not in. Operators can promote one step, promote fully, pause, resume (which, after a
//! pause for lack of evidence, extends the hold) and abort. Every decision is audited and
//! kept in the run's analysis history.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::backend::CanaryRequest;
use crate::domain::{Canary, CanaryState, Stage, Thresholds, VersionStatus};
use crate::engine::events::{
    CanaryDecision, CanarySample, EventKind, OpCommand, Outcome, Verdict, WorkflowKind,
};
use crate::engine::judge::policy::{Action, Budgets, PauseWhy, Policy};
use crate::engine::judge::{Analysis, Evidence, JudgeConfig, analyze, margin_for};
use crate::engine::{Ctx, Engine, Report, Stop, Woken, details};

const KIND: WorkflowKind = WorkflowKind::Canary;

/// The bucket size the evidence is read at (server time).
pub const BUCKET: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CanaryPlan {
    pub bot: String,
    pub version: String,
    /// Default: the bot's production environment with the most traffic.
    pub environment: Option<String>,
    /// Canary shares in percent, ascending; the last one is held before promotion.
    pub steps: Vec<f64>,
    /// No step may exceed this share.
    pub max_traffic: f64,
    /// The server's rollback thresholds; the judge holds them as guardrails.
    pub thresholds: Thresholds,
    pub judge: JudgeConfig,
    pub budgets: Budgets,
    /// How often the evidence is read and judged (server time).
    pub look_every: Duration,
    /// Someone can answer a pause (the console). Headless runs end paused instead.
    pub interactive: bool,
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
        if self.look_every < Duration::from_secs(1) {
            p.push("looks must be at least 1s apart".into());
        }
        p.extend(self.budgets.problems());
        p.extend(self.judge.problems());
        p
    }

    /// The steps with any above max traffic dropped, and max traffic as the last step (for
    /// plans built from defaults).
    pub fn capped(mut self) -> CanaryPlan {
        let max = self.max_traffic;
        self.steps.retain(|s| *s <= max);
        if self.steps.last().is_none_or(|l| *l < max) && max < 100.0 {
            self.steps.push(max);
        }
        self
    }

    /// How often a step of `interval` is looked at: six times a hold, 5 to 30 seconds apart.
    pub fn look_every_for(interval: Duration) -> Duration {
        (interval / 6).clamp(Duration::from_secs(5), Duration::from_secs(30))
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
    /// A failure (or a spent budget with `on_inconclusive = rollback`): roll back with this
    /// reason.
    RollBack(String),
    /// Stopped for a person who is not there (headless): the canary stays paused.
    Paused(String),
    /// The server ended the canary while nobody drove it (found so on re-attaching).
    Settled(Outcome, String),
}

/// What a canary run keeps: its state on the server, the evidence, the decisions.
struct Run {
    canary: Canary,
    env: String,
    version: String,
    evidence: Evidence,
    policy: Policy,
    decisions: Vec<CanaryDecision>,
    last: Option<Analysis>,
    weight: f64,
}

pub async fn run(mut ctx: Ctx, plan: CanaryPlan) -> Report {
    // A re-attached run carries on with the plan its predecessor journaled.
    let plan = ctx.resumed_plan().unwrap_or(plan);
    let names = step_names(&plan);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    ctx.started(
        KIND,
        format!("canary {} {}", plan.bot, plan.version),
        Some(plan.bot.clone()),
        &refs,
    );
    let mut run: Option<Run> = None;
    let result = run_inner(&mut ctx, &plan, &mut run).await;
    let base = json!({"bot": plan.bot, "version": plan.version});
    let Some(r) = run else {
        let stop = match result {
            Err(stop) => stop,
            Ok(_) => Stop::Failed("the canary was never started".into()),
        };
        return ctx.finish_stopped(KIND, stop, details(&ctx, base)).await;
    };
    let c = r.canary.clone();
    let history = json!(r.decisions);
    let mut d = details(
        &ctx,
        json!({"bot": plan.bot, "version": plan.version, "canaryId": c.id, "environment": c.environment_id, "previousVersion": c.stable_version, "decisions": history, "judge": plan.judge, "budgets": plan.budgets}),
    );
    match result {
        Ok(End::Promoted(summary)) => {
            ctx.notify(KIND, "canary.promoted", d.clone()).await;
            ctx.finish(KIND, Outcome::Succeeded, summary, d)
        }
        Ok(End::RollBack(reason)) => {
            roll_back(&mut ctx, &plan, &r, reason, Outcome::RolledBack, d).await
        }
        Ok(End::Settled(outcome, summary)) => ctx.finish(KIND, outcome, summary, d),
        Ok(End::Paused(reason)) => {
            let summary = format!(
                "canary {} {} paused at {}% for a decision: {reason}; it keeps its traffic \
                 until someone promotes, resumes or rolls it back (relcon console)",
                plan.bot, c.version, r.weight
            );
            let s = summary.clone();
            let _ = ctx
                .audit(KIND, "paused", |e| {
                    e.bot = Some(plan.bot.clone());
                    e.environment = Some(r.env.clone());
                    e.to_version = Some(r.version.clone());
                    e.outcome = Some(Outcome::Paused.as_str().into());
                    e.detail = Some(s);
                })
                .await;
            d["weight"] = json!(r.weight);
            ctx.finish(KIND, Outcome::Paused, summary, d)
        }
        Err(stop) if !matches!(stop, Stop::Audit(_)) => {
            // An abort ends as cancelled once the canary is rolled back.
            let restored = if matches!(stop, Stop::Cancelled) {
                Outcome::Cancelled
            } else {
                Outcome::RolledBack
            };
            roll_back(&mut ctx, &plan, &r, stop.to_string(), restored, d).await
        }
        Err(stop) => ctx.finish_stopped(KIND, stop, d).await,
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
        return Err(super::control::busy(b, &bot.id, op.kind.as_str(), &op.id).await);
    }
    let env = match &plan.environment {
        Some(e) => bot
            .environments
            .iter()
            .find(|x| &x.environment_id == e)
            .ok_or_else(|| Stop::NotFound(format!("{} is not deployed to {e}", bot.id)))?,
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
        .ok_or_else(|| Stop::NotFound(format!("{} has no version {}", plan.bot, plan.version)))?;
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

async fn run_inner(ctx: &mut Ctx, plan: &CanaryPlan, slot: &mut Option<Run>) -> Result<End, Stop> {
    let engine = ctx.engine.clone();
    let first = plan.steps[0];
    let journaled: Option<(String, String)> = ctx.resumed_intent().and_then(|r| {
        Some((
            r.get("environment")?.as_str()?.to_string(),
            r.get("version")?.as_str()?.to_string(),
        ))
    });
    let (env, version) = match journaled {
        Some((env, version)) => {
            ctx.emit(EventKind::StepFinished {
                step: "validate".into(),
                detail: Some(format!(
                    "{version} in {env}, as the interrupted run resolved it"
                )),
            });
            ctx.audit_resumed(KIND, Some(&plan.bot)).await?;
            (env, version)
        }
        None => {
            let (env, version) = ctx
                .step("validate", async {
                    let (env, version) = validate(&engine, plan).await?;
                    let d = format!("{version} in {env}; steps {:?}", plan.steps);
                    Ok(((env, version), Some(d)))
                })
                .await?;
            ctx.journal_intent(
                KIND,
                Some(&plan.bot),
                json!(plan),
                json!({"environment": env, "version": version}),
            )?;
            ctx.audit(KIND, "started", |e| {
                e.bot = Some(plan.bot.clone());
                e.environment = Some(env.clone());
                e.to_version = Some(version.clone());
                e.detail = Some(format!("canary at {first}%"));
                e.metrics = Some(json!({"steps": plan.steps, "thresholds": plan.thresholds, "judge": plan.judge, "budgets": plan.budgets}));
            })
            .await?;
            (env, version)
        }
    };
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
    let step = "start canary";
    ctx.emit(EventKind::StepStarted { step: step.into() });
    let started = match ctx.journaled_id(step) {
        Some(id) => backend.get_canary(&id).await.map_err(Stop::from),
        None => {
            ctx.journaled_create(step, backend.start_canary(&request), |c: &Canary| {
                c.id.clone()
            })
            .await
        }
    };
    let canary = match started {
        // Re-attached: what the canary is now, not what it was when it started.
        Ok(c) if ctx.resumed().is_some() => backend.get_canary(&c.id).await.map_err(Stop::from),
        other => other,
    };
    let canary = match canary {
        Ok(c) => {
            let how = if ctx.resumed().is_some() {
                "adopted: "
            } else {
                ""
            };
            ctx.emit(EventKind::StepFinished {
                step: step.into(),
                detail: Some(format!(
                    "{how}{} serving {}% ({} stable)",
                    c.id, c.canary_weight, c.stable_version
                )),
            });
            c
        }
        Err(e) => {
            ctx.emit(EventKind::StepFailed {
                step: step.into(),
                reason: e.to_string(),
            });
            return Err(e);
        }
    };
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
    // A re-attached run takes up the step the canary stands at; the judge reads its
    // evidence again from the canary's start.
    let at = if ctx.resumed().is_some() {
        plan.steps
            .iter()
            .rposition(|s| *s <= canary.canary_weight + 1e-9)
            .unwrap_or(0)
    } else {
        0
    };
    let mut policy = Policy::new(plan.budgets, plan.steps.len());
    for _ in 0..at {
        policy.next_step();
    }
    let settled = (!canary.state.is_active()).then_some(canary.state);
    let run = slot.insert(Run {
        weight: if at > 0 { plan.steps[at] } else { first },
        canary,
        env,
        version,
        evidence: Evidence::default(),
        policy,
        decisions: Vec::new(),
        last: None,
    });
    if let Some(state) = settled {
        let outcome = if state == CanaryState::Promoted {
            Outcome::Succeeded
        } else {
            Outcome::RolledBack
        };
        let summary = format!(
            "canary {} {} was {} on the server while nobody drove it",
            plan.bot,
            run.version,
            state.as_str().replace('_', " ")
        );
        ctx.audit(KIND, "completed", |e| {
            e.bot = Some(plan.bot.clone());
            e.environment = Some(run.env.clone());
            e.to_version = Some(run.version.clone());
            e.outcome = Some(outcome.as_str().into());
            e.detail = Some(summary.clone());
        })
        .await?;
        return Ok(End::Settled(outcome, summary));
    }
    if at > 0 {
        ctx.detail(format!(
            "re-attached at step {} of {} ({}%)",
            at + 1,
            plan.steps.len(),
            plan.steps[at]
        ));
    }
    let total = plan.steps.len();
    let mut i = at;
    while i < total {
        let weight = plan.steps[i];
        let name = format!("hold {weight}%");
        if i > 0 {
            // Raising traffic is a decision on the previous step's verdict, already audited.
            backend.set_canary_weight(&run.canary.id, weight).await?;
        }
        run.weight = weight;
        ctx.emit(EventKind::StepStarted { step: name.clone() });
        match hold(ctx, plan, run, i).await {
            Ok(Next::Step(detail)) => {
                ctx.journal_step(&name)?;
                ctx.emit(EventKind::StepFinished {
                    step: name,
                    detail: Some(detail),
                });
                run.policy.next_step();
                i += 1;
            }
            Ok(Next::PromoteNow(detail)) => {
                ctx.emit(EventKind::StepFinished {
                    step: name,
                    detail: Some(detail),
                });
                break;
            }
            Ok(Next::End(End::RollBack(reason))) => {
                ctx.emit(EventKind::StepFailed {
                    step: name,
                    reason: reason.clone(),
                });
                return Ok(End::RollBack(reason));
            }
            Ok(Next::End(end)) => return Ok(end),
            Err(e) => {
                ctx.emit(EventKind::StepFailed {
                    step: name,
                    reason: e.to_string(),
                });
                return Err(e);
            }
        }
    }
    let id = run.canary.id.clone();
    let (env, version) = (run.env.clone(), run.version.clone());
    let c = ctx
        .step("promote", async {
            let c = backend.promote_canary(&id).await?;
            Ok((c, Some(format!("{version} now live in {env}"))))
        })
        .await?;
    let steps_done = run.policy.step() + 1;
    let summary = format!(
        "{} {} promoted in {} at step {steps_done} of {total} (was {})",
        plan.bot, run.version, run.env, c.stable_version
    );
    ctx.audit(KIND, "completed", |e| {
        e.bot = Some(plan.bot.clone());
        e.environment = Some(run.env.clone());
        e.from_version = Some(c.stable_version.clone());
        e.to_version = Some(run.version.clone());
        e.outcome = Some(Outcome::Succeeded.as_str().into());
        e.detail = Some(summary.clone());
    })
    .await?;
    Ok(End::Promoted(summary))
}

/// How a step ended.
enum Next {
    /// Go on to the next step (or to promotion after the last).
    Step(String),
    /// Promote now, skipping the remaining steps.
    PromoteNow(String),
    End(End),
}

/// Hold one step: look at the evidence every `look_every` and let the policy decide.
async fn hold(ctx: &mut Ctx, plan: &CanaryPlan, run: &mut Run, index: usize) -> Result<Next, Stop> {
    let step = index + 1;
    let weight = plan.steps[index];
    let mut held = Duration::ZERO;
    loop {
        match ctx
            .wait(&format!("canary step {step} look"), plan.look_every)
            .await?
        {
            Woken::Elapsed => held += plan.look_every,
            Woken::Command(OpCommand::PromoteStep) => {
                decide(
                    ctx,
                    plan,
                    run,
                    step,
                    "advance (operator)",
                    "the operator promoted the step without waiting",
                )
                .await?;
                return Ok(if run.policy.is_last_step() {
                    Next::PromoteNow("promoted by the operator".into())
                } else {
                    Next::Step("promoted early by the operator".into())
                });
            }
            Woken::Command(OpCommand::PromoteFull) => {
                decide(
                    ctx,
                    plan,
                    run,
                    step,
                    "promote (operator)",
                    "the operator promoted the canary fully",
                )
                .await?;
                return Ok(Next::PromoteNow("operator promoted fully".into()));
            }
            Woken::Command(_) => {}
        }
        let action = look(ctx, plan, run, step, weight, held).await;
        match action {
            Action::Hold => {}
            Action::Extend { extension } => {
                let why = run.last.as_ref().map(|a| a.summary()).unwrap_or_default();
                let detail =
                    format!("step {step} held at {weight}% again (extension {extension}): {why}");
                ctx.detail(detail.clone());
                decide(ctx, plan, run, step, "extend", &why).await?;
            }
            Action::Advance | Action::AdvanceInconclusive => {
                let inconclusive = action == Action::AdvanceInconclusive;
                let why = verdict_line(run);
                let word = if inconclusive {
                    "advance (budget spent, on_inconclusive = promote)"
                } else {
                    "advance"
                };
                decide(ctx, plan, run, step, word, &why).await?;
                return Ok(Next::Step(why));
            }
            Action::Promote => {
                let why = verdict_line(run);
                decide(ctx, plan, run, step, "promote", &why).await?;
                return Ok(Next::Step(why));
            }
            Action::RollBack => {
                let why = verdict_line(run);
                decide(ctx, plan, run, step, "roll back", &why).await?;
                return Ok(Next::End(End::RollBack(format!(
                    "step {step} ({weight}%): {why}"
                ))));
            }
            Action::Pause(why) => {
                let reason = match why {
                    PauseWhy::Inconclusive => format!(
                        "inconclusive after {} at {weight}%: {}",
                        clock_text(held),
                        verdict_line(run)
                    ),
                    PauseWhy::ReadErrors => format!(
                        "the canary's metrics could not be read {} times in a row (an API error, not a metric failure)",
                        plan.budgets.error_limit
                    ),
                };
                decide(ctx, plan, run, step, "pause", &reason).await?;
                if !plan.interactive {
                    let _ = ctx.backend().pause_canary(&run.canary.id).await;
                    return Ok(Next::End(End::Paused(reason)));
                }
                ctx.detail(format!(
                    "paused: {reason} — promote, resume to extend, or abort to roll back"
                ));
                match ctx.await_person().await? {
                    OpCommand::PromoteStep => {
                        decide(
                            ctx,
                            plan,
                            run,
                            step,
                            "advance (operator)",
                            "the operator promoted the paused step",
                        )
                        .await?;
                        return Ok(if run.policy.is_last_step() {
                            Next::PromoteNow("promoted by the operator".into())
                        } else {
                            Next::Step("promoted by the operator".into())
                        });
                    }
                    OpCommand::PromoteFull => {
                        decide(
                            ctx,
                            plan,
                            run,
                            step,
                            "promote (operator)",
                            "the operator promoted the paused canary fully",
                        )
                        .await?;
                        return Ok(Next::PromoteNow("operator promoted fully".into()));
                    }
                    _ => {
                        run.policy.extend(held);
                        decide(
                            ctx,
                            plan,
                            run,
                            step,
                            "extend (operator)",
                            "the operator resumed the hold with a fresh budget",
                        )
                        .await?;
                    }
                }
            }
        }
    }
}

/// Read what is new, judge, tell the faces, and ask the policy.
async fn look(
    ctx: &mut Ctx,
    plan: &CanaryPlan,
    run: &mut Run,
    step: usize,
    weight: f64,
    held: Duration,
) -> Action {
    let since = run.evidence.next_since();
    let read = ctx
        .backend()
        .canary_metrics(&run.canary.id, since.as_deref(), BUCKET)
        .await;
    match read {
        Err(e) => {
            let action = run.policy.read_failed();
            ctx.detail(format!(
                "canary metrics not read ({} of {} in a row; an API error is not a metric failure): {e}",
                run.policy.read_errors().max(1),
                plan.budgets.error_limit
            ));
            action
        }
        Ok(m) => {
            run.evidence.add_read(&m);
            // The exposure the next step leads to (all of it after the last).
            let next = plan.steps.get(step).copied().unwrap_or(100.0);
            run.evidence.set_step_weight(weight);
            let a = analyze(&plan.judge, &mut run.evidence, margin_for(next));
            let actual = m.canary.iter().rev().find_map(|p| p.weight);
            let (canary, baseline) = run.evidence.summaries();
            let (window_start, window_end) = run.evidence.window();
            let (step_canary, step_baseline) = run.evidence.at_weight(weight);
            ctx.emit(EventKind::Canary(Box::new(CanarySample {
                step,
                steps_total: plan.steps.len(),
                weight_set: weight,
                weight_actual: actual,
                baseline,
                canary,
                step_canary,
                step_baseline,
                window_start,
                window_end,
                verdict: a.verdict,
                verdicts: a.metrics.clone(),
                held_seconds: held.as_secs_f64(),
                min_hold_seconds: plan.budgets.interval.as_secs_f64(),
                max_hold_seconds: run.policy.hold_limit().as_secs_f64(),
            })));
            let action = run.policy.look(held, a.verdict);
            run.last = Some(a);
            action
        }
    }
}

/// The last look's verdict in one line.
fn verdict_line(run: &Run) -> String {
    run.last
        .as_ref()
        .map(|a| a.summary())
        .unwrap_or_else(|| "no metrics read yet".into())
}

fn clock_text(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}", s / 60, s % 60)
}

/// Record a decision: in the history, as an event, and in the audit trail (fsynced).
async fn decide(
    ctx: &Ctx,
    plan: &CanaryPlan,
    run: &mut Run,
    step: usize,
    action: &str,
    reason: &str,
) -> Result<(), Stop> {
    let a = run.last.as_ref();
    let d = CanaryDecision {
        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        step,
        weight: run.weight,
        verdict: a.map(|a| a.verdict).unwrap_or(Verdict::Inconclusive),
        action: action.to_string(),
        reason: reason.to_string(),
        n_canary: a.map(|a| a.n_canary).unwrap_or_default(),
        n_baseline: a.map(|a| a.n_baseline).unwrap_or_default(),
        metrics: a.map(|a| a.metrics.clone()).unwrap_or_default(),
    };
    ctx.emit(EventKind::CanaryDecision(Box::new(d.clone())));
    let metrics: Value = json!({
        "step": d.step,
        "weight": d.weight,
        "verdict": d.verdict,
        "action": d.action,
        "canaryConversations": d.n_canary,
        "baselineConversations": d.n_baseline,
        "verdicts": d.metrics,
        "alpha": plan.judge.alpha,
    });
    let detail = format!("step {step} at {}%: {action}: {reason}", run.weight);
    run.decisions.push(d);
    ctx.audit(KIND, "decision", |e| {
        e.bot = Some(plan.bot.clone());
        e.environment = Some(run.env.clone());
        e.to_version = Some(run.version.clone());
        e.detail = Some(detail);
        e.metrics = Some(metrics);
    })
    .await
}

/// Roll the canary back; `restored` is the outcome to report (and announce) if that works.
async fn roll_back(
    ctx: &mut Ctx,
    plan: &CanaryPlan,
    run: &Run,
    reason: String,
    restored: Outcome,
    mut d: Value,
) -> Report {
    let backend = ctx.engine.backend.clone();
    let c = &run.canary;
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
    let metrics = run
        .last
        .as_ref()
        .map(|a| json!({"verdicts": a.metrics, "thresholds": plan.thresholds}));
    d["reason"] = json!(reason);
    d["stableVersion"] = json!(c.stable_version);
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
            max_traffic: max,
            thresholds: Thresholds::default(),
            judge: JudgeConfig::standard(0.01, &Thresholds::default()),
            budgets: Budgets::default(),
            look_every: Duration::from_secs(10),
            interactive: false,
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
        let mut short = plan(vec![5.0], 100.0);
        short.budgets.max_hold = Duration::from_secs(10);
        assert!(short.problems().iter().any(|p| p.contains("longest hold")));
    }

    #[test]
    fn looks_are_six_a_step_within_bounds() {
        assert_eq!(
            CanaryPlan::look_every_for(Duration::from_secs(60)),
            Duration::from_secs(10)
        );
        assert_eq!(
            CanaryPlan::look_every_for(Duration::from_secs(10)),
            Duration::from_secs(5)
        );
        assert_eq!(
            CanaryPlan::look_every_for(Duration::from_secs(900)),
            Duration::from_secs(30)
        );
    }
}
