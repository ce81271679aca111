//! Function names, partial and full ARNs, and qualifiers, as the `FunctionName` path
//! parameter accepts them.

use std::sync::LazyLock;

use regex::Regex;

use crate::{limits, ApiError};

/// The `functionName` pattern from the Lambda API model, reported verbatim in errors.
const FUNCTION_NAME_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?";

static FUNCTION_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(arn:(aws[a-zA-Z-]*)?:lambda:)?(?:(?P<region>(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d):)?(?:(?P<account>\d{12}):)?(function:)?(?P<name>[a-zA-Z0-9_-]+)(:(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?$",
    )
    .expect("function name pattern compiles")
});

/// A reference to a function as a client names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: String,
    pub qualifier: Option<String>,
    pub region: Option<String>,
    pub account: Option<String>,
}

impl FunctionRef {
    /// Parses a function name, a partial ARN (`ACCOUNT:function:NAME`) or a full ARN, each
    /// with an optional `:QUALIFIER` suffix.
    pub fn parse(input: &str) -> Result<Self, ApiError> {
        if input.len() > limits::FUNCTION_ARN_MAX {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{input}' at 'functionName' failed to satisfy \
                 constraint: Member must have length less than or equal to {}",
                limits::FUNCTION_ARN_MAX
            )));
        }
        let Some(captures) = FUNCTION_NAME.captures(input) else {
            return Err(pattern_error(input));
        };
        let text = |group: &str| captures.name(group).map(|m| m.as_str().to_string());
        let reference = Self {
            name: text("name").unwrap_or_default(),
            qualifier: text("qualifier"),
            region: text("region"),
            account: text("account"),
        };
        if reference.name.len() > limits::FUNCTION_NAME_MAX {
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{}' at 'functionName' failed to satisfy \
                 constraint: Member must have length less than or equal to {}",
                reference.name,
                limits::FUNCTION_NAME_MAX
            )));
        }
        Ok(reference)
    }

    /// Combines the qualifier derived from the name with a `Qualifier` query parameter.
    pub fn with_qualifier(mut self, qualifier: Option<&str>) -> Result<Self, ApiError> {
        let Some(explicit) = qualifier.filter(|q| !q.is_empty()) else {
            return Ok(self);
        };
        match &self.qualifier {
            Some(derived) if derived != explicit => Err(ApiError::invalid_parameter(
                "The derived qualifier from the function name does not match the specified \
                 qualifier.",
            )),
            _ => {
                self.qualifier = Some(explicit.to_string());
                Ok(self)
            }
        }
    }

    /// Rejects references to another region or account than this server's.
    pub fn check_scope(&self, region: &str, account: &str) -> Result<(), ApiError> {
        if let Some(other) = self.region.as_deref().filter(|r| *r != region) {
            return Err(ApiError::not_found(format!(
                "Functions from '{other}' are not reachable in this region ('{region}')"
            )));
        }
        if let Some(other) = self.account.as_deref().filter(|a| *a != account) {
            return Err(ApiError::function_not_found(&function_arn(region, other, &self.name)));
        }
        Ok(())
    }
}

fn pattern_error(input: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value '{input}' at 'functionName' failed to satisfy \
         constraint: Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}"
    ))
}

/// A resolved qualifier: `$LATEST`, a published version number, or an alias name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Qualifier {
    Latest,
    Version(u64),
    Alias(String),
}

impl Qualifier {
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            None | Some("$LATEST") => Self::Latest,
            Some(text) => match text.parse::<u64>() {
                Ok(number) => Self::Version(number),
                Err(_) => Self::Alias(text.to_string()),
            },
        }
    }
}

/// `arn:aws:lambda:REGION:ACCOUNT:function:NAME`.
pub fn function_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:function:{name}")
}

/// The function ARN with a `:QUALIFIER` suffix.
pub fn qualified_arn(region: &str, account: &str, name: &str, qualifier: &str) -> String {
    format!("{}:{qualifier}", function_arn(region, account, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_plain_name() {
        let r = FunctionRef::parse("hello").unwrap();
        assert_eq!(r.name, "hello");
        assert_eq!(r.qualifier, None);
    }

    #[test]
    fn parse_name_with_qualifier() {
        let r = FunctionRef::parse("hello:$LATEST").unwrap();
        assert_eq!(r.qualifier.as_deref(), Some("$LATEST"));
    }

    #[test]
    fn parse_partial_arn() {
        let r = FunctionRef::parse("000000000000:function:hello:prod").unwrap();
        assert_eq!(r.account.as_deref(), Some("000000000000"));
        assert_eq!(r.name, "hello");
        assert_eq!(r.qualifier.as_deref(), Some("prod"));
    }

    #[test]
    fn parse_full_arn() {
        let r = FunctionRef::parse("arn:aws:lambda:us-east-1:000000000000:function:hello:7").unwrap();
        assert_eq!(r.region.as_deref(), Some("us-east-1"));
        assert_eq!(r.account.as_deref(), Some("000000000000"));
        assert_eq!(r.name, "hello");
        assert_eq!(r.qualifier.as_deref(), Some("7"));
    }

    #[test]
    fn parse_rejects_bad_pattern() {
        let err = FunctionRef::parse("invalid:function:name").unwrap_err();
        assert_eq!(err.code, "ValidationException");
        assert!(err.message.contains("'invalid:function:name'"));
    }

    #[test]
    fn parse_rejects_long_name() {
        let err = FunctionRef::parse(&"a".repeat(65)).unwrap_err();
        assert_eq!(err.code, "InvalidParameterValueException");
        assert!(err.message.ends_with("less than or equal to 64"));
    }

    #[test]
    fn parse_rejects_long_arn() {
        let arn = format!("arn:aws:lambda:us-east-1:000000000000:function:{}", "a".repeat(100));
        assert_eq!(FunctionRef::parse(&arn).unwrap_err().code, "ValidationException");
    }

    #[test]
    fn qualifier_mismatch_is_rejected() {
        let r = FunctionRef::parse("hello:1").unwrap();
        assert!(r.clone().with_qualifier(Some("1")).is_ok());
        assert_eq!(r.with_qualifier(Some("2")).unwrap_err().status, 400);
    }

    #[test]
    fn other_region_is_not_reachable() {
        let r = FunctionRef::parse("arn:aws:lambda:ap-southeast-1:000000000000:function:f").unwrap();
        let err = r.check_scope("us-east-1", "000000000000").unwrap_err();
        assert_eq!(
            err.message,
            "Functions from 'ap-southeast-1' are not reachable in this region ('us-east-1')"
        );
    }

    #[test]
    fn qualifier_kinds() {
        assert_eq!(Qualifier::parse(None), Qualifier::Latest);
        assert_eq!(Qualifier::parse(Some("3")), Qualifier::Version(3));
        assert_eq!(Qualifier::parse(Some("live")), Qualifier::Alias("live".into()));
    }
}
