//! Event-invoke configurations: PutFunctionEventInvokeConfig, UpdateFunctionEventInvokeConfig,
//! GetFunctionEventInvokeConfig, DeleteFunctionEventInvokeConfig and
//! ListFunctionEventInvokeConfigs, validated with AWS's errors and stored in the journal.

use flicker_model::event_invoke::{
    self, target_kind, Destination, EventInvokeConfig, EventInvokeConfigRequest, FunctionEventInvokeConfig,
    FunctionEventInvokeConfigList, TargetKind,
};
use flicker_model::{ApiError, FunctionRef};
use tracing::info;

use crate::Events;

const LIST_DEFAULT_ITEMS: usize = 50;

fn function_missing() -> ApiError {
    ApiError::not_found("The function doesn't exist.")
}

fn internal(err: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %err, "storing an event-invoke configuration failed");
    ApiError::service(format!("Storing the event-invoke configuration failed: {err}"))
}

fn qualifier_of(function: &FunctionRef) -> String {
    function.qualifier.clone().unwrap_or_else(|| "$LATEST".to_string())
}

impl Events {
    /// The configuration in force for a function and qualifier: the stored one or Lambda's
    /// defaults.
    pub(crate) fn config_for(&self, function_name: &str, qualifier: Option<&str>) -> EventInvokeConfig {
        let qualifier = qualifier.unwrap_or("$LATEST");
        let key = (function_name.to_string(), qualifier.to_string());
        let configs = self.inner.configs.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        configs.get(&key).cloned().unwrap_or_else(|| EventInvokeConfig {
            function_name: function_name.to_string(),
            qualifier: qualifier.to_string(),
            maximum_retry_attempts: None,
            maximum_event_age_seconds: None,
            on_success: None,
            on_failure: None,
            last_modified: 0.0,
        })
    }

    fn stored_config(&self, function: &FunctionRef) -> Option<EventInvokeConfig> {
        let key = (function.name.clone(), qualifier_of(function));
        let configs = self.inner.configs.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        configs.get(&key).cloned()
    }

    fn not_configured(&self, function: &FunctionRef) -> ApiError {
        let arn = self.inner.engine.function_arn(&function.name);
        ApiError::not_found(format!(
            "The function {arn}:{} doesn't have an EventInvokeConfig",
            qualifier_of(function)
        ))
    }

    /// Checks that the function and its qualifier exist.
    fn check_target_function(&self, function: &FunctionRef) -> Result<(), ApiError> {
        let settings = self.inner.engine.settings();
        function.check_scope(&settings.region, &settings.account_id)?;
        self.inner.engine.check_function(function).map_err(|_| function_missing())
    }

    /// PutFunctionEventInvokeConfig: replaces the whole configuration.
    pub async fn put_config(
        &self,
        function: &FunctionRef,
        request: EventInvokeConfigRequest,
    ) -> Result<FunctionEventInvokeConfig, ApiError> {
        self.check_target_function(function)?;
        if request.maximum_retry_attempts.is_none()
            && request.maximum_event_age_in_seconds.is_none()
            && request.destination_config.is_none()
        {
            return Err(ApiError::invalid_parameter(
                "You must specify at least one of error handling or destination setting.",
            ));
        }
        let empty = EventInvokeConfig {
            function_name: function.name.clone(),
            qualifier: qualifier_of(function),
            maximum_retry_attempts: None,
            maximum_event_age_seconds: None,
            on_success: None,
            on_failure: None,
            last_modified: 0.0,
        };
        let _writes = self.inner.config_writes.lock().await;
        let config = self.merge(empty, &request)?;
        self.store_config(config).await
    }

    /// UpdateFunctionEventInvokeConfig: changes the members given in an existing configuration.
    pub async fn update_config(
        &self,
        function: &FunctionRef,
        request: EventInvokeConfigRequest,
    ) -> Result<FunctionEventInvokeConfig, ApiError> {
        self.check_target_function(function)?;
        let _writes = self.inner.config_writes.lock().await;
        let current = self.stored_config(function).ok_or_else(|| self.not_configured(function))?;
        let config = self.merge(current, &request)?;
        self.store_config(config).await
    }

    /// GetFunctionEventInvokeConfig.
    pub fn get_config(&self, function: &FunctionRef) -> Result<FunctionEventInvokeConfig, ApiError> {
        let settings = self.inner.engine.settings();
        function.check_scope(&settings.region, &settings.account_id)?;
        if self.inner.engine.check_function(function).is_err() {
            return Err(self.not_configured(function));
        }
        let config = self.stored_config(function).ok_or_else(|| self.not_configured(function))?;
        Ok(config.to_wire(&self.inner.engine.function_arn(&function.name)))
    }

    /// DeleteFunctionEventInvokeConfig.
    pub async fn delete_config(&self, function: &FunctionRef) -> Result<(), ApiError> {
        self.get_config(function)?;
        let _writes = self.inner.config_writes.lock().await;
        let qualifier = qualifier_of(function);
        self.inner.journal.delete_config(&function.name, Some(&qualifier)).await.map_err(internal)?;
        let mut configs = self.inner.configs.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        configs.remove(&(function.name.clone(), qualifier));
        info!(function = %function.name, "event-invoke configuration deleted");
        Ok(())
    }

    /// Deletes every configuration of a deleted function, as Lambda does.
    pub async fn forget_function(&self, function_name: &str) -> Result<(), ApiError> {
        let _writes = self.inner.config_writes.lock().await;
        self.inner.journal.delete_config(function_name, None).await.map_err(internal)?;
        let mut configs = self.inner.configs.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        configs.retain(|(name, _), _| name != function_name);
        Ok(())
    }

