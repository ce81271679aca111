//! Lambda errors on the wire: status, `X-Amzn-ErrorType` header and JSON body.

use axum::body::Body;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use flicker_model::ApiError;
use http_body_util::{BodyExt, Limited};

/// An `ApiError` ready to be sent.
#[derive(Debug)]
pub struct WireError(pub ApiError);

impl From<ApiError> for WireError {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

impl IntoResponse for WireError {
    fn into_response(self) -> Response {
        let error = self.0;
        let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_string(&error.body()).expect("an error body serializes");
        let mut response =
            (status, [("content-type", "application/json"), ("x-amzn-errortype", error.code)], body)
                .into_response();
        if let Some(seconds) = error.retry_after {
            response.headers_mut().insert("retry-after", seconds.into());
        }
        response
    }
}

pub(crate) type ApiResult<T> = Result<T, WireError>;

/// Reads a request body of at most `limit` bytes, or returns `too_large`.
pub(crate) async fn read_body(
    body: Body,
    limit: usize,
    too_large: impl FnOnce() -> ApiError,
) -> ApiResult<Bytes> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err(too_large().into()),
        Err(err) => {
            Err(ApiError::invalid_request_content(format!("Failed to read the request body: {err}")).into())
        }
    }
}

/// Parses a JSON request body with AWS's error for malformed content.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    let body = if body.is_empty() { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|err| {
        ApiError::invalid_request_content(format!("Could not parse request body into json: {err}")).into()
    })
}

pub(crate) async fn unknown_operation(method: Method, uri: Uri) -> WireError {
    WireError(ApiError::new(
        404,
        "UnknownOperationException",
        format!("This server does not implement an operation at {method} {}", uri.path()),
    ))
}
