//! What the team spent: `aiex usage --team`, `aiex doctor` and `aiex.usage` in team mode.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aiex_llm::cost::{day_string, UsageTotals};
use serde::Serialize;

use super::Team;

/// The prefix of a day's usage fields for one user, provider and model (tabs never occur in
/// user or provider names Aiex writes).
pub(crate) fn field_prefix(user: &str, provider: &str, model: &str) -> String {
    format!("{user}\t{provider}\t{model}\t")
}

/// One day, user, provider and model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamUsageRow {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    /// Who (`AIEX_USER` or the OS user).
    pub user: String,
    /// Configured provider name.
    pub provider: String,
    /// Model name.
    pub model: String,
    /// Totals.
    #[serde(flatten)]
    pub totals: UsageTotals,
}

/// The team's spend against its caps, and its usage over 30 days.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamUsage {
    /// The team's name.
    pub team: String,
    /// This process's user.
    pub user: String,
    /// Spent by the team today, this month; by the user today, this month (US dollars).
    pub spent_usd: [f64; 4],
    /// The caps, in the same order.
    pub caps_usd: [Option<f64>; 4],
    /// The team today.
    pub today: UsageTotals,
    /// The team over the last 30 days.
    pub last_30_days: UsageTotals,
    /// Every day, user, provider and model, newest first.
    pub rows: Vec<TeamUsageRow>,
}

impl TeamUsage {
    /// A few human-readable lines.
    pub fn to_text(&self) -> String {
        let cap =
            |value: Option<f64>| value.map_or("no cap".to_owned(), |v| format!("cap ${v:.2}"));
        let [team_day, team_month, user_day, user_month] = self.spent_usd;
        let [cap_td, cap_tm, cap_ud, cap_um] = self.caps_usd;
        let mut out = format!(
            "team {}: today ${team_day:.4} ({}), this month ${team_month:.4} ({})\n\
             {} (you): today ${user_day:.4} ({}), this month ${user_month:.4} ({})\n\
             team today: {} requests, {} tokens in, {} out; last 30 days: {} requests, ${:.4}\n",
            self.team,
            cap(cap_td),
            cap(cap_tm),
            self.user,
            cap(cap_ud),
            cap(cap_um),
            self.today.requests,
            self.today.input_tokens,
            self.today.output_tokens,
            self.last_30_days.requests,
            self.last_30_days.cost_usd,
        );
        for row in &self.rows {
            out.push_str(&format!(
                "  {} {} {} {}: {} requests, {} in, {} out, ${:.4}\n",
                row.day,
                row.user,
                row.provider,
                row.model,
                row.totals.requests,
                row.totals.input_tokens,
                row.totals.output_tokens,
                row.totals.cost_usd
            ));
        }
        out
    }
}

pub(crate) async fn read(team: &Team) -> Option<TeamUsage> {
    let now = SystemTime::now();
    let days: Vec<String> = (0..30)
        .map(|back| day_string(now - Duration::from_secs(back * 86_400)))
        .collect();
    let spend_keys = team.spend_keys();
    let mut pipe = redis::pipe();
    pipe.cmd("MGET").arg(&spend_keys[..]);
    for day in &days {
        pipe.cmd("HGETALL").arg(team.key(&format!("usage:{day}")));
    }
    type Reply = (Vec<Option<f64>>, Vec<BTreeMap<String, String>>);
    let (spent, hashes): Reply = team
        .link
        .run(|mut connection| async move {
            let mut values: Vec<redis::Value> = pipe.query_async(&mut connection).await?;
            let hashes = values.split_off(1);
            let spent = redis::from_redis_value(&values[0])?;
            let hashes = hashes
                .iter()
                .map(redis::from_redis_value)
                .collect::<redis::RedisResult<Vec<_>>>()?;
            Ok((spent, hashes))
        })
        .await?;
    let budget = team.config.budget;
    let mut usage = TeamUsage {
        team: team
            .config
            .name
            .clone()
            .unwrap_or_else(|| "default".to_owned()),
        user: team.user.clone(),
        spent_usd: [0.0; 4],
        caps_usd: [
            budget.team_daily_usd,
            budget.team_monthly_usd,
            budget.user_daily_usd,
            budget.user_monthly_usd,
        ],
        today: UsageTotals::default(),
        last_30_days: UsageTotals::default(),
        rows: Vec::new(),
    };
    for (slot, value) in usage.spent_usd.iter_mut().zip(spent) {
        *slot = value.unwrap_or(0.0);
    }
    for (index, (day, fields)) in days.iter().zip(hashes).enumerate() {
        let mut rows: BTreeMap<(String, String, String), UsageTotals> = BTreeMap::new();
        for (field, value) in fields {
            let mut parts = field.splitn(4, '\t');
            let (Some(user), Some(provider), Some(model), Some(what)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let totals = rows
                .entry((user.to_owned(), provider.to_owned(), model.to_owned()))
                .or_default();
            match what {
                "requests" => totals.requests = value.parse().unwrap_or(0),
                "input_tokens" => totals.input_tokens = value.parse().unwrap_or(0),
                "output_tokens" => totals.output_tokens = value.parse().unwrap_or(0),
                "cost_usd" => totals.cost_usd = value.parse().unwrap_or(0.0),
                _ => {}
            }
        }
        for ((user, provider, model), totals) in rows {
            add(&mut usage.last_30_days, &totals);
            if index == 0 {
                add(&mut usage.today, &totals);
            }
            usage.rows.push(TeamUsageRow {
                day: day.clone(),
                user,
                provider,
                model,
                totals,
            });
        }
    }
    Some(usage)
}

fn add(sum: &mut UsageTotals, more: &UsageTotals) {
    sum.requests += more.requests;
    sum.input_tokens += more.input_tokens;
    sum.output_tokens += more.output_tokens;
    sum.cost_usd += more.cost_usd;
}