    /// Deletes the configuration of a deleted version or alias, so that it is neither listed
    /// nor taken over by a later alias or version of the same name.
    pub async fn forget_qualifier(&self, function_name: &str, qualifier: &str) -> Result<(), ApiError> {
        let _writes = self.inner.config_writes.lock().await;
        let key = (function_name.to_string(), qualifier.to_string());
        let stored =
            self.inner.configs.read().unwrap_or_else(|poisoned| poisoned.into_inner()).contains_key(&key);
        if !stored {
            return Ok(());
        }
        self.inner.journal.delete_config(function_name, Some(qualifier)).await.map_err(internal)?;
        let mut configs = self.inner.configs.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        configs.remove(&key);
        Ok(())
    }

    /// ListFunctionEventInvokeConfigs: the configurations of every qualifier of a function,
    /// ordered by qualifier. `marker` is the qualifier after which the page starts.
    pub fn list_configs(
        &self,
        function: &FunctionRef,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<FunctionEventInvokeConfigList, ApiError> {
        let max_items = match max_items {
            None => LIST_DEFAULT_ITEMS,
            Some(n @ 1..=50) => n as usize,
            Some(n) => {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{n}' at 'maxItems' failed to satisfy constraint: \
                     Member must have value between 1 and 50"
                )))
            }
        };
        let unqualified = FunctionRef { qualifier: None, ..function.clone() };
        self.check_target_function(&unqualified)?;
        let function_arn = self.inner.engine.function_arn(&function.name);
        let configs = self.inner.configs.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut matching: Vec<&EventInvokeConfig> = configs
            .values()
            .filter(|config| config.function_name == function.name)
            .filter(|config| marker.is_none_or(|after| config.qualifier.as_str() > after))
            .collect();
        matching.sort_by(|a, b| a.qualifier.cmp(&b.qualifier));
        let next_marker = (matching.len() > max_items).then(|| matching[max_items - 1].qualifier.clone());
        let items = matching.iter().take(max_items).map(|config| config.to_wire(&function_arn)).collect();
        Ok(FunctionEventInvokeConfigList { function_event_invoke_configs: items, next_marker })
    }

    /// Applies the members of a request to a configuration, validating each.
    fn merge(
        &self,
        mut config: EventInvokeConfig,
        request: &EventInvokeConfigRequest,
    ) -> Result<EventInvokeConfig, ApiError> {
        if let Some(attempts) = request.maximum_retry_attempts {
            config.maximum_retry_attempts = Some(event_invoke::maximum_retry_attempts(attempts)?);
        }
        if let Some(age) = request.maximum_event_age_in_seconds {
            config.maximum_event_age_seconds = Some(event_invoke::maximum_event_age(age)?);
        }
        if let Some(destinations) = &request.destination_config {
            let on_success = destinations.on_success.as_ref();
            let on_failure = destinations.on_failure.as_ref();
            let success = self.check_destination(&config, on_success, on_failure, "onSuccess")?;
            let failure = self.check_destination(&config, on_success, on_failure, "onFailure")?;
            config.on_success = success;
            config.on_failure = failure;
        }
        config.last_modified = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        Ok(config)
    }

    /// Validates one side of a `DestinationConfig` and returns its ARN, if any.
    fn check_destination(
        &self,
        config: &EventInvokeConfig,
        on_success: Option<&Destination>,
        on_failure: Option<&Destination>,
        side: &str,
    ) -> Result<Option<String>, ApiError> {
        let chosen = if side == "onSuccess" { on_success } else { on_failure };
        let Some(arn) = chosen.and_then(|d| d.destination.as_deref()).filter(|arn| !arn.is_empty()) else {
            return Ok(None);
        };
        event_invoke::destination_arn(arn, &format!("destinationConfig.{side}.destination"))?;
        let describe = |d: Option<&Destination>, name: &str| match d.and_then(|d| d.destination.as_deref()) {
            Some(arn) => format!("{name}(destination={arn})"),
            None => "null".to_string(),
        };
        let invalid_config = || {
            ApiError::invalid_parameter(format!(
                "The provided destination config DestinationConfig(onSuccess={}, onFailure={}) is invalid.",
                describe(on_success, "OnSuccess"),
                describe(on_failure, "OnFailure"),
            ))
        };
        match target_kind(arn) {
            Some(TargetKind::Function) => {
                let target = FunctionRef::parse(arn).map_err(|_| invalid_config())?;
                if target.name == config.function_name {
                    return Err(ApiError::invalid_parameter(
                        "You can't specify the function as a destination for itself.",
                    ));
                }
            }
            Some(TargetKind::Queue) => {}
            Some(TargetKind::Topic | TargetKind::EventBus | TargetKind::Bucket) => {
                return Err(ApiError::invalid_parameter(format!(
                    "The destination ARN {arn} is invalid. This server sends records only to Lambda \
                     functions and SQS queues."
                )))
            }
            None => return Err(invalid_config()),
        }
        if !self.target_exists(arn) {
            return Err(ApiError::invalid_parameter(format!("The destination ARN {arn} is invalid.")));
        }
        Ok(Some(arn.to_string()))
    }

    async fn store_config(&self, config: EventInvokeConfig) -> Result<FunctionEventInvokeConfig, ApiError> {
        self.inner.journal.put_config(config.clone()).await.map_err(internal)?;
        let wire = config.to_wire(&self.inner.engine.function_arn(&config.function_name));
        let key = (config.function_name.clone(), config.qualifier.clone());
        info!(function = %config.function_name, qualifier = %config.qualifier, "event-invoke configuration stored");
        let mut configs = self.inner.configs.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        configs.insert(key, config);
        Ok(wire)
    }
}
