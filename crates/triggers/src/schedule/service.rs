//! The rule and target operations of the EventBridge API, over rules held in memory and
//! written through to the store before each change is visible.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeZone, Utc};
use flicker_engine::Engine;
use flicker_store::{ScheduleRuleRecord, ScheduleStore, ScheduleTargetRecord, StoreError};
use tokio::sync::Notify;
use tracing::info;

use super::error::ScheduleError;
use super::expression::ScheduleExpression;
use super::validate::{self, MAX_TARGETS_PER_RULE};

/// Settings of the scheduler.
#[derive(Debug, Clone)]
pub struct ScheduleSettings {
    /// The length of one `rate()` minute: 60 seconds, or less so that tests see ticks fast.
    /// Hours and days scale with it; cron expressions do not.
    pub rate_minute: Duration,
}

/// A target of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub id: String,
    pub arn: String,
    /// JSON text sent instead of the event.
    pub input: Option<String>,
    /// A JSONPath into the event; the part it selects is sent.
    pub input_path: Option<String>,
}

/// A rule as DescribeRule and ListRules show it.
#[derive(Debug, Clone)]
pub struct RuleDescription {
    pub name: String,
    pub arn: String,
    pub schedule_expression: String,
    /// `ENABLED` or `DISABLED`.
    pub state: &'static str,
    pub description: Option<String>,
}

/// The longest `ScheduleExpression` EventBridge accepts.
const MAX_EXPRESSION_CHARS: usize = 256;

/// The parameters of PutRule.
#[derive(Debug, Clone, Default)]
pub struct PutRuleRequest {
    pub name: String,
    pub schedule_expression: Option<String>,
    pub event_pattern: Option<String>,
    pub state: Option<String>,
    pub description: Option<String>,
    pub event_bus_name: Option<String>,
}

/// A target that PutTargets or RemoveTargets could not apply.
#[derive(Debug, Clone)]
pub struct FailedEntry {
    pub target_id: String,
    pub error_code: &'static str,
    pub error_message: String,
}

/// A rule in memory.
#[derive(Debug, Clone)]
pub(super) struct Rule {
    pub name: String,
    pub expression_text: String,
    pub expression: ScheduleExpression,
    pub enabled: bool,
    pub description: Option<String>,
    pub targets: Vec<Target>,
    /// The latest tick fired or skipped; later ticks are due.
    pub last_tick: DateTime<Utc>,
}

impl Rule {
    fn record(&self) -> ScheduleRuleRecord {
        ScheduleRuleRecord {
            name: self.name.clone(),
            schedule_expression: self.expression_text.clone(),
            state: state_name(self.enabled).to_string(),
            description: self.description.clone(),
            last_tick_ms: self.last_tick.timestamp_millis(),
        }
    }
}

fn state_name(enabled: bool) -> &'static str {
    if enabled {
        "ENABLED"
    } else {
        "DISABLED"
    }
}

fn target_record(target: &Target) -> ScheduleTargetRecord {
    ScheduleTargetRecord {
        id: target.id.clone(),
        arn: target.arn.clone(),
        input: target.input.clone(),
        input_path: target.input_path.clone(),
    }
}

/// The schedule rules of this server and the task that fires them; cloning is cheap.
#[derive(Clone)]
pub struct Schedules {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub engine: Engine,
    pub store: Arc<ScheduleStore>,
    pub settings: ScheduleSettings,
    /// Rules by name. The lock is never held across an await.
    pub rules: Mutex<BTreeMap<String, Rule>>,
    /// Serializes changes of rules, including the scheduler's advance of last ticks, so that
    /// each read-modify-write-store step is atomic.
    pub control: tokio::sync::Mutex<()>,
    /// Wakes the scheduler after a change.
    pub wake: Notify,
    pub stopping: AtomicBool,
}

impl Inner {
    pub fn rules(&self) -> MutexGuard<'_, BTreeMap<String, Rule>> {
        self.rules.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn rule_arn(&self, name: &str) -> String {
        let settings = self.engine.settings();
        format!("arn:aws:events:{}:{}:rule/{name}", settings.region, settings.account_id)
    }

