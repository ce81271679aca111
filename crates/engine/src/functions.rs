//! The control plane of functions: create, read, list, update and delete, each validated with
//! AWS's errors, written to the store, and then applied to the in-memory pools.

use std::sync::Arc;

use base64::Engine as _;
use flicker_model::arn::function_arn;
use flicker_model::event_invoke;
use flicker_model::function::{
    CreateFunctionRequest, UpdateFunctionCodeRequest, UpdateFunctionConfigurationRequest,
};
use flicker_model::{
    limits, time, validate, ApiError, FunctionConfig, FunctionConfiguration, FunctionRef, RuntimeId,
};
use serde::Serialize;
use tracing::{error, info};

use crate::entry::FunctionEntry;
use crate::package::{self, PackageInfo};
use crate::pool::Pool;
use crate::{Engine, FunctionVersion};

/// A function's configuration, the digest that names its code blob, and its tags.
#[derive(Debug, Clone)]
pub struct FunctionDetails {
    pub configuration: FunctionConfiguration,
    pub code_sha256_hex: String,
    /// The function's tags, which GetFunction sends when there are any.
    pub tags: std::collections::BTreeMap<String, String>,
}

/// One page of ListFunctions.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionList {
    pub functions: Vec<FunctionConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// The body of GetAccountSettings.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountSettings {
    pub account_limit: AccountLimit,
    pub account_usage: AccountUsage,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountLimit {
    pub total_code_size: u64,
    pub code_size_unzipped: u64,
    pub code_size_zipped: u64,
    pub concurrent_executions: usize,
    pub unreserved_concurrent_executions: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountUsage {
    pub total_code_size: u64,
    pub function_count: usize,
}

/// Total code storage reported as the account limit, as AWS's default of 75 GB.
const TOTAL_CODE_SIZE_LIMIT: u64 = 80_530_636_800;

pub(crate) fn internal(what: &str, err: impl std::fmt::Display) -> ApiError {
    error!(error = %err, "{what} failed");
    ApiError::service(format!("{what} failed: {err}"))
}

pub(crate) fn decode_zip(zip_base64: &str) -> Result<Vec<u8>, ApiError> {
    base64::engine::general_purpose::STANDARD.decode(zip_base64).map_err(|_| {
        ApiError::invalid_parameter(
            "Could not unzip uploaded file. Please check your file, then try to upload again.",
        )
    })
}

fn reject_unsupported_code_source(
    s3_bucket: &Option<String>,
    image_uri: &Option<String>,
) -> Result<(), ApiError> {
    if s3_bucket.is_some() {
        return Err(ApiError::invalid_parameter(
            "Code from S3 is not supported by this server. Upload the deployment package as ZipFile.",
        ));
    }
    if image_uri.is_some() {
        return Err(ApiError::invalid_parameter(
            "Container images are not supported by this server. Use PackageType Zip with a ZipFile.",
        ));
    }
    Ok(())
}

fn check_revision(config: &FunctionConfig, revision_id: Option<&str>) -> Result<(), ApiError> {
    match revision_id {
        Some(expected) if expected != config.revision_id => Err(ApiError::precondition_failed(
            "The Revision Id provided does not match the latest Revision Id. Call the \
             GetFunction/GetAlias API to retrieve the latest Revision Id",
        )),
        _ => Ok(()),
    }
}

fn new_revision(config: &mut FunctionConfig) {
    config.revision_id = uuid::Uuid::new_v4().to_string();
    config.last_modified = time::now_last_modified();
}

impl Engine {
    pub(crate) fn arn(&self, name: &str) -> String {
        let settings = &self.inner.settings;
        function_arn(&settings.region, &settings.account_id, name)
    }

    pub(crate) fn wire(&self, config: &FunctionConfig) -> FunctionConfiguration {
        config.to_wire(&self.inner.settings.region, &self.inner.settings.account_id)
    }

    /// Resolves the interpreter and the unpacked code of a configuration.
    pub(crate) async fn prepare_version(&self, config: FunctionConfig) -> Result<FunctionVersion, ApiError> {
        let runtime = RuntimeId::parse(&config.runtime)?;
        let interpreter = self.inner.catalog.resolve(&runtime)?;
        let sha_hex = package::base64_to_hex(&config.code_sha256).ok_or_else(|| {
            ApiError::service(format!("stored CodeSha256 of {} is not base64", config.name))
        })?;
        let blobs = self.inner.blobs.clone();
        let root = self.inner.settings.data_dir.join("tasks");
        let task_root = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
            let zip = blobs.get(&sha_hex).map_err(|e| internal("reading the code blob", e))?;
            package::unpack(&zip, &root, &sha_hex).map_err(|e| e.to_api_error())
        })
        .await
        .map_err(|e| internal("unpacking the code", e))??;
        let opt_dir = self.prepare_opt(&config.layers).await?;
        Ok(FunctionVersion { config, runtime, interpreter, task_root, opt_dir })
    }

    /// Stores a new code blob and returns what it contains.
    /// Checks a new package by unpacking it, and only then stores its blob, so that a package
    /// that cannot be unpacked leaves nothing behind.
    async fn store_package(&self, zip: Vec<u8>) -> Result<PackageInfo, ApiError> {
        let blobs = self.inner.blobs.clone();
        let root = self.inner.settings.data_dir.join("tasks");
        tokio::task::spawn_blocking(move || {
            let info = package::inspect(&zip)?;
            package::unpack(&zip, &root, &info.sha256_hex).map_err(|e| e.to_api_error())?;
            blobs.put(&info.sha256_hex, &zip).map_err(|e| internal("storing the code blob", e))?;
            Ok(info)
        })
        .await
        .map_err(|e| internal("storing the code blob", e))?
    }

    /// Installs a new `$LATEST` and retires the environments of the old one. The function's
    /// versions and settings stay as they are.
    fn install(&self, version: FunctionVersion) {
        let name = version.config.name.clone();
        let pool = Pool::new(version);
        let mut functions = self.write_functions();
        let entry = match functions.get(&name) {
            Some(current) => FunctionEntry { latest: Arc::new(pool), ..FunctionEntry::clone(current) },
            None => FunctionEntry::new(pool),
        };
        if let Some(previous) = functions.insert(name, Arc::new(entry)) {
            previous.latest.retire();
        }
    }

    /// Replaces a function's entry with `entry` after writing its settings to the store.
    pub(crate) async fn save_entry(&self, entry: FunctionEntry) -> Result<Arc<FunctionEntry>, ApiError> {
        let name = entry.latest.version.config.name.clone();
        let settings = entry.settings.clone();
        let stored_name = name.clone();
        self.with_store(move |store| store.save_settings(&stored_name, &settings)).await?;
        let entry = Arc::new(entry);
        self.write_functions().insert(name, entry.clone());
        Ok(entry)
    }

    pub async fn create_function(
        &self,
        request: CreateFunctionRequest,
    ) -> Result<FunctionConfiguration, ApiError> {
        let name_value = request.function_name.as_deref().ok_or_else(|| missing("FunctionName"))?;
        let reference = FunctionRef::parse_new(name_value)?;
        reference.check_scope(&self.inner.settings.region, &self.inner.settings.account_id)?;
        if reference.qualifier.is_some() {
            return Err(ApiError::invalid_parameter(format!(
                "Function name {name_value} must not have a qualifier when creating a function."
            )));
        }
        if request.package_type.as_deref().is_some_and(|p| p != "Zip") {
            return Err(ApiError::invalid_parameter(
                "Container images are not supported by this server. Use PackageType Zip with a ZipFile.",
            ));
        }
        let runtime = RuntimeId::parse(request.runtime.as_deref().ok_or_else(|| missing("Runtime"))?)?;
        let handler = request.handler.clone().unwrap_or_default();
        if handler.is_empty() && runtime.language() != flicker_model::Language::Provided {
            return Err(ApiError::invalid_parameter(format!("Handler is required for runtime {runtime}.")));
        }
        if !handler.is_empty() {
            validate::handler(&handler)?;
        }
        let role = request.role.clone().ok_or_else(|| missing("Role"))?;
        validate::role(&role)?;
        let description = request.description.clone().unwrap_or_default();
        validate::description(&description)?;
        let memory_size =
            validate::memory_size(request.memory_size.unwrap_or(limits::MEMORY_DEFAULT_MB.into()))?;
        let timeout = validate::timeout(request.timeout.unwrap_or(limits::TIMEOUT_DEFAULT_S.into()))?;
        let ephemeral_storage = validate::ephemeral_storage(
            request.ephemeral_storage.map_or(limits::EPHEMERAL_DEFAULT_MB, |e| e.size),
        )?;
        let environment = request.environment.clone().and_then(|e| e.variables).unwrap_or_default();
        validate::environment(&environment)?;
        let architectures = request.architectures.clone().unwrap_or_else(|| vec!["x86_64".to_string()]);
        validate::architectures(&architectures)?;
        self.inner.catalog.resolve(&runtime)?;

        let tags = request.tags.clone().unwrap_or_default();
        crate::tags::check_count(tags.len())?;
        let code = request.code.clone().unwrap_or_default();
        reject_unsupported_code_source(&code.s3_bucket, &code.image_uri)?;
        let zip = decode_zip(code.zip_file.as_deref().ok_or_else(|| missing("Code.ZipFile"))?)?;
        let dead_letter_target = match &request.dead_letter_config {
            Some(config) => event_invoke::dead_letter_target(config.target_arn.as_deref().unwrap_or(""))?,
            None => None,
        };
        let _control = self.inner.control.lock().await;
        if self.read_functions().contains_key(&reference.name) {
            return Err(function_exists(&reference.name));
        }
        let layers = self
            .resolve_layers(request.layers.as_deref().unwrap_or_default(), package::unzipped_size(&zip)?)
            .await?;
        let package = self.store_package(zip).await?;
        // A layer may provide the handler's file, as in Lambda, so only a function without
        // layers must have it in its code.
        if layers.is_empty() {
            package.check_handler(&runtime, &handler)?;
        }

        let config = FunctionConfig {
            name: reference.name.clone(),
            runtime: runtime.to_string(),
            handler,
            role,
            description,
            memory_size,
            timeout,
            environment,
            ephemeral_storage,
            architectures,
            code_sha256: package.sha256_base64.clone(),
            code_size: package.size,
            last_modified: time::now_last_modified(),
            revision_id: uuid::Uuid::new_v4().to_string(),
            version: "$LATEST".to_string(),
            dead_letter_target,
            layers,
        };
        let version = self.prepare_version(config.clone()).await?;
        self.inner.store.create_function(&config).map_err(|e| match e {
            flicker_store::StoreError::AlreadyExists(name) => function_exists(&name),
            other => internal("storing the function", other),
        })?;
        self.install(version);
        if !tags.is_empty() {
            let mut entry = FunctionEntry::clone(&*self.entry(&reference)?);
            entry.settings.tags = tags.into_iter().collect();
            self.save_entry(entry).await?;
        }
        info!(function = %config.name, runtime = %config.runtime, "function created");
        if request.publish == Some(true) {
            self.publish_locked(&reference, Default::default()).await?;
        }
        Ok(self.wire(&config))
    }

    pub fn get_function(&self, reference: &FunctionRef) -> Result<FunctionDetails, ApiError> {
        let pool = self.lookup(reference)?;
        let config = &pool.version.config;
        let mut configuration = self.wire(config);
        configuration.function_arn = match &reference.qualifier {
            Some(qualifier) => format!("{}:{qualifier}", self.arn(&config.name)),
            None => self.arn(&config.name),
        };
        let tags = self.entry(reference)?.settings.tags.clone();
        Ok(FunctionDetails {
            configuration,
            code_sha256_hex: package::base64_to_hex(&config.code_sha256).unwrap_or_default(),
            tags,
        })
    }

    /// A page of functions ordered by name. `marker` is the `NextMarker` of the previous page.
    pub fn list_functions(
        &self,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<FunctionList, ApiError> {
        let max_items = match max_items {
            None => 50,
            Some(n @ 1..=10000) => n as usize,
            Some(n) => {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{n}' at 'maxItems' failed to satisfy constraint: \
                     Member must have value between 1 and 10000"
                )))
            }
        };
        let start_after = match marker {
            Some(marker) => Some(decode_marker(marker)?),
            None => None,
        };
        let mut configs: Vec<FunctionConfig> =
            self.read_functions().values().map(|entry| entry.latest.version.config.clone()).collect();
        configs.sort_by(|a, b| a.name.cmp(&b.name));
        let remaining: Vec<FunctionConfig> = configs
            .into_iter()
            .filter(|c| start_after.as_deref().is_none_or(|after| c.name.as_str() > after))
            .collect();
        let next_marker =
            (remaining.len() > max_items).then(|| encode_marker(&remaining[max_items - 1].name));
        let functions = remaining.iter().take(max_items).map(|c| self.wire(c).without_state()).collect();
        Ok(FunctionList { functions, next_marker })
    }

    pub async fn update_function_code(
        &self,
        reference: &FunctionRef,
        request: UpdateFunctionCodeRequest,
    ) -> Result<FunctionConfiguration, ApiError> {
        reject_qualifier(reference)?;
        reject_unsupported_code_source(&request.s3_bucket, &request.image_uri)?;
        let zip = decode_zip(request.zip_file.as_deref().ok_or_else(|| missing("ZipFile"))?)?;
        if let Some(architectures) = &request.architectures {
            validate::architectures(architectures)?;
        }
        let _control = self.inner.control.lock().await;
        let mut config = self.lookup(reference)?.version.config.clone();
        check_revision(&config, request.revision_id.as_deref())?;
        // Unlike CreateFunction, the update does not check the handler against the new code,
        // so that a module can be renamed by updating the code and then the handler.
        crate::layers::check_total_size(&config.layers, package::unzipped_size(&zip)?)?;
        let package = self.store_package(zip).await?;

        config.code_sha256 = package.sha256_base64.clone();
        config.code_size = package.size;
        if let Some(architectures) = request.architectures {
            config.architectures = architectures;
        }
        new_revision(&mut config);
        if request.dry_run == Some(true) {
            return Ok(self.wire(&config));
        }
        let saved = self.save(config).await?;
        if request.publish == Some(true) {
            // As in AWS, the response is then the configuration of the published version.
            return self.publish_locked(reference, Default::default()).await;
        }
        Ok(saved)
    }

    pub async fn update_function_configuration(
        &self,
        reference: &FunctionRef,
        request: UpdateFunctionConfigurationRequest,
    ) -> Result<FunctionConfiguration, ApiError> {
        reject_qualifier(reference)?;
        let _control = self.inner.control.lock().await;
        let pool = self.lookup(reference)?;
        let mut config = pool.version.config.clone();
        check_revision(&config, request.revision_id.as_deref())?;

        if let Some(runtime) = &request.runtime {
            config.runtime = RuntimeId::parse(runtime)?.to_string();
        }
        if let Some(handler) = &request.handler {
            validate::handler(handler)?;
            config.handler = handler.clone();
        }
        if let Some(role) = &request.role {
            validate::role(role)?;
            config.role = role.clone();
        }
        if let Some(description) = &request.description {
            validate::description(description)?;
            config.description = description.clone();
        }
        if let Some(memory) = request.memory_size {
            config.memory_size = validate::memory_size(memory)?;
        }
        if let Some(timeout) = request.timeout {
            config.timeout = validate::timeout(timeout)?;
        }
        if let Some(storage) = request.ephemeral_storage {
            config.ephemeral_storage = validate::ephemeral_storage(storage.size)?;
        }
        if let Some(environment) = &request.environment {
            let variables = environment.variables.clone().unwrap_or_default();
            validate::environment(&variables)?;
            config.environment = variables;
        }
        if let Some(dead_letter) = &request.dead_letter_config {
            config.dead_letter_target =
                event_invoke::dead_letter_target(dead_letter.target_arn.as_deref().unwrap_or(""))?;
        }
        if let Some(arns) = &request.layers {
            config.layers = self.resolve_layers(arns, self.code_unzipped_size(&config).await?).await?;
        }
        let runtime = RuntimeId::parse(&config.runtime)?;
        self.inner.catalog.resolve(&runtime)?;
        new_revision(&mut config);
        self.save(config).await
    }

    /// Writes a changed `$LATEST` and installs it.
    async fn save(&self, config: FunctionConfig) -> Result<FunctionConfiguration, ApiError> {
        let version = self.prepare_version(config.clone()).await?;
        let stored = config.clone();
        self.with_store(move |store| store.update_function(&stored)).await?;
        self.install(version);
        info!(function = %config.name, revision = %config.revision_id, "function updated");
        Ok(self.wire(&config))
    }

    /// Deletes a function. Deleting a version that does not exist succeeds without effect, as
    /// in AWS.
    pub async fn delete_function(&self, reference: &FunctionRef) -> Result<(), ApiError> {
        if reference.qualifier.as_deref() == Some("$LATEST") {
            return Err(ApiError::invalid_parameter(
                "$LATEST version cannot be deleted without deleting the function.",
            ));
        }
        let _control = self.inner.control.lock().await;
        let entry = self.entry(reference)?;
        if let Some(qualifier) = &reference.qualifier {
            return self.delete_version(&entry, qualifier).await;
        }
        let name = reference.name.clone();
        self.with_store(move |store| store.delete_function(&name, None)).await?;
        self.delete_function_urls(&reference.name)?;
        if let Some(entry) = self.write_functions().remove(&reference.name) {
            for pool in entry.pools() {
                pool.retire();
            }
        }
        self.update_reserved_total();
        info!(function = %reference.name, "function deleted");
        Ok(())
    }

    pub fn account_settings(&self) -> AccountSettings {
        let functions = self.read_functions();
        let limit = self.inner.settings.concurrency_limit;
        AccountSettings {
            account_limit: AccountLimit {
                total_code_size: TOTAL_CODE_SIZE_LIMIT,
                code_size_unzipped: limits::CODE_UNZIPPED,
                code_size_zipped: limits::CODE_ZIPPED,
                concurrent_executions: limit,
                unreserved_concurrent_executions: limit
                    .saturating_sub(self.committed_concurrency(&functions)),
            },
            account_usage: AccountUsage {
                total_code_size: functions.values().map(|entry| entry.code_size()).sum(),
                function_count: functions.len(),
            },
        }
    }

    /// Reads the zip stored under a hex SHA-256, for GetFunction's download location.
    pub async fn code_blob(&self, sha256_hex: &str) -> Result<Vec<u8>, ApiError> {
        if sha256_hex.len() != 64 || !sha256_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::not_found("The resource you requested does not exist."));
        }
        let blobs = self.inner.blobs.clone();
        let sha = sha256_hex.to_string();
        tokio::task::spawn_blocking(move || blobs.get(&sha))
            .await
            .map_err(|e| internal("reading the code blob", e))?
            .map_err(|_| ApiError::not_found("The resource you requested does not exist."))
    }
}

pub(crate) fn missing(field: &str) -> ApiError {
    ApiError::invalid_parameter(format!("{field} is required."))
}

fn function_exists(name: &str) -> ApiError {
    ApiError::conflict(format!("Function already exist: {name}"))
}

pub(crate) fn reject_qualifier(reference: &FunctionRef) -> Result<(), ApiError> {
    if reference.qualifier.is_some() {
        return Err(ApiError::invalid_parameter(
            "This operation is permitted on Lambda functions only. Aliases and versions do not support \
             this operation. Please specify either a function name or an unqualified function ARN.",
        ));
    }
    Ok(())
}

fn encode_marker(name: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(name)
}

fn decode_marker(marker: &str) -> Result<String, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(marker)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .ok_or_else(|| ApiError::invalid_parameter(format!("Invalid Marker: {marker}")))
}
