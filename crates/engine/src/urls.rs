//! The control plane of function URLs: create, read, update, list and delete the URL
//! configuration of a function or alias, written to the store and held in memory by URL id
//! so that serving a URL request touches no database.

use std::collections::HashMap;

use base64::Engine as _;
use flicker_model::arn::{function_arn, qualified_arn};
use flicker_model::url::{
    validate_auth_type, validate_cors, validate_invoke_mode, validate_url_qualifier, FunctionUrlConfig,
    FunctionUrlConfigList, FunctionUrlConfigRequest, UrlConfig,
};
use flicker_model::{ApiError, FunctionRef};
use tracing::{error, info};

use crate::Engine;

/// The URL configurations by URL id.
pub(crate) type UrlTable = HashMap<String, UrlConfig>;

/// The set of fields in a response, because AWS returns different subsets from each operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Create,
    Update,
    Full,
}

/// The message of a missing function or URL, which differs by operation in AWS.
#[derive(Debug, Clone, Copy)]
enum Missing {
    /// CreateFunctionUrlConfig and ListFunctionUrlConfigs.
    Function,
    /// GetFunctionUrlConfig, UpdateFunctionUrlConfig and DeleteFunctionUrlConfig.
    Resource,
}

impl Missing {
    fn error(self) -> ApiError {
        match self {
            Missing::Function => ApiError::not_found("Function does not exist"),
            Missing::Resource => ApiError::not_found("The resource you requested does not exist."),
        }
    }
}

/// Formats a URL configuration timestamp as AWS does: `2026-12-04T10:00:00.123456Z`.
fn now_timestamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn internal(what: &str, err: impl std::fmt::Display) -> ApiError {
    error!(error = %err, "{what} failed");
    ApiError::service(format!("{what} failed: {err}"))
}

/// Returns the path under which the listener serves a URL, relative to the server's base URL.
pub fn url_path(url_id: &str) -> String {
    format!("/lambda-url/{url_id}/")
}

impl Engine {
    pub(crate) fn read_urls(&self) -> std::sync::RwLockReadGuard<'_, UrlTable> {
        self.inner.urls.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_urls(&self) -> std::sync::RwLockWriteGuard<'_, UrlTable> {
        self.inner.urls.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Loads the stored URL configurations into memory.
    pub(crate) fn load_urls(&self) -> Result<(), flicker_store::StoreError> {
        let configs = self.inner.store.load_url_configs()?;
        let mut urls = self.write_urls();
        for config in configs {
            urls.insert(config.url_id.clone(), config);
        }
        info!(urls = urls.len(), "function URLs loaded");
        Ok(())
    }

    /// Returns the URL configuration with this id, for serving a request.
    pub fn url_config(&self, url_id: &str) -> Option<UrlConfig> {
        self.read_urls().get(url_id).cloned()
    }

    fn find_url(&self, function_name: &str, qualifier: Option<&str>) -> Option<UrlConfig> {
        self.read_urls()
            .values()
            .find(|c| c.function_name == function_name && c.qualifier.as_deref() == qualifier)
            .cloned()
    }

    /// Checks that the function, and the alias a qualifier names, exist.
    fn check_url_target(&self, reference: &FunctionRef, missing: Missing) -> Result<(), ApiError> {
        if let Some(qualifier) = &reference.qualifier {
            validate_url_qualifier(qualifier)?;
        }
        let settings = &self.inner.settings;
        reference.check_scope(&settings.region, &settings.account_id)?;
        let unqualified = FunctionRef { qualifier: None, ..reference.clone() };
        self.lookup(&unqualified).map_err(|_| missing.error())?;
        if reference.qualifier.is_some() {
            self.get_function(reference).map_err(|_| missing.error())?;
        }
        Ok(())
    }

    fn url_wire(&self, config: &UrlConfig, base_url: &str, view: View) -> FunctionUrlConfig {
        let settings = &self.inner.settings;
        let function_arn = match &config.qualifier {
            Some(q) => qualified_arn(&settings.region, &settings.account_id, &config.function_name, q),
            None => function_arn(&settings.region, &settings.account_id, &config.function_name),
        };
        let show_invoke_mode = view == View::Full || config.invoke_mode_given;
        FunctionUrlConfig {
            function_url: format!("{}{}", base_url.trim_end_matches('/'), url_path(&config.url_id)),
            function_arn,
            auth_type: config.auth_type.clone(),
            cors: config.cors.clone(),
            creation_time: config.creation_time.clone(),
            last_modified_time: (view != View::Create).then(|| config.last_modified_time.clone()),
            invoke_mode: show_invoke_mode.then(|| config.invoke_mode.clone()),
        }
    }

