//! The control plane of layers: publish, read, list and delete layer versions, and resolve the
//! `Layers` of a function into the stored layer versions and its merged `/opt` directory.

use std::collections::BTreeMap;
use std::path::PathBuf;

use flicker_model::layer::{
    self, layer_arn, layer_not_found, layer_version_missing, FunctionLayer, LayerFilter, LayerVersionRecord,
    LayerVersionRef, LayersListItem, ListLayerVersionsResponse, ListLayersResponse,
    PublishLayerVersionRequest,
};
use flicker_model::{limits, time, ApiError, FunctionConfig};
use flicker_store::{LayerStore, StoreError};
use tracing::info;

use crate::functions::{decode_zip, internal, missing};
use crate::{opt, package, Engine};

/// A layer version and the hex digest that names its archive for the download location.
#[derive(Debug, Clone)]
pub struct LayerVersionDetails {
    pub record: LayerVersionRecord,
    pub code_sha256_hex: String,
}

impl LayerVersionDetails {
    fn new(record: LayerVersionRecord) -> Self {
        let code_sha256_hex = package::base64_to_hex(&record.code_sha256).unwrap_or_default();
        Self { record, code_sha256_hex }
    }
}

/// The default and largest page of ListLayers and ListLayerVersions.
const DEFAULT_LIST_ITEMS: usize = 50;

fn store_error(error: StoreError) -> ApiError {
    internal("accessing stored layers", error)
}

fn too_large_with_layers(total: u64) -> ApiError {
    ApiError::invalid_parameter(format!(
        "Function code combined with layers exceeds the maximum allowed size of {} bytes. The actual \
         size is {total} bytes.",
        limits::CODE_UNZIPPED
    ))
}

fn page_size(max_items: Option<i64>) -> Result<usize, ApiError> {
    max_items.map_or(Ok(DEFAULT_LIST_ITEMS), layer::validate_max_items)
}

impl Engine {
    /// Runs a layer store call on a blocking thread.
    async fn with_layer_store<T: Send + 'static>(
        &self,
        call: impl FnOnce(&dyn LayerStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let engine = self.clone();
        tokio::task::spawn_blocking(move || call(engine.inner.layer_store.as_ref()))
            .await
            .map_err(|e| internal("accessing stored layers", e))?
            .map_err(store_error)
    }

    fn layer_name(&self, name_or_arn: &str) -> Result<String, ApiError> {
        let settings = &self.inner.settings;
        layer::parse_layer_name(name_or_arn, &settings.region, &settings.account_id)
    }

    /// Publishes a new version of a layer from a zip archive.
    pub async fn publish_layer_version(
        &self,
        name_or_arn: &str,
        request: PublishLayerVersionRequest,
    ) -> Result<LayerVersionDetails, ApiError> {
        let name = self.layer_name(name_or_arn)?;
        layer::validate_publish(&request)?;
        let content = request.content.clone().ok_or_else(|| missing("Content"))?;
        if content.s3_bucket.is_some() || content.s3_key.is_some() {
            return Err(ApiError::invalid_parameter(
                "Layer content from S3 is not supported by this server. Upload the layer archive as \
                 Content.ZipFile.",
            ));
        }
        let zip = decode_zip(content.zip_file.as_deref().ok_or_else(|| missing("Content.ZipFile"))?)?;

        // The archive is unpacked before its blob is stored, as function code is, so that a
        // damaged archive is rejected here and leaves nothing behind.
        let blobs = self.inner.blobs.clone();
        let unpacked = self.inner.settings.data_dir.join("layers").join("unpacked");
        let package = tokio::task::spawn_blocking(move || {
            let info = package::inspect(&zip)?;
            package::unpack(&zip, &unpacked, &info.sha256_hex).map_err(|e| e.to_api_error())?;
            blobs.put(&info.sha256_hex, &zip).map_err(|e| internal("storing the layer archive", e))?;
            Ok::<_, ApiError>(info)
        })
        .await
        .map_err(|e| internal("storing the layer archive", e))??;

        let record = LayerVersionRecord {
            name: name.clone(),
            version: 0,
            description: request.description.unwrap_or_default(),
            license_info: request.license_info,
            compatible_runtimes: request.compatible_runtimes,
            compatible_architectures: request.compatible_architectures,
            code_sha256: package.sha256_base64,
            code_size: package.size,
            unzipped_size: package.unzipped_size,
            created_date: time::now_last_modified(),
        };
        let stored = record.clone();
        let version = self.with_layer_store(move |store| store.publish_layer_version(&stored)).await?;
        info!(layer = %name, version, "layer version published");
        Ok(LayerVersionDetails::new(LayerVersionRecord { version, ..record }))
    }