    /// Runs a store call on the blocking pool.
    pub async fn store<T: Send + 'static>(
        &self,
        call: impl FnOnce(&ScheduleStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ScheduleError> {
        let store = self.store.clone();
        let result = tokio::task::spawn_blocking(move || call(&store))
            .await
            .map_err(|err| ScheduleError::Internal(format!("the store call failed: {err}")))?;
        result.map_err(|err| ScheduleError::Internal(format!("failed to store schedule rules: {err}")))
    }
}

/// Returns the current time truncated to whole seconds, where new schedules start.
fn now_seconds() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// A failure to load the stored schedules.
#[derive(Debug, thiserror::Error)]
pub enum StartSchedulesError {
    /// the store could not be opened or read
    #[error("failed to load schedule rules")]
    Store(#[from] StoreError),
    /// the task that opens the store failed
    #[error("opening the schedule store failed: {0}")]
    Task(String),
}

impl Schedules {
    /// Opens the schedule tables in the data directory's database, loads every rule and
    /// starts the scheduler. Must be called inside a Tokio runtime.
    pub async fn start(engine: Engine, settings: ScheduleSettings) -> Result<Self, StartSchedulesError> {
        let path = engine.settings().data_dir.join("flicker.db");
        let (store, loaded) = tokio::task::spawn_blocking(move || {
            let store = ScheduleStore::open(&path)?;
            let loaded = store.load()?;
            Ok::<_, StoreError>((store, loaded))
        })
        .await
        .map_err(|err| StartSchedulesError::Task(err.to_string()))??;
        let mut rules = BTreeMap::new();
        for (record, targets) in loaded {
            match load_rule(record, targets) {
                Ok(rule) => {
                    rules.insert(rule.name.clone(), rule);
                }
                Err((name, err)) => {
                    tracing::warn!(rule = %name, error = %err, "stored schedule rule is skipped")
                }
            }
        }
        info!(rules = rules.len(), "schedule rules loaded");
        let schedules = Self {
            inner: Arc::new(Inner {
                engine,
                store: Arc::new(store),
                settings,
                rules: Mutex::new(rules),
                control: tokio::sync::Mutex::new(()),
                wake: Notify::new(),
                stopping: AtomicBool::new(false),
            }),
        };
        tokio::spawn(super::fire::run(schedules.inner.clone()));
        Ok(schedules)
    }

    /// Stops the scheduler; rules stay stored.
    pub fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::Release);
        self.inner.wake.notify_one();
    }

    fn describe(&self, rule: &Rule) -> RuleDescription {
        RuleDescription {
            name: rule.name.clone(),
            arn: self.inner.rule_arn(&rule.name),
            schedule_expression: rule.expression_text.clone(),
            state: state_name(rule.enabled),
            description: rule.description.clone(),
        }
    }

    fn check_bus(&self, name: Option<&str>) -> Result<(), ScheduleError> {
        let settings = self.inner.engine.settings();
        validate::check_event_bus(name, &settings.region, &settings.account_id)
    }

    fn existing(&self, name: &str) -> Result<Rule, ScheduleError> {
        self.inner.rules().get(name).cloned().ok_or_else(|| ScheduleError::rule_not_found(name))
    }

    /// Creates or updates a schedule rule and returns its ARN. A changed expression, or a
    /// disabled rule being enabled, starts the schedule afresh from now.
    pub async fn put_rule(&self, request: PutRuleRequest) -> Result<String, ScheduleError> {
        validate::check_name(&request.name, "name")?;
        self.check_bus(request.event_bus_name.as_deref())?;
        let expression_text =
            match (request.schedule_expression, request.event_pattern) {
                (_, Some(_)) => return Err(ScheduleError::Validation(
                    "EventPattern is not supported: this server serves only rules with a ScheduleExpression"
                        .into(),
                )),
                (Some(text), None) if !text.is_empty() => text,
                _ => {
                    return Err(ScheduleError::Validation(
                        "Parameter(s) EventPattern or ScheduleExpression must be specified.".into(),
                    ))
                }
            };
        if expression_text.chars().count() > MAX_EXPRESSION_CHARS {
            return Err(super::error::constraint(
                &expression_text,
                "scheduleExpression",
                "Member must have length less than or equal to 256",
            ));
        }
        let expression = ScheduleExpression::parse(&expression_text).map_err(|err| {
            ScheduleError::Validation(format!("Parameter ScheduleExpression is not valid: {err}"))
        })?;
        let enabled = match request.state.as_deref() {
            None | Some("ENABLED") => true,
            Some("DISABLED") => false,
            Some(other) => {
                return Err(super::error::constraint(
                    other,
                    "state",
                    "Member must satisfy enum value set: [ENABLED, DISABLED]",
                ))
            }
        };
        if let Some(description) = request.description.as_ref().filter(|text| text.chars().count() > 512) {
            return Err(super::error::constraint(
                description,
                "description",
                "Member must have length less than or equal to 512",
            ));
        }

        let _control = self.inner.control.lock().await;
        let previous = self.inner.rules().get(&request.name).cloned();
        let restart = previous
            .as_ref()
            .is_none_or(|rule| rule.expression_text != expression_text || (!rule.enabled && enabled));
        let rule = Rule {
            name: request.name.clone(),
            expression_text,
            expression,
            enabled,
            description: request.description,
            targets: previous.as_ref().map(|rule| rule.targets.clone()).unwrap_or_default(),
            last_tick: match &previous {
                Some(previous) if !restart => previous.last_tick,
                _ => now_seconds(),
            },
        };
        let record = rule.record();
        self.inner.store(move |store| store.put_rule(&record)).await?;
        self.inner.rules().insert(rule.name.clone(), rule);
        self.inner.wake.notify_one();
        info!(rule = %request.name, "schedule rule stored");
        Ok(self.inner.rule_arn(&request.name))
    }