    /// Writes a URL configuration to the store and then to memory.
    fn save_url(&self, config: &UrlConfig) -> Result<(), ApiError> {
        tokio::task::block_in_place(|| self.inner.store.put_url_config(config))
            .map_err(|e| internal("storing the function URL", e))?;
        self.write_urls().insert(config.url_id.clone(), config.clone());
        Ok(())
    }

    /// CreateFunctionUrlConfig. `base_url` is how clients reach this server, such as
    /// `http://127.0.0.1:9000`.
    pub async fn create_url_config(
        &self,
        reference: &FunctionRef,
        request: FunctionUrlConfigRequest,
        base_url: &str,
    ) -> Result<FunctionUrlConfig, ApiError> {
        self.check_url_target(reference, Missing::Function)?;
        let auth_type = request.auth_type.ok_or_else(|| {
            ApiError::validation(
                "1 validation error detected: Value null at 'authType' failed to satisfy constraint: \
                 Member must not be null",
            )
        })?;
        validate_auth_type(&auth_type)?;
        if let Some(cors) = &request.cors {
            validate_cors(cors)?;
        }
        if let Some(mode) = &request.invoke_mode {
            validate_invoke_mode(mode)?;
        }

        let _control = self.inner.control.lock().await;
        let qualifier = reference.qualifier.as_deref();
        if self.find_url(&reference.name, qualifier).is_some() {
            let settings = &self.inner.settings;
            let arn = match qualifier {
                Some(q) => qualified_arn(&settings.region, &settings.account_id, &reference.name, q),
                None => function_arn(&settings.region, &settings.account_id, &reference.name),
            };
            return Err(ApiError::conflict(format!(
                "Failed to create function url config for [functionArn = {arn}]. Error message:  \
                 FunctionUrlConfig exists for this Lambda function"
            )));
        }

        let now = now_timestamp();
        let config = UrlConfig {
            function_name: reference.name.clone(),
            qualifier: reference.qualifier.clone(),
            url_id: uuid::Uuid::new_v4().simple().to_string(),
            auth_type,
            cors: request.cors,
            invoke_mode_given: request.invoke_mode.is_some(),
            invoke_mode: request.invoke_mode.unwrap_or_else(|| "BUFFERED".into()),
            creation_time: now.clone(),
            last_modified_time: now,
        };
        self.save_url(&config)?;
        info!(function = %config.function_name, qualifier = ?config.qualifier, url_id = %config.url_id, "function URL created");
        Ok(self.url_wire(&config, base_url, View::Create))
    }

    /// GetFunctionUrlConfig.
    pub fn get_url_config(
        &self,
        reference: &FunctionRef,
        base_url: &str,
    ) -> Result<FunctionUrlConfig, ApiError> {
        self.check_url_target(reference, Missing::Resource)?;
        let config = self
            .find_url(&reference.name, reference.qualifier.as_deref())
            .ok_or_else(|| Missing::Resource.error())?;
        Ok(self.url_wire(&config, base_url, View::Full))
    }

    /// UpdateFunctionUrlConfig: fields left out of the request keep their values.
    pub async fn update_url_config(
        &self,
        reference: &FunctionRef,
        request: FunctionUrlConfigRequest,
        base_url: &str,
    ) -> Result<FunctionUrlConfig, ApiError> {
        self.check_url_target(reference, Missing::Resource)?;
        if let Some(auth_type) = &request.auth_type {
            validate_auth_type(auth_type)?;
        }
        if let Some(cors) = &request.cors {
            validate_cors(cors)?;
        }
        if let Some(mode) = &request.invoke_mode {
            validate_invoke_mode(mode)?;
        }
        let _control = self.inner.control.lock().await;
        let mut config = self
            .find_url(&reference.name, reference.qualifier.as_deref())
            .ok_or_else(|| Missing::Resource.error())?;
        if let Some(auth_type) = request.auth_type {
            config.auth_type = auth_type;
        }
        if let Some(cors) = request.cors {
            config.cors = Some(cors);
        }
        if let Some(mode) = request.invoke_mode {
            config.invoke_mode = mode;
            config.invoke_mode_given = true;
        }
        config.last_modified_time = now_timestamp();
        self.save_url(&config)?;
        info!(function = %config.function_name, url_id = %config.url_id, "function URL updated");
        Ok(self.url_wire(&config, base_url, View::Update))
    }

