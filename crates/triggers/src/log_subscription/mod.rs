//! Log subscriptions: CloudWatch Logs subscription filters on the log group
//! `/aws/lambda/NAME` of a function, which deliver the matching log events to another
//! function in the `{"awslogs": {"data": ...}}` events that Lambda receives from CloudWatch
//! Logs. Filters are stored in SQLite and active again after a restart; log events written
//! while the server was down are not delivered.

mod delivery;
mod pattern;
mod reading;
pub mod wire;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use flicker_engine::Engine;
use flicker_model::{ApiError, FunctionRef};
use flicker_store::{StoreError, SubscriptionFilterRecord, SubscriptionFilterStore};
use tokio::sync::watch;
use tracing::info;

pub use pattern::{FilterPattern, PatternError};
use wire::*;

/// The prefix of the log group of a function.
pub const LAMBDA_LOG_GROUP_PREFIX: &str = "/aws/lambda/";
/// Subscription filters allowed per log group, as in CloudWatch Logs.
const MAX_FILTERS_PER_GROUP: usize = 2;
/// The `logGroupName` pattern of the service model, reported verbatim in errors.
const LOG_GROUP_NAME_PATTERN: &str = r"[\.\-_/#A-Za-z0-9]+";
const NAME_MAX: usize = 512;
const FILTER_PATTERN_MAX: usize = 1024;
const DESCRIBE_LIMIT_MAX: i64 = 50;

/// An error that stops the log subscriptions from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// the stored filters could not be read
    #[error("failed to load the stored subscription filters")]
    Store(#[from] StoreError),
    /// the blocking task that reads the store failed
    #[error("reading the stored subscription filters failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A filter in force: its stored form, its parsed pattern and where it delivers.
#[derive(Debug, Clone)]
struct ActiveFilter {
    record: SubscriptionFilterRecord,
    pattern: Arc<FilterPattern>,
    destination: FunctionRef,
}

/// The filters of one log group, shared with the group's delivery task. Dropping the sender
/// ends the task.
struct GroupFilters {
    filters: Vec<ActiveFilter>,
    updates: watch::Sender<Arc<Vec<ActiveFilter>>>,
}

/// The subscription filters of all log groups and their delivery tasks. Cloning is cheap and
/// shares all state.
#[derive(Clone)]
pub struct LogSubscriptions {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    store: Arc<SubscriptionFilterStore>,
    /// Filters by log group name; the lock is never held across an await.
    groups: Mutex<HashMap<String, GroupFilters>>,
    /// Serializes the read-modify-write of PutSubscriptionFilter and DeleteSubscriptionFilter.
    control: tokio::sync::Mutex<()>,
}

fn invalid_parameter(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "InvalidParameterException", message)
}

fn resource_not_found(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "ResourceNotFoundException", message)
}

fn limit_exceeded(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "LimitExceededException", message)
}

fn service_unavailable(message: impl Into<String>) -> ApiError {
    ApiError::new(500, "ServiceUnavailableException", message)
}

fn log_group_missing() -> ApiError {
    resource_not_found("The specified log group does not exist.")
}

fn required<'a>(value: &'a Option<String>, member: &str) -> Result<&'a str, ApiError> {
    value.as_deref().ok_or_else(|| {
        invalid_parameter(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: \
             Member must not be null"
        ))
    })
}

fn check_length(value: &str, member: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let length = value.chars().count();
    if length < min {
        return Err(invalid_parameter(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: \
             Member must have length greater than or equal to {min}"
        )));
    }
    if length > max {
        return Err(invalid_parameter(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: \
             Member must have length less than or equal to {max}"
        )));
    }
    Ok(())
}