    /// Describes one rule.
    pub fn describe_rule(
        &self,
        name: &str,
        event_bus: Option<&str>,
    ) -> Result<RuleDescription, ScheduleError> {
        validate::check_name(name, "name")?;
        self.check_bus(event_bus)?;
        Ok(self.describe(&self.existing(name)?))
    }

    /// Lists rules whose names start with `prefix`, in name order, one page at a time. The
    /// page token is the last name of the previous page.
    pub fn list_rules(
        &self,
        prefix: Option<&str>,
        event_bus: Option<&str>,
        next_token: Option<&str>,
        limit: Option<i64>,
    ) -> Result<(Vec<RuleDescription>, Option<String>), ScheduleError> {
        self.check_bus(event_bus)?;
        let page_size = validate::page_size(limit)?;
        let prefix = prefix.unwrap_or_default();
        let rules = self.inner.rules();
        let matching: Vec<&Rule> = rules
            .values()
            .filter(|rule| rule.name.starts_with(prefix))
            .filter(|rule| next_token.is_none_or(|token| rule.name.as_str() > token))
            .collect();
        let page: Vec<RuleDescription> =
            matching.iter().take(page_size).map(|rule| self.describe(rule)).collect();
        let token = (matching.len() > page_size).then(|| page.last().map(|rule| rule.name.clone())).flatten();
        Ok((page, token))
    }

    /// Deletes a rule. A rule with targets is never deleted, because AWS ignores `Force` for
    /// rules that no AWS service manages. Deleting a rule that does not exist succeeds.
    pub async fn delete_rule(&self, name: &str, event_bus: Option<&str>) -> Result<(), ScheduleError> {
        validate::check_name(name, "name")?;
        self.check_bus(event_bus)?;
        let _control = self.inner.control.lock().await;
        let has_targets = self.inner.rules().get(name).is_some_and(|rule| !rule.targets.is_empty());
        if has_targets {
            return Err(ScheduleError::Validation("Rule can't be deleted since it has targets.".into()));
        }
        let owned = name.to_string();
        self.inner.store(move |store| store.delete_rule(&owned)).await?;
        self.inner.rules().remove(name);
        self.inner.wake.notify_one();
        info!(rule = %name, "schedule rule deleted");
        Ok(())
    }

    /// Enables or disables a rule. Enabling a disabled rule starts its schedule from now, so
    /// ticks missed while it was disabled are not fired.
    pub async fn set_enabled(
        &self,
        name: &str,
        event_bus: Option<&str>,
        enabled: bool,
    ) -> Result<(), ScheduleError> {
        validate::check_name(name, "name")?;
        self.check_bus(event_bus)?;
        let _control = self.inner.control.lock().await;
        let mut rule = self.existing(name)?;
        if rule.enabled == enabled {
            return Ok(());
        }
        rule.enabled = enabled;
        if enabled {
            rule.last_tick = now_seconds();
        }
        let record = rule.record();
        self.inner.store(move |store| store.put_rule(&record)).await?;
        self.inner.rules().insert(name.to_string(), rule);
        self.inner.wake.notify_one();
        info!(rule = %name, state = state_name(enabled), "schedule rule state changed");
        Ok(())
    }

    /// Adds or replaces targets of a rule. Entries that cannot be served are returned as
    /// failed entries and the others are applied.
    pub async fn put_targets(
        &self,
        rule_name: &str,
        event_bus: Option<&str>,
        targets: Vec<Target>,
    ) -> Result<Vec<FailedEntry>, ScheduleError> {
        validate::check_name(rule_name, "rule")?;
        self.check_bus(event_bus)?;
        if targets.is_empty() || targets.len() > 100 {
            return Err(ScheduleError::Validation(format!(
                "1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length less than or equal to 100 and greater than or equal to 1 (it has {})",
                targets.len()
            )));
        }
        for target in &targets {
            validate::check_name(&target.id, "targets.member.id")?;
        }

        let _control = self.inner.control.lock().await;
        let mut rule = self.existing(rule_name)?;
        let mut failed = Vec::new();
        let mut accepted = Vec::new();
        for target in targets {
            match check_target(&target) {
                Ok(()) => accepted.push(target),
                Err(message) => failed.push(FailedEntry {
                    target_id: target.id,
                    error_code: "ValidationException",
                    error_message: message,
                }),
            }
        }
        for target in &accepted {
            rule.targets.retain(|existing| existing.id != target.id);
            rule.targets.push(target.clone());
        }
        if rule.targets.len() > MAX_TARGETS_PER_RULE {
            return Err(ScheduleError::LimitExceeded(format!(
                "The requested resource exceeds the maximum number allowed. A rule can have at most {MAX_TARGETS_PER_RULE} targets."
            )));
        }
        rule.targets.sort_by(|a, b| a.id.cmp(&b.id));
        let records: Vec<ScheduleTargetRecord> = accepted.iter().map(target_record).collect();
        let owned = rule_name.to_string();
        self.inner.store(move |store| store.put_targets(&owned, &records)).await?;
        self.inner.rules().insert(rule_name.to_string(), rule);
        info!(rule = %rule_name, added = accepted.len(), failed = failed.len(), "schedule targets stored");
        Ok(failed)
    }

