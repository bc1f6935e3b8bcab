//! Flow deployment (seed 002): paginated export, JSON-schema validation, dependency graph
//! with missing-reference and cycle detection, a SHA-256 manifest written to disk before
//! anything is pushed, push and verify each flow in dependency order, and roll back the
//! flows already pushed if one fails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::engine::events::{Outcome, WorkflowKind};
use crate::engine::{Ctx, Report, Stop, details};

const KIND: WorkflowKind = WorkflowKind::Flows;
pub const STEPS: &[&str] = &[
    "export",
    "validate",
    "dependencies",
    "manifest",
    "push and verify",
];
/// The schema flows must satisfy (after seed 002's FLOW_SCHEMA).
pub const FLOW_SCHEMA: &str = include_str!("../../assets/flow.schema.json");

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FlowsPlan {
    pub environment: String,
    /// Only this bot's flows (default: every flow).
    pub bot: Option<String>,
    /// Where the manifest is written.
    pub manifest_path: PathBuf,
}

/// Schema violations per flow id (empty when every flow is valid).
pub fn schema_problems(flows: &[Value]) -> Result<Vec<String>, String> {
    let schema: Value =
        serde_json::from_str(FLOW_SCHEMA).map_err(|e| format!("flow schema: {e}"))?;
    let validator = jsonschema::validator_for(&schema).map_err(|e| format!("flow schema: {e}"))?;
    let mut problems = Vec::new();
    for (i, f) in flows.iter().enumerate() {
        let id = f
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("#{i}"));
        for e in validator.iter_errors(f) {
            let path = e.instance_path().as_str().to_string();
            problems.push(crate::sanitize::clean(&format!(
                "{id}{}: {}",
                if path.is_empty() {
                    String::new()
                } else {
                    format!(" at {path}")
                },
                e.masked()
            )));
        }
    }
    Ok(problems)
}

/// The dependency graph: flow id -> referenced flow ids, plus non-flow references.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    pub flows: BTreeMap<String, BTreeSet<String>>,
    /// (kind, id, environment) of intent/entity references.
    pub others: BTreeSet<(String, String, String)>,
}

pub fn graph(flows: &[Value], default_env: &str) -> Graph {
    let mut g = Graph::default();
    for f in flows {
        let Some(id) = f.get("id").and_then(Value::as_str) else {
            continue;
        };
        let deps = g.flows.entry(id.to_string()).or_default();
        for r in f
            .get("externalReferences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let kind = r.get("type").and_then(Value::as_str).unwrap_or("");
            let rid = r
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let env = r
                .get("environmentId")
                .and_then(Value::as_str)
                .unwrap_or(default_env)
                .to_string();
            match kind {
                "flow" => {
                    deps.insert(rid);
                }
                "intent" | "entity" => {
                    g.others.insert((kind.to_string(), rid, env));
                }
                _ => {}
            }
        }
    }
    g
}

/// Flow references to flows that are not in the set.
pub fn missing_flows(g: &Graph) -> Vec<String> {
    let mut out = Vec::new();
    for (id, deps) in &g.flows {
        for d in deps {
            if !g.flows.contains_key(d) {
                out.push(format!("{id} → flow {d}"));
            }
        }
    }
    out
}