/// Validates a `logGroupName` and returns the name of the function whose log group it is, or
/// `None` for any other group, which does not exist on this server.
fn parse_log_group(name: &str) -> Result<Option<&str>, ApiError> {
    check_length(name, "logGroupName", 1, NAME_MAX)?;
    let valid = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#'));
    if !valid {
        return Err(invalid_parameter(format!(
            "1 validation error detected: Value '{name}' at 'logGroupName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: {LOG_GROUP_NAME_PATTERN}"
        )));
    }
    Ok(name.strip_prefix(LAMBDA_LOG_GROUP_PREFIX).filter(|function| {
        !function.is_empty() && function.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    }))
}

fn check_filter_name(name: &str) -> Result<(), ApiError> {
    check_length(name, "filterName", 1, NAME_MAX)?;
    if name.contains([':', '*']) {
        return Err(invalid_parameter(format!(
            "1 validation error detected: Value '{name}' at 'filterName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [^:*]*"
        )));
    }
    Ok(())
}

fn check_limit(limit: Option<i64>, max: i64) -> Result<usize, ApiError> {
    match limit {
        None => Ok(max as usize),
        Some(n) if (1..=max).contains(&n) => Ok(n as usize),
        Some(n) => Err(invalid_parameter(format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: \
             Member must have value between 1 and {max}"
        ))),
    }
}

/// Parses a filter pattern with the service's error for an invalid one.
fn parse_pattern(pattern: &str) -> Result<FilterPattern, ApiError> {
    check_length(pattern, "filterPattern", 0, FILTER_PATTERN_MAX)?;
    FilterPattern::parse(pattern).map_err(|err| invalid_parameter(err.to_string()))
}

fn to_wire(record: &SubscriptionFilterRecord) -> SubscriptionFilter {
    SubscriptionFilter {
        filter_name: record.filter_name.clone(),
        log_group_name: record.log_group.clone(),
        filter_pattern: record.filter_pattern.clone(),
        destination_arn: record.destination_arn.clone(),
        role_arn: record.role_arn.clone(),
        distribution: record.distribution.clone(),
        creation_time: record.creation_time,
    }
}

impl LogSubscriptions {
    /// Opens the filter table in `DATA_DIR/flicker.db` and starts delivering for every stored
    /// filter. Must be called inside a Tokio runtime.
    pub async fn start(engine: Engine) -> Result<Self, StartError> {
        let path = engine.settings().data_dir.join("flicker.db");
        let (store, records) = tokio::task::spawn_blocking(move || {
            let store = SubscriptionFilterStore::open(&path)?;
            let records = store.load()?;
            Ok::<_, StoreError>((store, records))
        })
        .await??;
        let subscriptions = Self {
            inner: Arc::new(Inner {
                engine,
                store: Arc::new(store),
                groups: Mutex::new(HashMap::new()),
                control: tokio::sync::Mutex::new(()),
            }),
        };
        let count = records.len();
        for record in records {
            match subscriptions.activate(record.clone()) {
                Ok(filter) => subscriptions.install(filter),
                Err(err) => tracing::warn!(
                    log_group = %record.log_group, filter = %record.filter_name, error = %err,
                    "stored subscription filter is invalid and stays inactive"
                ),
            }
        }
        info!(filters = count, "log subscription filters loaded");
        Ok(subscriptions)
    }

    fn groups(&self) -> std::sync::MutexGuard<'_, HashMap<String, GroupFilters>> {
        self.inner.groups.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Parses a stored or requested filter into the form the delivery task uses.
    fn activate(&self, record: SubscriptionFilterRecord) -> Result<ActiveFilter, ApiError> {
        let pattern = Arc::new(parse_pattern(&record.filter_pattern)?);
        let destination = FunctionRef::parse(&record.destination_arn)?;
        Ok(ActiveFilter { record, pattern, destination })
    }

