//! Errors of the schedule operations, named as EventBridge names them.

/// A failed schedule operation. The text is the message clients see.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// a parameter is missing or invalid
    #[error("{0}")]
    Validation(String),
    /// the rule or event bus does not exist
    #[error("{0}")]
    ResourceNotFound(String),
    /// the rule would have more targets than allowed
    #[error("{0}")]
    LimitExceeded(String),
    /// the store failed
    #[error("{0}")]
    Internal(String),
}

impl ScheduleError {
    /// Returns the EventBridge error name (`__type`).
    pub fn error_name(&self) -> &'static str {
        match self {
            Self::Validation(_) => "ValidationException",
            Self::ResourceNotFound(_) => "ResourceNotFoundException",
            Self::LimitExceeded(_) => "LimitExceededException",
            Self::Internal(_) => "InternalException",
        }
    }

    /// Returns the HTTP status EventBridge sends: 500 for internal errors, 400 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            Self::Internal(_) => 500,
            _ => 400,
        }
    }

    pub(crate) fn rule_not_found(name: &str) -> Self {
        Self::ResourceNotFound(format!("Rule {name} does not exist on EventBus default."))
    }
}

/// Builds the `1 validation error detected` message AWS returns for a value that breaks a
/// constraint.
pub(crate) fn constraint(value: &str, field: &str, constraint: &str) -> ScheduleError {
    ScheduleError::Validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
    ))
}