    /// DeleteFunctionUrlConfig.
    pub async fn delete_url_config(&self, reference: &FunctionRef) -> Result<(), ApiError> {
        self.check_url_target(reference, Missing::Resource)?;
        let _control = self.inner.control.lock().await;
        let config = self
            .find_url(&reference.name, reference.qualifier.as_deref())
            .ok_or_else(|| Missing::Resource.error())?;
        tokio::task::block_in_place(|| {
            self.inner.store.delete_url_config(&config.function_name, config.qualifier.as_deref())
        })
        .map_err(|e| internal("deleting the function URL", e))?;
        self.write_urls().remove(&config.url_id);
        info!(function = %config.function_name, url_id = %config.url_id, "function URL deleted");
        Ok(())
    }

    /// Deletes every URL of a function that is being deleted. The caller holds the control lock.
    pub(crate) fn delete_function_urls(&self, function_name: &str) -> Result<(), ApiError> {
        tokio::task::block_in_place(|| self.inner.store.delete_function_urls(function_name))
            .map_err(|e| internal("deleting the function URLs", e))?;
        self.write_urls().retain(|_, config| config.function_name != function_name);
        Ok(())
    }

    /// Deletes the URL of an alias that is being deleted. The caller holds the control lock.
    pub(crate) fn delete_alias_url(&self, function_name: &str, alias: &str) -> Result<(), ApiError> {
        let Some(config) = self.find_url(function_name, Some(alias)) else { return Ok(()) };
        tokio::task::block_in_place(|| self.inner.store.delete_url_config(function_name, Some(alias)))
            .map_err(|e| internal("deleting the function URL", e))?;
        self.write_urls().remove(&config.url_id);
        Ok(())
    }

    /// ListFunctionUrlConfigs: the unqualified URL first, then aliases by name.
    pub fn list_url_configs(
        &self,
        reference: &FunctionRef,
        marker: Option<&str>,
        max_items: Option<i64>,
        base_url: &str,
    ) -> Result<FunctionUrlConfigList, ApiError> {
        let max_items = match max_items {
            None => 50,
            Some(n @ 1..=50) => n as usize,
            Some(n) => {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{n}' at 'maxItems' failed to satisfy constraint: \
                     Member must have value between 1 and 50"
                )))
            }
        };
        let unqualified = FunctionRef { qualifier: None, ..reference.clone() };
        self.check_url_target(&unqualified, Missing::Function)?;
        let start_after = match marker {
            Some(marker) => Some(decode_marker(marker)?),
            None => None,
        };
        let mut configs: Vec<UrlConfig> =
            self.read_urls().values().filter(|c| c.function_name == reference.name).cloned().collect();
        configs.sort_by_key(sort_key);
        let remaining: Vec<UrlConfig> = configs
            .into_iter()
            .filter(|c| start_after.as_deref().is_none_or(|after| sort_key(c).as_str() > after))
            .collect();
        let next_marker =
            (remaining.len() > max_items).then(|| encode_marker(&sort_key(&remaining[max_items - 1])));
        let function_url_configs =
            remaining.iter().take(max_items).map(|c| self.url_wire(c, base_url, View::Full)).collect();
        Ok(FunctionUrlConfigList { function_url_configs, next_marker })
    }
}

/// Orders a function's URLs: the unqualified one (empty key) before the aliases.
fn sort_key(config: &UrlConfig) -> String {
    config.qualifier.clone().unwrap_or_default()
}

fn encode_marker(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("url:{key}"))
}

fn decode_marker(marker: &str) -> Result<String, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(marker)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|text| text.strip_prefix("url:").map(str::to_string))
        .ok_or_else(|| ApiError::invalid_parameter(format!("Invalid Marker: {marker}")))
}