    /// Adds or replaces a filter in memory and starts the group's delivery task if needed.
    fn install(&self, filter: ActiveFilter) {
        let group = filter.record.log_group.clone();
        let mut groups = self.groups();
        if let Some(state) = groups.get_mut(&group) {
            state.filters.retain(|f| f.record.filter_name != filter.record.filter_name);
            state.filters.push(filter);
            state.filters.sort_by(|a, b| a.record.filter_name.cmp(&b.record.filter_name));
            state.updates.send_replace(Arc::new(state.filters.clone()));
            return;
        }
        let Some(function) = group.strip_prefix(LAMBDA_LOG_GROUP_PREFIX) else { return };
        let filters = vec![filter];
        let (updates, receiver) = watch::channel(Arc::new(filters.clone()));
        let events = self.inner.engine.subscribe_logs(function, delivery::MAX_QUEUED_BYTES);
        delivery::spawn(self.inner.engine.clone(), group.clone(), receiver, events);
        groups.insert(group, GroupFilters { filters, updates });
    }

    /// Removes a filter from memory; the group's delivery task ends with its last filter.
    fn uninstall(&self, group: &str, filter_name: &str) {
        let mut groups = self.groups();
        let Some(state) = groups.get_mut(group) else { return };
        state.filters.retain(|f| f.record.filter_name != filter_name);
        if state.filters.is_empty() {
            groups.remove(group);
        } else {
            state.updates.send_replace(Arc::new(state.filters.clone()));
        }
    }

    /// Lists the filters of a log group, ordered by name.
    fn filters_of(&self, group: &str) -> Vec<SubscriptionFilterRecord> {
        self.groups()
            .get(group)
            .map(|state| state.filters.iter().map(|f| f.record.clone()).collect())
            .unwrap_or_default()
    }

    /// Whether the log group of `function` exists: the function exists or has written logs.
    async fn log_group_exists(&self, function: &str) -> bool {
        let reference =
            FunctionRef { name: function.to_string(), qualifier: None, region: None, account: None };
        if self.inner.engine.get_function(&reference).is_ok() {
            return true;
        }
        tokio::fs::try_exists(self.inner.engine.log_path(function)).await.unwrap_or(false)
    }