    /// Reads one layer version.
    pub async fn get_layer_version(
        &self,
        name_or_arn: &str,
        version: u64,
    ) -> Result<LayerVersionDetails, ApiError> {
        let name = self.layer_name(name_or_arn)?;
        let record = self.with_layer_store(move |store| store.get_layer_version(&name, version)).await?;
        record.map(LayerVersionDetails::new).ok_or_else(layer_not_found)
    }

    /// Reads one layer version by its ARN.
    pub async fn get_layer_version_by_arn(&self, arn: &str) -> Result<LayerVersionDetails, ApiError> {
        let reference = LayerVersionRef::parse_arn(arn)?;
        let settings = &self.inner.settings;
        if reference.region != settings.region || reference.account != settings.account_id {
            return Err(layer_not_found());
        }
        self.get_layer_version(&reference.name, reference.version).await
    }

    /// Deletes one layer version. Deleting a version that does not exist succeeds, as in AWS.
    /// Functions that reference the version keep its content.
    pub async fn delete_layer_version(&self, name_or_arn: &str, version: u64) -> Result<(), ApiError> {
        let name = match self.layer_name(name_or_arn) {
            Err(error) if error.status == 404 => return Ok(()),
            result => result?,
        };
        let layer = name.clone();
        let deleted = self.with_layer_store(move |store| store.delete_layer_version(&layer, version)).await?;
        if deleted {
            info!(layer = %name, version, "layer version deleted");
        }
        Ok(())
    }