/// A dependency cycle, as a path `a → b → a`, if there is one.
pub fn find_cycle(g: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        n: &str,
        g: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(n) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = stack.iter().position(|s| s == n).unwrap_or(0);
                let mut cycle = stack[start..].to_vec();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(n.to_string(), Mark::Open);
        stack.push(n.to_string());
        for d in g.flows.get(n).into_iter().flatten() {
            if g.flows.contains_key(d)
                && let Some(c) = visit(d, g, marks, stack)
            {
                return Some(c);
            }
        }
        stack.pop();
        marks.insert(n.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for n in g.flows.keys() {
        let mut stack = Vec::new();
        if let Some(c) = visit(n, g, &mut marks, &mut stack) {
            return Some(c);
        }
    }
    None
}

/// Flow ids with every dependency before its dependents (the graph must be acyclic).
pub fn push_order(g: &Graph) -> Vec<String> {
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut order = Vec::new();
    fn place(
        n: &str,
        g: &Graph,
        done: &mut BTreeSet<String>,
        order: &mut Vec<String>,
        depth: usize,
    ) {
        if done.contains(n) || depth > g.flows.len() {
            return;
        }
        for d in g.flows.get(n).into_iter().flatten() {
            if g.flows.contains_key(d) {
                place(d, g, done, order, depth + 1);
            }
        }
        if done.insert(n.to_string()) {
            order.push(n.to_string());
        }
    }
    for n in g.flows.keys() {
        place(n, g, &mut done, &mut order, 0);
    }
    order
}

/// SHA-256 of a flow's canonical JSON (keys sorted, no whitespace).
pub fn content_hash(flow: &Value) -> String {
    // serde_json's map keeps keys sorted, so to_string is canonical.
    hex::encode(Sha256::digest(flow.to_string().as_bytes()))
}

fn write_manifest(path: &PathBuf, manifest: &Value) -> Result<(), Stop> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Stop::Failed(format!("cannot create {}: {e}", dir.display())))?;
    }
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(manifest).map_err(|e| Stop::Failed(e.to_string()))?;
    std::fs::write(&tmp, text)
        .map_err(|e| Stop::Failed(format!("cannot write {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| Stop::Failed(format!("cannot write {}: {e}", path.display())))
}

pub async fn run(mut ctx: Ctx, plan: FlowsPlan) -> Report {
    ctx.started(
        KIND,
        format!("flows deploy to {}", plan.environment),
        plan.bot.clone(),
        STEPS,
    );
    let mut pushed: Vec<(String, Option<String>)> = Vec::new();
    match run_inner(&mut ctx, &plan, &mut pushed).await {
        Ok(r) => r,
        Err(stop) if !pushed.is_empty() && !matches!(stop, Stop::Audit(_)) => {
            roll_back(&mut ctx, &plan, pushed, stop).await
        }
        Err(stop) => {
            let d = details(&ctx, json!({"environment": plan.environment}));
            ctx.finish_stopped(KIND, stop, d).await
        }
    }
}

async fn run_inner(
    ctx: &mut Ctx,
    plan: &FlowsPlan,
    pushed: &mut Vec<(String, Option<String>)>,
) -> Result<Report, Stop> {
    let backend = ctx.engine.backend.clone();
    ctx.audit_resumed(KIND, plan.bot.as_deref()).await?;
    let flows = ctx
        .step("export", async {
            let flows = backend.list_flows(plan.bot.as_deref()).await?;
            let n = flows.len();
            Ok((flows, Some(format!("{n} flows"))))
        })
        .await?;
    if flows.is_empty() {
        return Err(Stop::Refused("no flows to deploy".into()));
    }
    ctx.step("validate", async {
        let problems = schema_problems(&flows).map_err(Stop::Failed)?;
        if problems.is_empty() {
            Ok(((), Some(format!("{} flows match the schema", flows.len()))))
        } else {
            Err(Stop::Refused(format!(
                "{} schema violation(s): {}",
                problems.len(),
                problems.join("; ")
            )))
        }
    })
    .await?;
    let g = graph(&flows, &plan.environment);
    let g2 = g.clone();
    ctx.step("dependencies", async {
        let mut problems = missing_flows(&g2);
        let mut known: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
        for (kind, id, env) in &g2.others {
            if !known.contains_key(env) {
                let mut set = BTreeSet::new();
                for i in backend.list_intents(env).await? {
                    set.insert(("intent".to_string(), i.id));
                }
                for e in backend.list_entities(env).await? {
                    set.insert(("entity".to_string(), e.id));
                }
                known.insert(env.clone(), set);
            }
            if !known
                .get(env)
                .is_some_and(|s| s.contains(&(kind.clone(), id.clone())))
            {
                problems.push(format!("{kind} {id} does not exist in {env}"));
            }
        }
        if let Some(c) = find_cycle(&g2) {
            problems.push(format!("dependency cycle {}", c.join(" → ")));
        }
        if problems.is_empty() {
            let edges: usize = g2.flows.values().map(BTreeSet::len).sum();
            Ok((
                (),
                Some(format!(
                    "{edges} flow links, {} intent/entity references resolved",
                    g2.others.len()
                )),
            ))
        } else {
            Err(Stop::Refused(format!(
                "dependencies: {}",
                problems.join("; ")
            )))
        }
    })
    .await?;
    let order = push_order(&g);
    let by_id: BTreeMap<String, &Value> = flows
        .iter()
        .filter_map(|f| Some((f.get("id")?.as_str()?.to_string(), f)))
        .collect();
    let mut manifest = json!({
        "manifestVersion": "1.0.0",
        "generatedAt": chrono::Utc::now().to_rfc3339(),
        "targetEnvironment": plan.environment,
        "operator": ctx.engine.operator,
        "operationId": ctx.op_key,
        "flows": order.iter().filter_map(|id| by_id.get(id).map(|f| json!({
            "id": id,
            "name": f.get("name"),
            "version": f.get("version"),
            "contentHash": content_hash(f),
            "status": "pending",
        }))).collect::<Vec<_>>(),
        "dependencyGraph": g.flows.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
    });
    let path = plan.manifest_path.clone();
    let m2 = manifest.clone();
    ctx.step("manifest", async {
        write_manifest(&path, &m2)?;
        Ok(((), Some(format!("written to {}", path.display()))))
    })
    .await?;
    if ctx.resumed().is_none() {
        ctx.audit(KIND, "started", |e| {
            e.environment = Some(plan.environment.clone());
            e.bot = plan.bot.clone();
            e.detail = Some(format!(
                "push {} flows; manifest {}",
                order.len(),
                plan.manifest_path.display()
            ));
            e.metrics = Some(json!({"flows": manifest["flows"]}));
        })
        .await?;
    }
    ctx.emit(crate::engine::events::EventKind::StepStarted {
        step: "push and verify".into(),
    });
    // Journaled before the first push: what is pushed, in which order, with each flow's
    // hash. A relcon killed from here on re-attaches and replays each push under the key it
    // journaled, so every flow is pushed once however often the deploy is interrupted.
    let intended: Vec<Value> = order
        .iter()
        .filter_map(|id| {
            by_id
                .get(id)
                .map(|f| json!({"id": id, "contentHash": content_hash(f)}))
        })
        .collect();
    if let Some(journaled) = ctx.resumed_intent().and_then(|r| r.get("flows")).cloned()
        && journaled != json!(intended)
    {
        return Err(Stop::Refused(
            "the flows changed since the interrupted deploy started: deploy them afresh once it is ended (relcon end OP)".into(),
        ));
    }
    ctx.journal_intent(
        KIND,
        plan.bot.as_deref(),
        json!(plan),
        json!({"flows": intended}),
    )?;
    for (i, id) in order.iter().enumerate() {
        let Some(flow) = by_id.get(id) else { continue };
        let version = flow
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let import = ctx
            .journaled_create(
                &format!("push {id}"),
                backend.import_flow(flow, &plan.environment),
                |imp| format!("{}@{}", imp.flow_id, imp.version),
            )
            .await;
        let outcome: Result<Option<String>, Stop> = match import {
            Ok(import) => {
                pushed.push((id.clone(), import.previous_version.clone()));
                verify_push(&backend, id, &version, &plan.environment)
                    .await
                    .map(|()| import.previous_version)
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(prev) => {
                ctx.detail(format!(
                    "{}/{} {id} {} deployed{}",
                    i + 1,
                    order.len(),
                    version,
                    prev.map(|p| format!(" (was {p})")).unwrap_or_default()
                ));
                if let Some(m) = manifest["flows"].as_array_mut().and_then(|a| a.get_mut(i)) {
                    m["status"] = json!("deployed");
                }
            }
            Err(e) => {
                ctx.emit(crate::engine::events::EventKind::StepFailed {
                    step: "push and verify".into(),
                    reason: format!("{id}: {e}"),
                });
                let _ = write_manifest(&plan.manifest_path, &manifest);
                return Err(Stop::Failed(format!("pushing {id}: {e}")));
            }
        }
    }
    write_manifest(&plan.manifest_path, &manifest)?;
    ctx.emit(crate::engine::events::EventKind::StepFinished {
        step: "push and verify".into(),
        detail: Some(format!("{} flows deployed and verified", order.len())),
    });
    let summary = format!(
        "{} flows deployed to {}; manifest {}",
        order.len(),
        plan.environment,
        plan.manifest_path.display()
    );
    ctx.audit(KIND, "completed", |e| {
        e.environment = Some(plan.environment.clone());
        e.outcome = Some(Outcome::Succeeded.as_str().into());
        e.detail = Some(summary.clone());
    })
    .await?;
    let d = details(
        ctx,
        json!({"environment": plan.environment, "flows": order, "manifest": plan.manifest_path}),
    );
    ctx.notify(KIND, "flows.deployed", d.clone()).await;
    Ok(ctx.finish(KIND, Outcome::Succeeded, summary, d))
}

/// The flow runs `version` in `env` now.
async fn verify_push(
    backend: &std::sync::Arc<dyn crate::backend::ReleaseBackend>,
    id: &str,
    version: &str,
    env: &str,
) -> Result<(), Stop> {
    let status = backend.flow_status(id, env).await?;
    if status.status != "deployed" || status.version.as_deref().is_some_and(|v| v != version) {
        return Err(Stop::Failed(format!(
            "{id} did not verify: status {} version {}",
            status.status,
            status.version.unwrap_or_default()
        )));
    }
    Ok(())
}

async fn roll_back(
    ctx: &mut Ctx,
    plan: &FlowsPlan,
    pushed: Vec<(String, Option<String>)>,
    cause: Stop,
) -> Report {
    let backend = ctx.engine.backend.clone();
    let reason = cause.to_string();
    let env = plan.environment.clone();
    let result = ctx
        .step("roll back", async {
            let mut restored = Vec::new();
            let mut left = Vec::new();
            let mut problems = Vec::new();
            for (id, prev) in pushed.iter().rev() {
                match prev {
                    Some(p) => match backend.rollback_flow(id, Some(p), Some(&env)).await {
                        Ok(_) => restored.push(format!("{id} → {p}")),
                        Err(e) => problems.push(format!("{id}: {e}")),
                    },
                    // Nothing earlier to go back to: the flow stays, and the report says so.
                    None => left.push(id.clone()),
                }
            }
            let done = if restored.is_empty() {
                "nothing restored".to_string()
            } else {
                format!("restored {}", restored.join(", "))
            };
            let left = if left.is_empty() {
                String::new()
            } else {
                format!(
                    "; left deployed, new in {env} with no earlier version: {}",
                    left.join(", ")
                )
            };
            if problems.is_empty() {
                Ok((left.clone(), Some(format!("{done}{left}"))))
            } else {
                Err(Stop::Failed(format!(
                    "{done}; failed: {}{left}",
                    problems.join("; ")
                )))
            }
        })
        .await;
    let (outcome, summary) = match result {
        Ok(left) => (
            Outcome::RolledBack,
            format!(
                "flows deploy to {} rolled back: {reason}{left}",
                plan.environment
            ),
        ),
        Err(e) => (
            Outcome::Failed,
            format!(
                "flows deploy to {} failed ({reason}); rollback incomplete: {e}",
                plan.environment
            ),
        ),
    };
    let d = details(
        ctx,
        json!({"environment": plan.environment, "reason": reason}),
    );
    ctx.conclude_restore(KIND, "flows.rolled_back", outcome, summary, d, |e| {
        e.environment = Some(plan.environment.clone());
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(id: &str, refs: &[&str]) -> Value {
        json!({
            "id": id, "name": id, "version": "1.0.0",
            "nodes": [{"id": "n1", "type": "start", "configuration": {}}],
            "edges": [],
            "externalReferences": refs.iter().map(|r| json!({"type": "flow", "id": r, "environmentId": "e"})).collect::<Vec<_>>(),
        })
    }

    #[test]
    fn graph_finds_missing_cycles_and_order() {
        let flows = vec![
            flow("flow_a", &["flow_b"]),
            flow("flow_b", &["flow_c"]),
            flow("flow_c", &[]),
        ];
        let g = graph(&flows, "e");
        assert!(missing_flows(&g).is_empty());
        assert_eq!(find_cycle(&g), None);
        assert_eq!(push_order(&g), vec!["flow_c", "flow_b", "flow_a"]);
        let g = graph(&[flow("flow_a", &["flow_x"])], "e");
        assert_eq!(missing_flows(&g), vec!["flow_a → flow flow_x"]);
        let g = graph(
            &[flow("flow_a", &["flow_b"]), flow("flow_b", &["flow_a"])],
            "e",
        );
        assert_eq!(
            find_cycle(&g),
            Some(vec!["flow_a".into(), "flow_b".into(), "flow_a".into()])
        );
    }

    #[test]
    fn schema_catches_bad_flows() {
        assert!(schema_problems(&[flow("flow_a", &[])]).unwrap().is_empty());
        let mut bad = flow("flow_a", &[]);
        bad["nodes"][0]["type"] = json!("teleport");
        bad["version"] = json!("v1");
        let p = schema_problems(&[bad]).unwrap();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p.iter().any(|s| s.contains("/nodes/0/type")));
    }

    #[test]
    fn hashes_are_canonical() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":2}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{ "a": 2, "b": 1 }"#).unwrap();
        assert_eq!(content_hash(&a), content_hash(&b));
        assert_eq!(content_hash(&a).len(), 64);
    }
}
