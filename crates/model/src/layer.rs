//! Lambda layers: a published layer version as stored, its wire forms, the request body of
//! PublishLayerVersion, and the validation of layer names, version numbers and layer ARNs
//! with AWS's errors. Nothing here performs I/O.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::runtime::{AWS_CREATABLE, AWS_DEPRECATED};
use crate::ApiError;

/// Maximum number of layers one function may reference.
pub const MAX_FUNCTION_LAYERS: usize = 5;
/// Maximum number of entries in `CompatibleRuntimes`.
pub const MAX_COMPATIBLE_RUNTIMES: usize = 15;
/// Maximum number of entries in `CompatibleArchitectures`.
pub const MAX_COMPATIBLE_ARCHITECTURES: usize = 2;
/// Maximum length of `LicenseInfo`, in characters.
pub const LICENSE_INFO_MAX: usize = 512;
/// Maximum length of a layer name or layer ARN, in characters.
pub const LAYER_NAME_MAX: usize = 140;
/// Maximum number of items on one ListLayers or ListLayerVersions page.
pub const MAX_LIST_ITEMS: i64 = 50;

/// The `LayerName` pattern of the API model: a name or an unversioned layer ARN.
const LAYER_NAME_PATTERN: &str =
    r"(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+";

/// The pattern AWS checks layer version ARNs against, in GetLayerVersionByArn and in a
/// function's `Layers`.
const LAYER_VERSION_ARN_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)";

static LAYER_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!("^(?:{LAYER_NAME_PATTERN})$")).expect("layer name pattern compiles")
});

static LAYER_ARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^arn:[a-zA-Z0-9-]+:lambda:([a-zA-Z0-9-]+):(\d{12}):layer:([a-zA-Z0-9-_]+)$")
        .expect("layer ARN pattern compiles")
});

static LAYER_VERSION_ARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!("^(?:{LAYER_VERSION_ARN_PATTERN})$")).expect("layer version ARN pattern compiles")
});

/// The parts of a layer version ARN `arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION`.
static LAYER_VERSION_ARN_PARTS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^arn:[a-zA-Z0-9-]+:lambda:([a-z0-9-]+):(\d{12}):layer:([a-zA-Z0-9-_]+):([0-9]+)$")
        .expect("layer version ARN parts pattern compiles")
});

/// The runtimes that ListLayers and ListLayerVersions name in their error for an unknown
/// `CompatibleRuntime`, copied in AWS's order from a response of the real service.
const LIST_RUNTIME_ENUM: &str = "ruby3.5, ruby2.6, dotnetcore1.0, python3.7, nodejs8.10, nasa, ruby2.7, \
     python2.7-greengrass, dotnetcore2.0, python3.8, java21, dotnet6, dotnetcore2.1, python3.9, java11, \
     nodejs6.10, provided, dotnetcore3.1, dotnet8, java25, java17, nodejs, nodejs4.3, java8.al2, go1.x, \
     dotnet10, nodejs20.x, go1.9, byol, nodejs10.x, provided.al2023, nodejs22.x, python3.10, java8, \
     nodejs12.x, python3.11, nodejs24.x, nodejs8.x, python3.12, nodejs14.x, nodejs8.9, nodejs26.x, \
     python3.13, python3.14, nodejs16.x, python3.15, provided.al2, nodejs4.3-edge, nodejs18.x, ruby3.2, \
     python3.4, ruby3.3, ruby3.4, ruby2.5, python3.6, python2.7";

const ARCHITECTURE_ENUM: &str = "[x86_64, arm64]";

/// One published layer version, as Flicker stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerVersionRecord {
    pub name: String,
    pub version: u64,
    #[serde(default)]
    pub description: String,
    pub license_info: Option<String>,
    /// `None` when the request left the member out, which AWS reflects by leaving it out too.
    pub compatible_runtimes: Option<Vec<String>>,
    pub compatible_architectures: Option<Vec<String>>,
    /// Base64 of the raw SHA-256 of the layer archive.
    pub code_sha256: String,
    /// Size of the layer archive in bytes.
    pub code_size: u64,
    /// Sum of the uncompressed sizes the archive declares.
    pub unzipped_size: u64,
    pub created_date: String,
}

/// A layer version that a function references, stored with the function so that the function
/// keeps running after the layer version is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FunctionLayer {
    /// The layer version ARN.
    pub arn: String,
    pub code_size: u64,
    /// Base64 of the raw SHA-256 of the layer archive.
    pub code_sha256: String,
    pub unzipped_size: u64,
}