    /// Validates a `logGroupName` and checks that the group exists; returns the function name.
    async fn existing_group<'a>(&self, name: &'a str) -> Result<&'a str, ApiError> {
        match parse_log_group(name)? {
            Some(function) if self.log_group_exists(function).await => Ok(function),
            _ => Err(log_group_missing()),
        }
    }

    /// Checks that a destination ARN names an existing function of this server, and returns it.
    fn check_destination(&self, arn: &str) -> Result<FunctionRef, ApiError> {
        let is_lambda = arn.starts_with("arn:") && arn.split(':').nth(2) == Some("lambda");
        if !is_lambda {
            return Err(invalid_parameter(format!(
                "Invalid destinationArn '{arn}': Flicker delivers subscription events only to Lambda \
                 functions, named by an ARN such as arn:aws:lambda:REGION:ACCOUNT:function:NAME"
            )));
        }
        let destination = FunctionRef::parse(arn).map_err(|_| {
            invalid_parameter(format!("Invalid destinationArn '{arn}': not a Lambda function ARN"))
        })?;
        let settings = self.inner.engine.settings();
        let in_scope = destination.region.as_deref().is_none_or(|r| r == settings.region)
            && destination.account.as_deref().is_none_or(|a| a == settings.account_id);
        if !in_scope || self.inner.engine.get_function(&destination).is_err() {
            return Err(resource_not_found(format!("The destination function {arn} does not exist.")));
        }
        Ok(destination)
    }

    /// Rejects a filter whose deliveries would feed the source function's log group again,
    /// directly or through other subscriptions, since each delivery writes more log events.
    fn check_no_cycle(&self, source: &str, destination: &str, filter_name: &str) -> Result<(), ApiError> {
        let loop_error = || {
            invalid_parameter(format!(
                "The destination function {destination} writes to a log group that delivers back to \
                 {LAMBDA_LOG_GROUP_PREFIX}{source}; such a subscription would deliver its own \
                 deliveries without end"
            ))
        };
        if source == destination {
            return Err(loop_error());
        }
        let source_group = format!("{LAMBDA_LOG_GROUP_PREFIX}{source}");
        let mut edges: HashMap<String, Vec<String>> = HashMap::new();
        for (group, state) in self.groups().iter() {
            let Some(from) = group.strip_prefix(LAMBDA_LOG_GROUP_PREFIX) else { continue };
            for filter in &state.filters {
                if *group == source_group && filter.record.filter_name == filter_name {
                    continue;
                }
                edges.entry(from.to_string()).or_default().push(filter.destination.name.clone());
            }
        }
        let mut seen = HashSet::new();
        let mut pending = vec![destination.to_string()];
        while let Some(function) = pending.pop() {
            if function == source {
                return Err(loop_error());
            }
            if seen.insert(function.clone()) {
                pending.extend(edges.get(&function).into_iter().flatten().cloned());
            }
        }
        Ok(())
    }

    /// PutSubscriptionFilter: creates a filter or replaces the filter of the same name.
    pub async fn put_subscription_filter(
        &self,
        request: PutSubscriptionFilterRequest,
    ) -> Result<(), ApiError> {
        let group = required(&request.log_group_name, "logGroupName")?;
        let filter_name = required(&request.filter_name, "filterName")?;
        let filter_pattern = required(&request.filter_pattern, "filterPattern")?;
        let destination_arn = required(&request.destination_arn, "destinationArn")?;
        check_filter_name(filter_name)?;
        check_length(destination_arn, "destinationArn", 1, usize::MAX)?;
        let pattern = Arc::new(parse_pattern(filter_pattern)?);
        let distribution = request.distribution.clone().unwrap_or_else(|| "ByLogStream".to_string());
        if !matches!(distribution.as_str(), "ByLogStream" | "Random") {
            return Err(invalid_parameter(format!(
                "1 validation error detected: Value '{distribution}' at 'distribution' failed to satisfy \
                 constraint: Member must satisfy enum value set: [Random, ByLogStream]"
            )));
        }

        let _control = self.inner.control.lock().await;
        let source = self.existing_group(group).await?;
        let destination = self.check_destination(destination_arn)?;
        self.check_no_cycle(source, &destination.name, filter_name)?;
        let existing = self.filters_of(group);
        let previous = existing.iter().find(|f| f.filter_name == filter_name);
        if previous.is_none() && existing.len() >= MAX_FILTERS_PER_GROUP {
            return Err(limit_exceeded("Resource limit exceeded."));
        }
        let record = SubscriptionFilterRecord {
            log_group: group.to_string(),
            filter_name: filter_name.to_string(),
            filter_pattern: filter_pattern.to_string(),
            destination_arn: destination_arn.to_string(),
            role_arn: request.role_arn.clone(),
            distribution,
            creation_time: previous
                .map(|f| f.creation_time)
                .unwrap_or_else(|| chrono::Utc::now().timestamp_millis()),
        };
        let store = self.inner.store.clone();
        let stored = record.clone();
        tokio::task::spawn_blocking(move || store.put(&stored))
            .await
            .map_err(|err| service_unavailable(format!("Storing the subscription filter failed: {err}")))?
            .map_err(|err| service_unavailable(format!("Storing the subscription filter failed: {err}")))?;
        info!(log_group = %group, filter = %filter_name, destination = %destination_arn, "subscription filter stored");
        self.install(ActiveFilter { record, pattern, destination });
        Ok(())
    }

    /// DescribeSubscriptionFilters: a page of a log group's filters ordered by name.
    pub async fn describe_subscription_filters(
        &self,
        request: DescribeSubscriptionFiltersRequest,
    ) -> Result<DescribeSubscriptionFiltersResponse, ApiError> {
        let group = required(&request.log_group_name, "logGroupName")?;
        if let Some(prefix) = &request.filter_name_prefix {
            check_filter_name(prefix)?;
        }
        let limit = check_limit(request.limit, DESCRIBE_LIMIT_MAX)?;
        self.existing_group(group).await?;
        let prefix = request.filter_name_prefix.as_deref().unwrap_or_default();
        let after = request.next_token.as_deref().unwrap_or_default();
        let matching: Vec<SubscriptionFilterRecord> = self
            .filters_of(group)
            .into_iter()
            .filter(|f| f.filter_name.starts_with(prefix) && f.filter_name.as_str() > after)
            .collect();
        let next_token = (matching.len() > limit).then(|| matching[limit - 1].filter_name.clone());
        let subscription_filters = matching.iter().take(limit).map(to_wire).collect();
        Ok(DescribeSubscriptionFiltersResponse { subscription_filters, next_token })
    }

    /// DeleteSubscriptionFilter: deletes a filter, which stops its deliveries. Events it has
    /// already selected are still delivered.
    pub async fn delete_subscription_filter(
        &self,
        request: DeleteSubscriptionFilterRequest,
    ) -> Result<(), ApiError> {
        let group = required(&request.log_group_name, "logGroupName")?;
        let filter_name = required(&request.filter_name, "filterName")?;
        check_filter_name(filter_name)?;
        let _control = self.inner.control.lock().await;
        self.existing_group(group).await?;
        if !self.filters_of(group).iter().any(|f| f.filter_name == filter_name) {
            return Err(resource_not_found("The specified subscription filter does not exist."));
        }
        let store = self.inner.store.clone();
        let (stored_group, stored_name) = (group.to_string(), filter_name.to_string());
        tokio::task::spawn_blocking(move || store.delete(&stored_group, &stored_name))
            .await
            .map_err(|err| service_unavailable(format!("Deleting the subscription filter failed: {err}")))?
            .map_err(|err| service_unavailable(format!("Deleting the subscription filter failed: {err}")))?;
        info!(log_group = %group, filter = %filter_name, "subscription filter deleted");
        self.uninstall(group, filter_name);
        Ok(())
    }

    /// Applies the filters of the settings file as PutSubscriptionFilter requests. A filter that
    /// is rejected, for example because its function does not exist yet, is logged and skipped.
    pub async fn apply_settings(&self, settings: &[LogSubscriptionSetting]) {
        for setting in settings {
            let request = PutSubscriptionFilterRequest {
                log_group_name: Some(setting.log_group.clone()),
                filter_name: Some(setting.filter_name.clone()),
                filter_pattern: Some(setting.filter_pattern.clone()),
                destination_arn: Some(setting.destination_arn.clone()),
                role_arn: None,
                distribution: None,
            };
            if let Err(err) = self.put_subscription_filter(request).await {
                tracing::error!(
                    log_group = %setting.log_group, filter = %setting.filter_name, error = %err,
                    "the settings file's log subscription was rejected; fix it and restart the server"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_group_names_map_to_functions() {
        assert_eq!(parse_log_group("/aws/lambda/my-fn_1").unwrap(), Some("my-fn_1"));
        assert_eq!(parse_log_group("/aws/ecs/app").unwrap(), None);
        assert_eq!(parse_log_group("/aws/lambda/").unwrap(), None);
        assert_eq!(parse_log_group("/aws/lambda/a.b").unwrap(), None);
        let error = parse_log_group("bad name").unwrap_err();
        assert_eq!(error.code, "InvalidParameterException");
        assert!(error.message.contains("'bad name'"), "{}", error.message);
    }

    #[test]
    fn filter_names_reject_colon_and_star() {
        assert!(check_filter_name("ok-name").is_ok());
        assert_eq!(check_filter_name("a:b").unwrap_err().code, "InvalidParameterException");
        assert_eq!(check_filter_name("a*").unwrap_err().code, "InvalidParameterException");
        assert!(check_filter_name("").is_err());
    }

    #[test]
    fn limits_are_checked() {
        assert_eq!(check_limit(None, 50).unwrap(), 50);
        assert_eq!(check_limit(Some(3), 50).unwrap(), 3);
        assert!(check_limit(Some(0), 50).is_err());
        assert!(check_limit(Some(51), 50).is_err());
    }
}
