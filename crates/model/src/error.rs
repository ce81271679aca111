//! The error shape of the Lambda REST-JSON API: an HTTP status, the error name sent in the
//! `X-Amzn-ErrorType` header, and a JSON body `{"Type": ..., "message": ...}`.

use serde::Serialize;

/// An error as the Lambda API returns it to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Seconds after which a throttled client may retry, sent as `Retry-After`.
    pub retry_after: Option<u32>,
    /// `Reason` of a TooManyRequestsException.
    pub reason: Option<&'static str>,
}

/// The JSON body of an error response. AWS spells the message member `Message` for
/// ResourceNotFoundException and `message` for the other errors.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'a str>,
    #[serde(rename = "Message", skip_serializing_if = "Option::is_none")]
    pub capitalized_message: Option<&'a str>,
    #[serde(rename = "Reason", skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after: None, reason: None }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "ResourceNotFoundException", message)
    }

    pub fn function_not_found(function_arn: &str) -> Self {
        Self::not_found(format!("Function not found: {function_arn}"))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "ResourceConflictException", message)
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidParameterValueException", message)
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(400, "ValidationException", message)
    }

    pub fn invalid_request_content(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidRequestContentException", message)
    }

    pub fn request_too_large(message: impl Into<String>) -> Self {
        Self::new(413, "RequestTooLargeException", message)
    }

    pub fn entity_too_large(message: impl Into<String>) -> Self {
        Self::new(413, "RequestEntityTooLargeException", message)
    }

    pub fn precondition_failed(message: impl Into<String>) -> Self {
        Self::new(412, "PreconditionFailedException", message)
    }

    /// A throttled request. `reason` is one of Lambda's throttle reasons, such as
    /// `ConcurrentInvocationLimitExceeded`.
    pub fn too_many_requests(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            retry_after: Some(1),
            reason: Some(reason),
            ..Self::new(429, "TooManyRequestsException", message)
        }
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(403, "AccessDeniedException", message)
    }

    pub fn service(message: impl Into<String>) -> Self {
        Self::new(500, "ServiceException", message)
    }

    /// `User` for client errors, `Service` for server errors, as in the `Type` body field.
    pub fn kind(&self) -> &'static str {
        if self.status >= 500 {
            "Service"
        } else {
            "User"
        }
    }

    pub fn body(&self) -> ErrorBody<'_> {
        let capitalized = self.code == "ResourceNotFoundException";
        ErrorBody {
            kind: self.kind(),
            message: (!capitalized).then_some(self.message.as_str()),
            capitalized_message: capitalized.then_some(self.message.as_str()),
            reason: self.reason,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}