/// `Layer` of a function configuration as the Lambda API returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionLayerResponse {
    pub arn: String,
    pub code_size: u64,
}

impl FunctionLayer {
    pub fn to_wire(&self) -> FunctionLayerResponse {
        FunctionLayerResponse { arn: self.arn.clone(), code_size: self.code_size }
    }
}

/// `Content` of PublishLayerVersion. `ZipFile` arrives base64-encoded in JSON.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayerVersionContentInput {
    pub zip_file: Option<String>,
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    pub s3_key: Option<String>,
    #[serde(rename = "S3ObjectVersion")]
    pub s3_object_version: Option<String>,
}

/// The body of PublishLayerVersion.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishLayerVersionRequest {
    pub content: Option<LayerVersionContentInput>,
    pub description: Option<String>,
    pub compatible_runtimes: Option<Vec<String>>,
    pub compatible_architectures: Option<Vec<String>>,
    pub license_info: Option<String>,
}

/// `Content` of a layer version as the Lambda API returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayerVersionContentOutput {
    pub location: String,
    pub code_sha256: String,
    pub code_size: u64,
}

/// The body of PublishLayerVersion, GetLayerVersion and GetLayerVersionByArn responses.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayerVersionResponse {
    pub content: LayerVersionContentOutput,
    pub layer_arn: String,
    pub layer_version_arn: String,
    pub description: String,
    pub created_date: String,
    pub version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatible_runtimes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_info: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatible_architectures: Option<Vec<String>>,
}

/// `LayerVersionsListItem`: a layer version in ListLayerVersions and ListLayers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayerVersionsListItem {
    pub layer_version_arn: String,
    pub version: u64,
    pub description: String,
    pub created_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatible_runtimes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_info: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatible_architectures: Option<Vec<String>>,
}

/// `LayersListItem`: a layer and its newest version that matches the filters of ListLayers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayersListItem {
    pub layer_name: String,
    pub layer_arn: String,
    pub latest_matching_version: LayerVersionsListItem,
}

/// The body of a ListLayers response.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListLayersResponse {
    pub layers: Vec<LayersListItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// The body of a ListLayerVersions response.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListLayerVersionsResponse {
    pub layer_versions: Vec<LayerVersionsListItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// The optional filters of ListLayers and ListLayerVersions.
#[derive(Debug, Clone, Default)]
pub struct LayerFilter {
    pub compatible_runtime: Option<String>,
    pub compatible_architecture: Option<String>,
}

impl LayerFilter {
    /// Checks the filter values with AWS's validation errors.
    pub fn validate(&self) -> Result<(), ApiError> {
        if let Some(runtime) = &self.compatible_runtime {
            if !is_model_runtime(runtime) {
                let rule = format!("Member must satisfy enum value set: [{LIST_RUNTIME_ENUM}]");
                return Err(validation_error(&[constraint(runtime, "compatibleRuntime", &rule)]));
            }
        }
        if let Some(architecture) = &self.compatible_architecture {
            if !is_architecture(architecture) {
                let rule = format!("Member must satisfy enum value set: {ARCHITECTURE_ENUM}");
                return Err(validation_error(&[constraint(architecture, "compatibleArchitecture", &rule)]));
            }
        }
        Ok(())
    }

    /// Returns whether a layer version matches. A version that lists no runtimes or architectures
    /// matches no filter on them.
    pub fn matches(&self, record: &LayerVersionRecord) -> bool {
        let contains = |list: &Option<Vec<String>>, wanted: &Option<String>| match wanted {
            None => true,
            Some(wanted) => list.as_ref().is_some_and(|values| values.contains(wanted)),
        };
        contains(&record.compatible_runtimes, &self.compatible_runtime)
            && contains(&record.compatible_architectures, &self.compatible_architecture)
    }
}

/// Builds the ARN of a layer.
pub fn layer_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:layer:{name}")
}

/// Builds the ARN of a layer version.
pub fn layer_version_arn(region: &str, account: &str, name: &str, version: u64) -> String {
    format!("{}:{version}", layer_arn(region, account, name))
}

impl LayerVersionRecord {
    /// Builds the response of Publish/GetLayerVersion. `location` is the URL of the archive.
    pub fn to_wire(&self, region: &str, account: &str, location: String) -> LayerVersionResponse {
        LayerVersionResponse {
            content: LayerVersionContentOutput {
                location,
                code_sha256: self.code_sha256.clone(),
                code_size: self.code_size,
            },
            layer_arn: layer_arn(region, account, &self.name),
            layer_version_arn: layer_version_arn(region, account, &self.name, self.version),
            description: self.description.clone(),
            created_date: self.created_date.clone(),
            version: self.version,
            compatible_runtimes: self.compatible_runtimes.clone(),
            license_info: self.license_info.clone(),
            compatible_architectures: self.compatible_architectures.clone(),
        }
    }

