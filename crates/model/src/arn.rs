//! Function names, partial and full ARNs, and qualifiers, as the `FunctionName` path
//! parameter accepts them.

use std::sync::LazyLock;

use regex::Regex;

use crate::{limits, ApiError};

/// The `functionName` pattern of CreateFunction, reported verbatim in errors.
const NEW_FUNCTION_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?";

/// The `functionName` pattern of the operations on existing functions.
const FUNCTION_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?";

/// The `qualifier` pattern, reported verbatim in errors.
const QUALIFIER_PATTERN: &str = r"\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+";
const QUALIFIER_MAX: usize = 128;

const REFERENCE_PREFIX: &str = r"^(arn:(aws[a-zA-Z-]*)?:lambda:)?(?:(?P<region>(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d):)?(?:(?P<account>\d{12}):)?(function:)?";

static NEW_FUNCTION: LazyLock<Regex> = LazyLock::new(|| {
    let pattern =
        format!(r"{REFERENCE_PREFIX}(?P<name>[a-zA-Z0-9_-]+)(:(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?$");
    Regex::new(&pattern).expect("function name pattern compiles")
});

static FUNCTION: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = format!(
        r"{REFERENCE_PREFIX}(?P<name>[a-zA-Z0-9_.-]+)(:(?P<qualifier>\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9_-]+))?$"
    );
    Regex::new(&pattern).expect("function name pattern compiles")
});

static QUALIFIER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9_$-]+)$").expect("qualifier pattern compiles")
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
    /// Parses the name of an existing function: a name, a partial ARN
    /// (`ACCOUNT:function:NAME`) or a full ARN, each with an optional `:QUALIFIER` suffix.
    /// A name longer than a function name may be is left for the lookup to report.
    pub fn parse(input: &str) -> Result<Self, ApiError> {
        Self::parse_with(input, &FUNCTION, FUNCTION_PATTERN)
    }

    /// Parses a `FunctionName` of the operations that change a function, whose pattern allows
    /// no dots in the name.
    pub fn parse_plain(input: &str) -> Result<Self, ApiError> {
        Self::parse_with(input, &NEW_FUNCTION, NEW_FUNCTION_PATTERN)
    }

    /// Parses the name given to CreateFunction, which allows no dots and at most 64
    /// characters.
    pub fn parse_new(input: &str) -> Result<Self, ApiError> {
        let reference = Self::parse_plain(input)?;
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

    fn parse_with(input: &str, regex: &Regex, pattern: &str) -> Result<Self, ApiError> {
        // Most requests name a function by its plain name, which needs no regular expression.
        let plain = input.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if plain && !input.is_empty() && input.len() <= limits::FUNCTION_NAME_MAX {
            return Ok(Self { name: input.to_string(), qualifier: None, region: None, account: None });
        }
        if input.len() > limits::FUNCTION_ARN_MAX {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{input}' at 'functionName' failed to satisfy \
                 constraint: Member must have length less than or equal to {}",
                limits::FUNCTION_ARN_MAX
            )));
        }
        let Some(captures) = regex.captures(input) else {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{input}' at 'functionName' failed to satisfy \
                 constraint: Member must satisfy regular expression pattern: {pattern}"
            )));
        };
        let text = |group: &str| captures.name(group).map(|m| m.as_str().to_string());
        let reference = Self {
            name: text("name").unwrap_or_default(),
            qualifier: text("qualifier"),
            region: text("region"),
            account: text("account"),
        };
        Ok(reference)
    }

    /// Combines the qualifier derived from the name with a `Qualifier` query parameter.
    pub fn with_qualifier(mut self, qualifier: Option<&str>) -> Result<Self, ApiError> {
        let Some(explicit) = qualifier.filter(|q| !q.is_empty()) else {
            return Ok(self);
        };
        validate_qualifier(explicit)?;
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
            return Err(ApiError::access_denied(format!(
                "Account {account} is not authorized to access {}",
                function_arn(region, other, &self.name)
            )));
        }
        Ok(())
    }
}

/// Checks a `Qualifier` parameter against the API model's length and pattern.
pub fn validate_qualifier(qualifier: &str) -> Result<(), ApiError> {
    let constraint = |rule: String| {
        ApiError::validation(format!(
            "1 validation error detected: Value '{qualifier}' at 'qualifier' failed to satisfy \
             constraint: {rule}"
        ))
    };
    if qualifier.len() > QUALIFIER_MAX {
        return Err(constraint(format!("Member must have length less than or equal to {QUALIFIER_MAX}")));
    }
    if !QUALIFIER.is_match(qualifier) {
        return Err(constraint(format!(
            "Member must satisfy regular expression pattern: {QUALIFIER_PATTERN}"
        )));
    }
    Ok(())
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
        assert!(err.message.contains(r"[a-zA-Z0-9-_\.]+"), "{}", err.message);
    }

    #[test]
    fn parse_leaves_long_name_to_lookup() {
        assert_eq!(FunctionRef::parse(&"a".repeat(65)).unwrap().name.len(), 65);
    }

    #[test]
    fn parse_new_rejects_dots() {
        assert_eq!(FunctionRef::parse_new("a.b").unwrap_err().code, "ValidationException");
    }

    #[test]
    fn invalid_qualifier_is_rejected() {
        let err = FunctionRef::parse("f").unwrap().with_qualifier(Some("invalid!")).unwrap_err();
        assert_eq!(err.code, "ValidationException");
        assert!(err.message.contains("at 'qualifier'"));
    }

    #[test]
    fn parse_new_rejects_long_name() {
        let err = FunctionRef::parse_new(&"a".repeat(65)).unwrap_err();
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
