//! Lambda runtime identifiers and the language each one needs.

use crate::ApiError;

/// The identifiers AWS accepts for new functions, in the order of its validation message.
pub const AWS_CREATABLE: &[&str] = &[
    "nodejs20.x",
    "python3.14",
    "provided.al2023",
    "python3.12",
    "python3.13",
    "nodejs24.x",
    "nodejs22.x",
    "java25",
    "python3.10",
    "python3.11",
    "java21",
    "ruby3.3",
    "ruby3.4",
    "ruby3.2",
    "python3.8",
    "python3.9",
    "java17",
    "nodejs16.x",
    "dotnet10",
    "dotnet8",
    "java11",
    "dotnet6",
    "nodejs18.x",
    "provided.al2",
    "java8.al2",
];

/// Identifiers of the API model that AWS no longer accepts for new functions.
pub const AWS_DEPRECATED: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "java8",
    "python2.7",
    "python3.6",
    "python3.7",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "nodejs4.3-edge",
    "go1.x",
    "ruby2.5",
    "ruby2.7",
    "ruby4.0",
];

/// The identifiers Flicker runs, newest first within each language.
pub const SUPPORTED: &[&str] = &[
    "python3.13",
    "python3.12",
    "python3.11",
    "python3.10",
    "python3.9",
    "nodejs22.x",
    "nodejs20.x",
    "nodejs18.x",
    "provided.al2023",
    "provided.al2",
    "provided",
];

/// The language a runtime identifier needs on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    Python,
    Node,
    /// A custom runtime: the function brings its own `bootstrap` executable.
    Provided,
}

/// A runtime identifier that Flicker supports, such as `python3.11`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RuntimeId(String);

impl RuntimeId {
    /// Parses a runtime identifier, with AWS's errors for unknown and deprecated identifiers
    /// and a clear one for AWS runtimes Flicker does not run.
    ///
    /// NOTE: AWS no longer accepts `provided` for new functions; Flicker still does, so that
    /// functions written for it keep deploying.
    pub fn parse(value: &str) -> Result<Self, ApiError> {
        if SUPPORTED.contains(&value) {
            return Ok(Self(value.to_string()));
        }
        if AWS_DEPRECATED.contains(&value) {
            return Err(ApiError::invalid_parameter(format!(
                "The runtime parameter of {value} is no longer supported for creating or updating AWS \
                 Lambda functions. We recommend you use a supported runtime while creating or updating \
                 functions."
            )));
        }
        if AWS_CREATABLE.contains(&value) {
            return Err(ApiError::invalid_parameter(format!(
                "The runtime parameter of {value} is not supported by this server. \
                 Supported runtimes: {}.",
                SUPPORTED.join(", ")
            )));
        }
        Err(ApiError::invalid_parameter(format!(
            "Value {value} at 'runtime' failed to satisfy constraint: Member must satisfy enum \
             value set: [{}] or be a valid ARN",
            AWS_CREATABLE.join(", ")
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn language(&self) -> Language {
        if self.0.starts_with("python") {
            Language::Python
        } else if self.0.starts_with("nodejs") {
            Language::Node
        } else {
            Language::Provided
        }
    }

    /// The interpreter version the identifier names (`3.11` for `python3.11`, `20` for
    /// `nodejs20.x`), if it names one.
    pub fn language_version(&self) -> Option<&str> {
        match self.language() {
            Language::Python => self.0.strip_prefix("python"),
            Language::Node => self.0.strip_prefix("nodejs").and_then(|v| v.strip_suffix(".x")),
            Language::Provided => None,
        }
    }
}

impl std::fmt::Display for RuntimeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_supported_identifiers() {
        for id in SUPPORTED {
            assert_eq!(RuntimeId::parse(id).unwrap().as_str(), *id);
        }
    }

    #[test]
    fn parse_rejects_unknown_with_enum_message() {
        let err = RuntimeId::parse("PYTHON3.9").unwrap_err();
        assert_eq!(err.code, "InvalidParameterValueException");
        assert!(err.message.starts_with("Value PYTHON3.9 at 'runtime' failed to satisfy"));
    }

    #[test]
    fn parse_rejects_aws_runtime_not_run_here() {
        let err = RuntimeId::parse("java21").unwrap_err();
        assert!(err.message.contains("java21"), "{}", err.message);
        assert!(err.message.contains("python3.11"), "{}", err.message);
    }

    #[test]
    fn parse_rejects_deprecated_with_aws_message() {
        let err = RuntimeId::parse("python3.7").unwrap_err();
        assert!(err.message.starts_with("The runtime parameter of python3.7 is no longer supported"));
    }

    #[test]
    fn language_version_of_each_language() {
        assert_eq!(RuntimeId::parse("python3.11").unwrap().language_version(), Some("3.11"));
        assert_eq!(RuntimeId::parse("nodejs20.x").unwrap().language_version(), Some("20"));
        assert_eq!(RuntimeId::parse("provided.al2").unwrap().language_version(), None);
    }
}