    /// Builds the list item of ListLayerVersions and ListLayers.
    pub fn to_list_item(&self, region: &str, account: &str) -> LayerVersionsListItem {
        LayerVersionsListItem {
            layer_version_arn: layer_version_arn(region, account, &self.name, self.version),
            version: self.version,
            description: self.description.clone(),
            created_date: self.created_date.clone(),
            compatible_runtimes: self.compatible_runtimes.clone(),
            license_info: self.license_info.clone(),
            compatible_architectures: self.compatible_architectures.clone(),
        }
    }
}

fn constraint(value: impl std::fmt::Display, field: &str, rule: &str) -> String {
    format!("Value '{value}' at '{field}' failed to satisfy constraint: {rule}")
}

/// Joins validation failures the way AWS counts them: "1 validation error detected: ..." or
/// "2 validation errors detected: ...; ...".
fn validation_error(failures: &[String]) -> ApiError {
    let noun = if failures.len() == 1 { "error" } else { "errors" };
    ApiError::validation(format!("{} validation {noun} detected: {}", failures.len(), failures.join("; ")))
}

/// Returns whether `value` is a runtime identifier of the API model, deprecated ones included.
fn is_model_runtime(value: &str) -> bool {
    AWS_CREATABLE.contains(&value) || AWS_DEPRECATED.contains(&value)
}

fn is_architecture(value: &str) -> bool {
    value == "x86_64" || value == "arm64"
}

/// Checks a layer name given as a name or as an unversioned layer ARN, and returns the name.
/// An ARN of another region or account names no layer of this server, so it is not found.
pub fn parse_layer_name(value: &str, region: &str, account: &str) -> Result<String, ApiError> {
    if value.chars().count() > LAYER_NAME_MAX {
        let rule = format!("Member must have length less than or equal to {LAYER_NAME_MAX}");
        return Err(validation_error(&[constraint(value, "layerName", &rule)]));
    }
    if value.is_empty() || !LAYER_NAME.is_match(value) {
        let rule = format!("Member must satisfy regular expression pattern: {LAYER_NAME_PATTERN}");
        return Err(validation_error(&[constraint(value, "layerName", &rule)]));
    }
    let Some(parts) = LAYER_ARN.captures(value) else {
        return Ok(value.to_string());
    };
    if &parts[1] != region || &parts[2] != account {
        return Err(layer_not_found());
    }
    Ok(parts[3].to_string())
}

/// Checks a layer version number from a request path.
pub fn parse_version_number(value: &str) -> Result<u64, ApiError> {
    let number: i64 = value.parse().map_err(|_| {
        validation_error(&[constraint(value, "versionNumber", "Member must be a valid long integer")])
    })?;
    if number < 1 {
        return Err(ApiError::invalid_parameter("Layer Version Cannot be less than 1"));
    }
    Ok(number as u64)
}

/// The error of a layer or layer version that does not exist.
pub fn layer_not_found() -> ApiError {
    ApiError::not_found("The resource you requested does not exist.")
}

/// A layer version ARN split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerVersionRef {
    pub region: String,
    pub account: String,
    pub name: String,
    pub version: u64,
}

impl LayerVersionRef {
    /// Parses the `Arn` of GetLayerVersionByArn.
    pub fn parse_arn(value: &str) -> Result<Self, ApiError> {
        let rule = format!("Member must satisfy regular expression pattern: {LAYER_VERSION_ARN_PATTERN}");
        let invalid = || validation_error(&[constraint(value, "arn", &rule)]);
        if value.chars().count() > LAYER_NAME_MAX || !LAYER_VERSION_ARN.is_match(value) {
            return Err(invalid());
        }
        Self::split(value).ok_or_else(layer_not_found)
    }

    /// Splits an ARN that matched the pattern. `None` for the `awslayer` form, which names a
    /// layer of AWS's own that this server does not have.
    fn split(value: &str) -> Option<Self> {
        let parts = LAYER_VERSION_ARN_PARTS.captures(value)?;
        Some(Self {
            region: parts[1].to_string(),
            account: parts[2].to_string(),
            name: parts[3].to_string(),
            version: parts[4].parse().ok()?,
        })
    }

