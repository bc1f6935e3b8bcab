//! Questions about the data alone, asked by the panes and by `update` alike: where a
//! stage's traffic goes, which version is the last known good, what a verdict means.

use crate::domain::{BotEnvironment, BotSummary, Stage, Version};

/// Where a stage's traffic goes now: the environment with the largest weight, and the
/// other environments of the stage (the idle colours).
pub fn live_and_idle(
    bot: &BotSummary,
    stage: Stage,
) -> (Option<&BotEnvironment>, Vec<&BotEnvironment>) {
    let envs: Vec<&BotEnvironment> = bot
        .environments
        .iter()
        .filter(|e| e.stage == stage)
        .collect();
    let live = envs
        .iter()
        .copied()
        .filter(|e| e.traffic_weight > 0.0)
        .max_by(|a, b| a.traffic_weight.total_cmp(&b.traffic_weight))
        .or_else(|| envs.first().copied());
    let idle = envs
        .into_iter()
        .filter(|e| Some(e.environment_id.as_str()) != live.map(|l| l.environment_id.as_str()))
        .collect();
    (live, idle)
}

/// The stage a bot's rollbacks apply to: production if it has one.
pub fn main_stage(bot: &BotSummary) -> Stage {
    if bot
        .environments
        .iter()
        .any(|e| e.stage == Stage::Production)
    {
        Stage::Production
    } else {
        bot.environments
            .first()
            .map(|e| e.stage)
            .unwrap_or(Stage::Production)
    }
}

pub fn verdict_is_bad(v: &str) -> bool {
    let v = v.to_ascii_lowercase();
    v.contains("roll") || v.contains("fail")
}

pub fn verdict_is_good(v: &str) -> bool {
    let v = v.to_ascii_lowercase();
    v.contains("promot") || v.contains("pass")
}

/// The newest published version that passed a canary, else the live version of the main
/// stage while the bot is healthy.
/// The version a rollback would go back to: the newest promoted PUBLISHED version older
/// than the live one (the engine's definition, so the ★ and `r` agree).
pub fn last_known_good<'a>(bot: Option<&BotSummary>, versions: &'a [Version]) -> Option<&'a str> {
    let bot = bot?;
    let stage = main_stage(bot);
    let live = crate::engine::rollback::live_version(bot, stage);
    crate::engine::rollback::last_known_good(versions, live.as_deref(), stage)
        .map(|v| v.id.as_str())
}
