//! A function's configuration as stored, its wire form, and the request bodies that change it.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::arn::function_arn;
use crate::layer::{FunctionLayer, FunctionLayerResponse};

/// The configuration of one function version, as Flicker stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionConfig {
    pub name: String,
    pub runtime: String,
    pub handler: String,
    pub role: String,
    #[serde(default)]
    pub description: String,
    pub memory_size: u32,
    pub timeout: u32,
    #[serde(default)]
    pub environment: IndexMap<String, String>,
    pub ephemeral_storage: u32,
    pub architectures: Vec<String>,
    /// Base64 of the raw SHA-256 of the deployment package.
    pub code_sha256: String,
    pub code_size: u64,
    pub last_modified: String,
    pub revision_id: String,
    /// `$LATEST` or a published version number.
    pub version: String,
    /// `DeadLetterConfig.TargetArn`: where failed asynchronous events go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_target: Option<String>,
    /// The layer versions merged into `/opt`, in order.
    #[serde(default)]
    pub layers: Vec<FunctionLayer>,
}

impl FunctionConfig {
    /// Builds the wire form, with ARNs from the server's region and account.
    pub fn to_wire(&self, region: &str, account: &str) -> FunctionConfiguration {
        let arn = function_arn(region, account, &self.name);
        let function_arn = if self.version == "$LATEST" { arn } else { format!("{arn}:{}", self.version) };
        FunctionConfiguration {
            function_name: self.name.clone(),
            function_arn,
            runtime: self.runtime.clone(),
            role: self.role.clone(),
            handler: self.handler.clone(),
            code_size: self.code_size,
            description: self.description.clone(),
            timeout: self.timeout,
            memory_size: self.memory_size,
            last_modified: self.last_modified.clone(),
            code_sha256: self.code_sha256.clone(),
            version: self.version.clone(),
            environment: (!self.environment.is_empty())
                .then(|| EnvironmentResponse { variables: self.environment.clone() }),
            tracing_config: TracingConfig { mode: "PassThrough".into() },
            revision_id: self.revision_id.clone(),
            state: Some("Active".into()),
            last_update_status: Some("Successful".into()),
            package_type: "Zip".into(),
            architectures: self.architectures.clone(),
            ephemeral_storage: EphemeralStorage { size: self.ephemeral_storage },
            snap_start: SnapStartResponse { apply_on: "None".into(), optimization_status: "Off".into() },
            logging_config: LoggingConfig {
                log_format: "Text".into(),
                log_group: format!("/aws/lambda/{}", self.name),
            },
            dead_letter_config: self
                .dead_letter_target
                .clone()
                .map(|target_arn| DeadLetterConfig { target_arn: Some(target_arn) }),
            layers: (!self.layers.is_empty())
                .then(|| self.layers.iter().map(FunctionLayer::to_wire).collect()),
        }
    }
}

impl FunctionConfiguration {
    /// Drops the state members, which AWS leaves out of ListFunctions items.
    pub fn without_state(mut self) -> Self {
        self.state = None;
        self.last_update_status = None;
        self
    }
}

/// `FunctionConfiguration` as the Lambda API returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionConfiguration {
    pub function_name: String,
    pub function_arn: String,
    pub runtime: String,
    pub role: String,
    pub handler: String,
    pub code_size: u64,
    pub description: String,
    pub timeout: u32,
    pub memory_size: u32,
    pub last_modified: String,
    pub code_sha256: String,
    pub version: String,
    /// Absent when the function has no variables, as AWS sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<EnvironmentResponse>,
    pub tracing_config: TracingConfig,
    pub revision_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_status: Option<String>,
    pub package_type: String,
    pub architectures: Vec<String>,
    pub ephemeral_storage: EphemeralStorage,
    pub snap_start: SnapStartResponse,
    pub logging_config: LoggingConfig,
    /// Absent when the function uses no layers, as AWS sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<FunctionLayerResponse>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfig>,
}

/// `DeadLetterConfig`: the SQS queue, SNS topic or function that receives failed asynchronous
/// events. An empty `TargetArn` in an update removes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_arn: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Environment {
    #[serde(default)]
    pub variables: Option<IndexMap<String, String>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnvironmentResponse {
    pub variables: IndexMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TracingConfig {
    pub mode: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EphemeralStorage {
    pub size: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnapStartResponse {
    pub apply_on: String,
    pub optimization_status: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoggingConfig {
    pub log_format: String,
    pub log_group: String,
}

/// The `Code` member of CreateFunction. `ZipFile` arrives base64-encoded in JSON.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionCode {
    pub zip_file: Option<String>,
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    pub s3_key: Option<String>,
    pub image_uri: Option<String>,
}

/// The body of CreateFunction.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateFunctionRequest {
    pub function_name: Option<String>,
    pub runtime: Option<String>,
    pub role: Option<String>,
    pub handler: Option<String>,
    pub code: Option<FunctionCode>,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    pub publish: Option<bool>,
    pub environment: Option<Environment>,
    pub package_type: Option<String>,
    pub architectures: Option<Vec<String>>,
    pub ephemeral_storage: Option<EphemeralStorage>,
    pub tags: Option<IndexMap<String, String>>,
    pub layers: Option<Vec<String>>,
    pub dead_letter_config: Option<DeadLetterConfig>,
}

/// The body of UpdateFunctionConfiguration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateFunctionConfigurationRequest {
    pub runtime: Option<String>,
    pub role: Option<String>,
    pub handler: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    pub environment: Option<Environment>,
    pub ephemeral_storage: Option<EphemeralStorage>,
    pub revision_id: Option<String>,
    pub layers: Option<Vec<String>>,
    pub dead_letter_config: Option<DeadLetterConfig>,
}

/// The body of UpdateFunctionCode.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateFunctionCodeRequest {
    pub zip_file: Option<String>,
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    pub s3_key: Option<String>,
    pub image_uri: Option<String>,
    pub publish: Option<bool>,
    pub dry_run: Option<bool>,
    pub revision_id: Option<String>,
    pub architectures: Option<Vec<String>>,
}