    /// The layer ARN without the version, which identifies "the same layer".
    pub fn unversioned(&self) -> String {
        layer_arn(&self.region, &self.account, &self.name)
    }
}

/// Checks the `Layers` of CreateFunction or UpdateFunctionConfiguration without looking the
/// layers up: the ARN pattern, the count, the region and one version per layer, in AWS's
/// order of checks and with its messages.
pub fn parse_function_layers(arns: &[String], region: &str) -> Result<Vec<LayerVersionRef>, ApiError> {
    if arns.iter().any(|arn| arn.is_empty() || arn.len() > 2048 || !LAYER_VERSION_ARN.is_match(arn)) {
        let rule = format!(
            "Member must satisfy constraint: [Member must have length less than or equal to 2048, Member \
             must have length greater than or equal to 1, Member must satisfy regular expression pattern: \
             {LAYER_VERSION_ARN_PATTERN}, Member must not be null]"
        );
        return Err(validation_error(&[constraint(format!("[{}]", arns.join(", ")), "layers", &rule)]));
    }
    if arns.len() > MAX_FUNCTION_LAYERS {
        return Err(ApiError::invalid_parameter(format!(
            "Cannot reference more than {MAX_FUNCTION_LAYERS} layers."
        )));
    }
    let mut references = Vec::with_capacity(arns.len());
    for arn in arns {
        let Some(reference) = LayerVersionRef::split(arn) else {
            return Err(layer_version_missing(arn));
        };
        if reference.region != region {
            return Err(ApiError::invalid_parameter(format!(
                "Layers are not in the same region as the function. Layers are expected to be in region \
                 {region}."
            )));
        }
        references.push(reference);
    }
    for (index, reference) in references.iter().enumerate() {
        let earlier = references[..index].iter().position(|r| r.unversioned() == reference.unversioned());
        if let Some(earlier) = earlier {
            return Err(ApiError::invalid_parameter(format!(
                "Two different versions of the same layer are not allowed to be referenced in the same \
                 function. {} and {} are versions of the same layer.",
                arns[earlier], arns[index]
            )));
        }
    }
    Ok(references)
}

/// The error of a function that references a layer version that does not exist.
pub fn layer_version_missing(arn: &str) -> ApiError {
    ApiError::invalid_parameter(format!("Layer version {arn} does not exist."))
}