    /// Removes targets of a rule by id; ids the rule does not have are ignored.
    pub async fn remove_targets(
        &self,
        rule_name: &str,
        event_bus: Option<&str>,
        ids: Vec<String>,
    ) -> Result<Vec<FailedEntry>, ScheduleError> {
        validate::check_name(rule_name, "rule")?;
        self.check_bus(event_bus)?;
        if ids.is_empty() || ids.len() > 100 {
            return Err(ScheduleError::Validation(
                "1 validation error detected: Value at 'ids' failed to satisfy constraint: Member must have length less than or equal to 100 and greater than or equal to 1".into(),
            ));
        }
        for id in &ids {
            validate::check_name(id, "ids.member")?;
        }
        let _control = self.inner.control.lock().await;
        let mut rule = self.existing(rule_name)?;
        rule.targets.retain(|target| !ids.contains(&target.id));
        let owned = rule_name.to_string();
        self.inner.store(move |store| store.remove_targets(&owned, &ids)).await?;
        self.inner.rules().insert(rule_name.to_string(), rule);
        info!(rule = %rule_name, "schedule targets removed");
        Ok(Vec::new())
    }

    /// Lists the targets of a rule in id order, one page at a time. The page token is the
    /// last id of the previous page.
    pub fn list_targets(
        &self,
        rule_name: &str,
        event_bus: Option<&str>,
        next_token: Option<&str>,
        limit: Option<i64>,
    ) -> Result<(Vec<Target>, Option<String>), ScheduleError> {
        validate::check_name(rule_name, "rule")?;
        self.check_bus(event_bus)?;
        let page_size = validate::page_size(limit)?;
        let rule = self.existing(rule_name)?;
        let matching: Vec<Target> = rule
            .targets
            .into_iter()
            .filter(|target| next_token.is_none_or(|token| target.id.as_str() > token))
            .collect();
        let token = (matching.len() > page_size).then(|| matching[page_size - 1].id.clone());
        Ok((matching.into_iter().take(page_size).collect(), token))
    }
}

/// Checks what PutTargets reports per entry rather than for the whole request.
fn check_target(target: &Target) -> Result<(), String> {
    validate::check_function_arn(&target.arn)?;
    if target.input.is_some() && target.input_path.is_some() {
        return Err("Only one of Input, InputPath, or InputTransformer must be provided.".into());
    }
    if let Some(input) = &target.input {
        if input.len() > 8192 {
            return Err(format!("Input of target {} is longer than 8192 characters.", target.id));
        }
        serde_json::from_str::<serde::de::IgnoredAny>(input)
            .map_err(|err| format!("Input of target {} is not valid JSON text: {err}", target.id))?;
    }
    if let Some(path) = &target.input_path {
        validate::check_input_path(path)?;
    }
    Ok(())
}

/// Rebuilds a stored rule; the error names the rule.
fn load_rule(
    record: ScheduleRuleRecord,
    targets: Vec<ScheduleTargetRecord>,
) -> Result<Rule, (String, String)> {
    let expression = ScheduleExpression::parse(&record.schedule_expression)
        .map_err(|err| (record.name.clone(), err.to_string()))?;
    let last_tick = Utc
        .timestamp_millis_opt(record.last_tick_ms)
        .single()
        .ok_or_else(|| (record.name.clone(), format!("invalid last tick {}", record.last_tick_ms)))?;
    Ok(Rule {
        enabled: record.state == "ENABLED",
        name: record.name,
        expression_text: record.schedule_expression,
        expression,
        description: record.description,
        targets: targets
            .into_iter()
            .map(|target| Target {
                id: target.id,
                arn: target.arn,
                input: target.input,
                input_path: target.input_path,
            })
            .collect(),
        last_tick,
    })
}