    /// Lists one page of the versions of one layer, newest first. `marker` is the `NextMarker` of the
    /// previous page. A layer that does not exist has no versions.
    pub async fn list_layer_versions(
        &self,
        name_or_arn: &str,
        filter: LayerFilter,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<ListLayerVersionsResponse, ApiError> {
        let name = match self.layer_name(name_or_arn) {
            Err(error) if error.status == 404 => {
                return Ok(ListLayerVersionsResponse { layer_versions: Vec::new(), next_marker: None })
            }
            result => result?,
        };
        filter.validate()?;
        let max_items = page_size(max_items)?;
        let before: Option<u64> = match marker {
            Some(marker) => Some(marker.parse().map_err(|_| invalid_marker(marker))?),
            None => None,
        };
        let records = self.with_layer_store(|store| store.load_layer_versions()).await?;
        let mut matching: Vec<LayerVersionRecord> = records
            .into_iter()
            .filter(|r| r.name == name && filter.matches(r))
            .filter(|r| before.is_none_or(|before| r.version < before))
            .collect();
        matching.sort_by_key(|record| std::cmp::Reverse(record.version));
        let next_marker = (matching.len() > max_items).then(|| matching[max_items - 1].version.to_string());
        let settings = &self.inner.settings;
        let layer_versions = matching
            .iter()
            .take(max_items)
            .map(|r| r.to_list_item(&settings.region, &settings.account_id))
            .collect();
        Ok(ListLayerVersionsResponse { layer_versions, next_marker })
    }

    /// Lists one page of layers ordered by name, each with its newest version that matches `filter`.
    /// Layers without a matching version are left out.
    pub async fn list_layers(
        &self,
        filter: LayerFilter,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<ListLayersResponse, ApiError> {
        filter.validate()?;
        let max_items = page_size(max_items)?;
        if let Some(marker) = marker {
            self.layer_name(marker).map_err(|_| invalid_marker(marker))?;
        }
        let records = self.with_layer_store(|store| store.load_layer_versions()).await?;
        let mut latest: BTreeMap<String, LayerVersionRecord> = BTreeMap::new();
        for record in records.into_iter().filter(|r| filter.matches(r)) {
            if marker.is_some_and(|after| record.name.as_str() <= after) {
                continue;
            }
            // Records arrive ordered by version, so the last one of each name is the newest.
            latest.insert(record.name.clone(), record);
        }
        let next_marker = (latest.len() > max_items)
            .then(|| latest.keys().nth(max_items - 1).cloned().expect("the page has max_items entries"));
        let settings = &self.inner.settings;
        let layers = latest
            .into_values()
            .take(max_items)
            .map(|record| LayersListItem {
                layer_name: record.name.clone(),
                layer_arn: layer_arn(&settings.region, &settings.account_id, &record.name),
                latest_matching_version: record.to_list_item(&settings.region, &settings.account_id),
            })
            .collect();
        Ok(ListLayersResponse { layers, next_marker })
    }

    /// Looks up the layer versions named in a function's `Layers` and checks that the code
    /// plus the layers stay under the unzipped size limit.
    pub(crate) async fn resolve_layers(
        &self,
        arns: &[String],
        code_unzipped_size: u64,
    ) -> Result<Vec<FunctionLayer>, ApiError> {
        let settings = &self.inner.settings;
        let references = layer::parse_function_layers(arns, &settings.region)?;
        let mut layers = Vec::with_capacity(references.len());
        for (reference, arn) in references.into_iter().zip(arns) {
            if reference.account != settings.account_id {
                return Err(layer_version_missing(arn));
            }
            let (name, version) = (reference.name.clone(), reference.version);
            let record = self.with_layer_store(move |store| store.get_layer_version(&name, version)).await?;
            let record = record.ok_or_else(|| layer_version_missing(arn))?;
            layers.push(FunctionLayer {
                arn: arn.clone(),
                code_size: record.code_size,
                code_sha256: record.code_sha256,
                unzipped_size: record.unzipped_size,
            });
        }
        check_total_size(&layers, code_unzipped_size)?;
        Ok(layers)
    }

    /// Reads the unzipped size of a function's stored code from its archive.
    pub(crate) async fn code_unzipped_size(&self, config: &FunctionConfig) -> Result<u64, ApiError> {
        let sha_hex = package::base64_to_hex(&config.code_sha256).ok_or_else(|| {
            ApiError::service(format!("stored CodeSha256 of {} is not base64", config.name))
        })?;
        let blobs = self.inner.blobs.clone();
        tokio::task::spawn_blocking(move || {
            let zip = blobs.get(&sha_hex).map_err(|e| internal("reading the code blob", e))?;
            package::unzipped_size(&zip)
        })
        .await
        .map_err(|e| internal("reading the code blob", e))?
    }

    /// Unpacks each layer of a function and merges them in order into the directory mounted
    /// at `/opt`. A function without layers gets the shared empty directory.
    pub(crate) async fn prepare_opt(&self, layers: &[FunctionLayer]) -> Result<PathBuf, ApiError> {
        if layers.is_empty() {
            return Ok(self.inner.launcher.empty_opt.clone());
        }
        let digests = layers
            .iter()
            .map(|layer| {
                package::base64_to_hex(&layer.code_sha256).ok_or_else(|| {
                    ApiError::service(format!("stored CodeSha256 of layer {} is not base64", layer.arn))
                })
            })
            .collect::<Result<Vec<String>, ApiError>>()?;
        let blobs = self.inner.blobs.clone();
        let root = self.inner.settings.data_dir.join("layers");
        tokio::task::spawn_blocking(move || {
            let mut unpacked = Vec::with_capacity(digests.len());
            for digest in &digests {
                let zip = blobs.get(digest).map_err(|e| internal("reading the layer archive", e))?;
                let dir =
                    package::unpack(&zip, &root.join("unpacked"), digest).map_err(|e| e.to_api_error())?;
                unpacked.push(dir);
            }
            opt::merge(&unpacked, &root.join("merged"), &opt::merged_name(&digests))
                .map_err(|e| internal("merging the layers", e))
        })
        .await
        .map_err(|e| internal("merging the layers", e))?
    }
}

/// Checks the code plus its layers against the unzipped size limit, by the sizes the archives
/// declare. Unpacking each archive enforces the limit on the bytes actually written. Code
/// without layers is checked on its own, with the message of the code's limit.
pub(crate) fn check_total_size(layers: &[FunctionLayer], code_unzipped_size: u64) -> Result<(), ApiError> {
    if layers.is_empty() {
        return Ok(());
    }
    let total = layers.iter().fold(code_unzipped_size, |sum, layer| sum.saturating_add(layer.unzipped_size));
    if total > limits::CODE_UNZIPPED {
        return Err(too_large_with_layers(total));
    }
    Ok(())
}

fn invalid_marker(marker: &str) -> ApiError {
    ApiError::invalid_parameter(format!("Invalid Marker: {marker}"))
}