/// Checks the members of PublishLayerVersion other than `Content`, collecting the validation
/// failures into one error as AWS does.
pub fn validate_publish(request: &PublishLayerVersionRequest) -> Result<(), ApiError> {
    let mut failures = Vec::new();
    if let Some(description) = &request.description {
        if description.chars().count() > crate::limits::DESCRIPTION_MAX {
            let rule =
                format!("Member must have length less than or equal to {}", crate::limits::DESCRIPTION_MAX);
            failures.push(constraint(description, "description", &rule));
        }
    }
    if let Some(runtimes) = &request.compatible_runtimes {
        let listed = format!("[{}]", runtimes.join(", "));
        if runtimes.iter().any(|r| !is_model_runtime(r)) {
            let rule = format!("Member must satisfy enum value set: [{}]", AWS_CREATABLE.join(", "));
            failures.push(constraint(&listed, "compatibleRuntimes", &rule));
        } else if runtimes.len() > MAX_COMPATIBLE_RUNTIMES {
            let rule = format!("Member must have length less than or equal to {MAX_COMPATIBLE_RUNTIMES}");
            failures.push(constraint(&listed, "compatibleRuntimes", &rule));
        }
    }
    if let Some(architectures) = &request.compatible_architectures {
        let listed = format!("[{}]", architectures.join(", "));
        if architectures.iter().any(|a| !is_architecture(a)) {
            let rule = format!(
                "Member must satisfy constraint: [Member must satisfy enum value set: {ARCHITECTURE_ENUM}, \
                 Member must not be null]"
            );
            failures.push(constraint(&listed, "compatibleArchitectures", &rule));
        } else if architectures.len() > MAX_COMPATIBLE_ARCHITECTURES {
            let rule =
                format!("Member must have length less than or equal to {MAX_COMPATIBLE_ARCHITECTURES}");
            failures.push(constraint(&listed, "compatibleArchitectures", &rule));
        }
    }
    if let Some(license) = &request.license_info {
        if license.chars().count() > LICENSE_INFO_MAX {
            let rule = format!("Member must have length less than or equal to {LICENSE_INFO_MAX}");
            failures.push(constraint(license, "licenseInfo", &rule));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(validation_error(&failures))
    }
}

/// Checks `MaxItems` of ListLayers and ListLayerVersions.
pub fn validate_max_items(value: i64) -> Result<usize, ApiError> {
    if value < 1 {
        let rule = "Member must have value greater than or equal to 1";
        return Err(validation_error(&[constraint(value, "maxItems", rule)]));
    }
    if value > MAX_LIST_ITEMS {
        let rule = format!("Member must have value less than or equal to {MAX_LIST_ITEMS}");
        return Err(validation_error(&[constraint(value, "maxItems", &rule)]));
    }
    Ok(value as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_name_accepts_name_and_own_arn() {
        assert_eq!(parse_layer_name("my-layer_1", "us-east-1", "000000000000").unwrap(), "my-layer_1");
        let arn = "arn:aws:lambda:us-east-1:000000000000:layer:lib";
        assert_eq!(parse_layer_name(arn, "us-east-1", "000000000000").unwrap(), "lib");
    }

    #[test]
    fn layer_name_rejects_invalid_characters() {
        let err = parse_layer_name("bad name", "us-east-1", "000000000000").unwrap_err();
        assert_eq!(err.code, "ValidationException");
        assert!(err.message.contains("'bad name' at 'layerName'"), "{}", err.message);
    }

    #[test]
    fn layer_name_of_other_account_is_not_found() {
        let arn = "arn:aws:lambda:us-east-1:111111111111:layer:lib";
        assert_eq!(parse_layer_name(arn, "us-east-1", "000000000000").unwrap_err().status, 404);
    }

    #[test]
    fn version_number_below_one_is_rejected() {
        assert_eq!(parse_version_number("0").unwrap_err().message, "Layer Version Cannot be less than 1");
        assert_eq!(parse_version_number("-1").unwrap_err().message, "Layer Version Cannot be less than 1");
        assert_eq!(parse_version_number("3").unwrap(), 3);
    }

    #[test]
    fn arn_without_version_fails_pattern() {
        let err = LayerVersionRef::parse_arn("arn:aws:lambda:us-east-1:000000000000:layer:lib").unwrap_err();
        assert_eq!(err.code, "ValidationException");
        assert!(err.message.starts_with("1 validation error detected: Value 'arn:"), "{}", err.message);
    }

    #[test]
    fn function_layers_reject_two_versions_of_one_layer() {
        let arns = vec![
            "arn:aws:lambda:us-east-1:000000000000:layer:lib:1".to_string(),
            "arn:aws:lambda:us-east-1:000000000000:layer:lib:2".to_string(),
        ];
        let err = parse_function_layers(&arns, "us-east-1").unwrap_err();
        assert!(err.message.starts_with("Two different versions of the same layer"), "{}", err.message);
    }

    #[test]
    fn function_layers_limit_and_region() {
        let arns: Vec<String> =
            (0..6).map(|i| format!("arn:aws:lambda:us-east-1:000000000000:layer:l{i}:1")).collect();
        assert_eq!(
            parse_function_layers(&arns, "us-east-1").unwrap_err().message,
            "Cannot reference more than 5 layers."
        );
        let other = vec!["arn:aws:lambda:eu-west-1:000000000000:layer:lib:1".to_string()];
        let err = parse_function_layers(&other, "us-east-1").unwrap_err();
        assert!(err.message.starts_with("Layers are not in the same region"), "{}", err.message);
    }

    #[test]
    fn publish_collects_two_failures() {
        let request = PublishLayerVersionRequest {
            compatible_runtimes: Some(vec!["invalidruntime".into()]),
            compatible_architectures: Some(vec!["invalidarch".into()]),
            ..Default::default()
        };
        let err = validate_publish(&request).unwrap_err();
        assert!(err.message.starts_with("2 validation errors detected: Value '[invalidruntime]'"));
        assert!(err.message.contains("; Value '[invalidarch]' at 'compatibleArchitectures'"));
    }

    #[test]
    fn filter_matches_listed_values_only() {
        let record = LayerVersionRecord {
            name: "lib".into(),
            version: 1,
            description: String::new(),
            license_info: None,
            compatible_runtimes: Some(vec!["python3.12".into()]),
            compatible_architectures: None,
            code_sha256: String::new(),
            code_size: 0,
            unzipped_size: 0,
            created_date: String::new(),
        };
        let by_runtime = LayerFilter { compatible_runtime: Some("python3.12".into()), ..Default::default() };
        assert!(by_runtime.matches(&record));
        let by_arch = LayerFilter { compatible_architecture: Some("x86_64".into()), ..Default::default() };
        assert!(!by_arch.matches(&record));
    }
}
