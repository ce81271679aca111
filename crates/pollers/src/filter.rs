//! EventBridge event patterns, as `FilterCriteria` of an event source mapping uses them: a
//! pattern is compiled once and then matched against each record. This module does not depend
//! on queues; the caller builds the record.
//!
//! Supported: exact values (strings, numbers, booleans, null), `prefix`, `suffix`,
//! `equals-ignore-case`, `anything-but` (values, or a `prefix` or `suffix`), `numeric` with one
//! or two comparisons, and `exists`. Values in one list are alternatives, keys of one object
//! must all match, and a list in the record matches when any of its elements does.

use serde_json::{Map, Value};

/// The message AWS sends for any pattern it cannot read.
pub const INVALID_PATTERN: &str = "Invalid filter pattern definition.";

/// A rejected pattern, with the reason. Clients always receive [`INVALID_PATTERN`], so the
/// reason is only for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter pattern: {0}")]
pub struct PatternError(String);

fn invalid(detail: impl Into<String>) -> PatternError {
    PatternError(detail.into())
}

/// A compiled event pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    root: Vec<(String, Node)>,
}

/// One key of a pattern: either a nested object or a list of alternatives for a leaf.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Object(Vec<(String, Node)>),
    Leaf(Vec<Matcher>),
}

#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    /// A literal value; numbers compare by value, so `5` matches `5.0`.
    Exact(Value),
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(String),
    AnythingBut(AnythingBut),
    /// Every comparison must hold.
    Numeric(Vec<(Comparison, f64)>),
    Exists(bool),
}

#[derive(Debug, Clone, PartialEq)]
enum AnythingBut {
    Values(Vec<Value>),
    Prefix(String),
    Suffix(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Less,
    LessOrEqual,
    Equal,
    Greater,
    GreaterOrEqual,
}

impl Pattern {
    /// Parses a pattern from its JSON text, as the `Pattern` member of a filter contains it.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let value: Value = serde_json::from_str(text).map_err(|err| invalid(format!("not JSON: {err}")))?;
        let Value::Object(object) = value else {
            return Err(invalid("the pattern is not a JSON object"));
        };
        Ok(Self { root: compile_object(&object)? })
    }

    /// Returns whether `record` matches every key of the pattern.
    pub fn matches(&self, record: &Value) -> bool {
        match_object(&self.root, Some(record))
    }
}

fn compile_object(object: &Map<String, Value>) -> Result<Vec<(String, Node)>, PatternError> {
    object.iter().map(|(key, value)| Ok((key.clone(), compile_node(key, value)?))).collect()
}

fn compile_node(key: &str, value: &Value) -> Result<Node, PatternError> {
    match value {
        Value::Object(object) => Ok(Node::Object(compile_object(object)?)),
        Value::Array(items) if items.is_empty() => Err(invalid(format!("the list of {key:?} is empty"))),
        Value::Array(items) => Ok(Node::Leaf(items.iter().map(compile_matcher).collect::<Result<_, _>>()?)),
        other => Err(invalid(format!("{key:?} must be an object or a list, not {other}"))),
    }
}

fn compile_matcher(item: &Value) -> Result<Matcher, PatternError> {
    let Value::Object(operator) = item else {
        return match item {
            Value::Array(_) => Err(invalid("a list inside a list of values")),
            literal => Ok(Matcher::Exact(literal.clone())),
        };
    };
    let mut entries = operator.iter();
    let (Some((name, argument)), None) = (entries.next(), entries.next()) else {
        return Err(invalid("an operator object must have exactly one key"));
    };
    match name.as_str() {
        "prefix" => Ok(Matcher::Prefix(string_argument(name, argument)?)),
        "suffix" => Ok(Matcher::Suffix(string_argument(name, argument)?)),
        "equals-ignore-case" => Ok(Matcher::EqualsIgnoreCase(string_argument(name, argument)?)),
        "anything-but" => Ok(Matcher::AnythingBut(compile_anything_but(argument)?)),
        "numeric" => Ok(Matcher::Numeric(compile_numeric(argument)?)),
        "exists" => match argument {
            Value::Bool(flag) => Ok(Matcher::Exists(*flag)),
            other => Err(invalid(format!("exists takes true or false, not {other}"))),
        },
        other => Err(invalid(format!("unknown operator {other:?}"))),
    }
}

fn string_argument(operator: &str, argument: &Value) -> Result<String, PatternError> {
    match argument {
        Value::String(text) => Ok(text.clone()),
        other => Err(invalid(format!("{operator} takes a string, not {other}"))),
    }
}

fn compile_anything_but(argument: &Value) -> Result<AnythingBut, PatternError> {
    match argument {
        Value::String(_) | Value::Number(_) => Ok(AnythingBut::Values(vec![argument.clone()])),
        Value::Array(values) if values.is_empty() => Err(invalid("anything-but with an empty list")),
        Value::Array(values) => {
            if let Some(other) = values.iter().find(|v| !(v.is_string() || v.is_number())) {
                return Err(invalid(format!("anything-but lists strings or numbers, not {other}")));
            }
            Ok(AnythingBut::Values(values.clone()))
        }
        Value::Object(_) => match compile_matcher(argument)? {
            Matcher::Prefix(prefix) => Ok(AnythingBut::Prefix(prefix)),
            Matcher::Suffix(suffix) => Ok(AnythingBut::Suffix(suffix)),
            _ => Err(invalid("anything-but takes only a prefix or a suffix operator")),
        },
        other => Err(invalid(format!("anything-but takes a value, a list or an operator, not {other}"))),
    }
}

fn compile_numeric(argument: &Value) -> Result<Vec<(Comparison, f64)>, PatternError> {
    let Value::Array(items) = argument else {
        return Err(invalid("numeric takes a list such as [\">\", 0, \"<=\", 5]"));
    };
    if items.is_empty() || items.len() % 2 != 0 || items.len() > 4 {
        return Err(invalid("numeric takes one or two pairs of an operator and a number"));
    }
    let mut comparisons = Vec::new();
    for pair in items.chunks(2) {
        let comparison = match pair[0].as_str() {
            Some("<") => Comparison::Less,
            Some("<=") => Comparison::LessOrEqual,
            Some("=") => Comparison::Equal,
            Some(">") => Comparison::Greater,
            Some(">=") => Comparison::GreaterOrEqual,
            _ => return Err(invalid(format!("unknown numeric operator {}", pair[0]))),
        };
        let Some(number) = pair[1].as_f64() else {
            return Err(invalid(format!("numeric compares with numbers, not {}", pair[1])));
        };
        comparisons.push((comparison, number));
    }
    Ok(comparisons)
}

fn match_object(keys: &[(String, Node)], value: Option<&Value>) -> bool {
    keys.iter().all(|(key, node)| {
        let field = value.and_then(|v| v.get(key));
        match node {
            Node::Object(children) => match_object(children, field),
            Node::Leaf(matchers) => match_leaf(matchers, field),
        }
    })
}

fn match_leaf(matchers: &[Matcher], field: Option<&Value>) -> bool {
    matchers.iter().any(|matcher| match (matcher, field) {
        (Matcher::Exists(expected), _) => field.is_some() == *expected,
        (_, None) => false,
        (_, Some(Value::Array(items))) => items.iter().any(|item| match_value(matcher, item)),
        (_, Some(value)) => match_value(matcher, value),
    })
}

fn match_value(matcher: &Matcher, value: &Value) -> bool {
    match matcher {
        Matcher::Exact(expected) => same_value(expected, value),
        Matcher::Prefix(prefix) => value.as_str().is_some_and(|text| text.starts_with(prefix.as_str())),
        Matcher::Suffix(suffix) => value.as_str().is_some_and(|text| text.ends_with(suffix.as_str())),
        Matcher::EqualsIgnoreCase(expected) => {
            value.as_str().is_some_and(|text| text.to_lowercase() == expected.to_lowercase())
        }
        Matcher::AnythingBut(AnythingBut::Values(excluded)) => {
            !excluded.iter().any(|excluded| same_value(excluded, value))
        }
        Matcher::AnythingBut(AnythingBut::Prefix(prefix)) => {
            value.as_str().is_some_and(|text| !text.starts_with(prefix.as_str()))
        }
        Matcher::AnythingBut(AnythingBut::Suffix(suffix)) => {
            value.as_str().is_some_and(|text| !text.ends_with(suffix.as_str()))
        }
        Matcher::Numeric(comparisons) => {
            value.as_f64().is_some_and(|number| comparisons.iter().all(|c| compare(*c, number)))
        }
        Matcher::Exists(expected) => *expected,
    }
}

fn compare((comparison, bound): (Comparison, f64), number: f64) -> bool {
    match comparison {
        Comparison::Less => number < bound,
        Comparison::LessOrEqual => number <= bound,
        Comparison::Equal => number == bound,
        Comparison::Greater => number > bound,
        Comparison::GreaterOrEqual => number >= bound,
    }
}

fn same_value(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => expected == actual,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn matches(pattern: Value, record: Value) -> bool {
        Pattern::parse(&pattern.to_string()).expect("the pattern is valid").matches(&record)
    }

    fn rejected(pattern: &str) -> bool {
        Pattern::parse(pattern).is_err()
    }

    #[test]
    fn exact_string_matches_only_equal_value() {
        let pattern = json!({"body": {"kind": ["order"]}});
        assert!(matches(pattern.clone(), json!({"body": {"kind": "order"}})));
        assert!(!matches(pattern.clone(), json!({"body": {"kind": "orders"}})));
        assert!(!matches(pattern, json!({"body": {"other": "order"}})));
    }

    #[test]
    fn exact_number_compares_by_value() {
        let pattern = json!({"body": {"count": [5]}});
        assert!(matches(pattern.clone(), json!({"body": {"count": 5.0}})));
        assert!(!matches(pattern.clone(), json!({"body": {"count": "5"}})));
        assert!(!matches(pattern, json!({"body": {"count": 6}})));
    }

    #[test]
    fn exact_boolean_and_null() {
        assert!(matches(json!({"a": [true]}), json!({"a": true})));
        assert!(!matches(json!({"a": [true]}), json!({"a": "true"})));
        assert!(matches(json!({"a": [null]}), json!({"a": null})));
        assert!(!matches(json!({"a": [null]}), json!({})));
    }

    #[test]
    fn values_in_a_list_are_alternatives() {
        let pattern = json!({"body": {"key": ["one", "two"]}});
        assert!(matches(pattern.clone(), json!({"body": {"key": "two"}})));
        assert!(!matches(pattern, json!({"body": {"key": "three"}})));
    }

    #[test]
    fn all_keys_must_match() {
        let pattern = json!({"body": {"a": ["x"], "b": ["y"]}});
        assert!(matches(pattern.clone(), json!({"body": {"a": "x", "b": "y"}})));
        assert!(!matches(pattern, json!({"body": {"a": "x", "b": "z"}})));
    }

    #[test]
    fn record_list_matches_when_any_element_does() {
        let pattern = json!({"tags": ["red"]});
        assert!(matches(pattern.clone(), json!({"tags": ["blue", "red"]})));
        assert!(!matches(pattern, json!({"tags": ["blue"]})));
    }

    #[test]
    fn prefix_and_suffix() {
        assert!(matches(json!({"r": [{"prefix": "us-"}]}), json!({"r": "us-east-1"})));
        assert!(!matches(json!({"r": [{"prefix": "us-"}]}), json!({"r": "eu-west-1"})));
        assert!(!matches(json!({"r": [{"prefix": "1"}]}), json!({"r": 12})));
        assert!(matches(json!({"f": [{"suffix": ".png"}]}), json!({"f": "a.png"})));
        assert!(!matches(json!({"f": [{"suffix": ".png"}]}), json!({"f": "a.jpg"})));
    }

    #[test]
    fn equals_ignore_case() {
        let pattern = json!({"name": [{"equals-ignore-case": "Alice"}]});
        assert!(matches(pattern.clone(), json!({"name": "aLiCe"})));
        assert!(!matches(pattern, json!({"name": "Bob"})));
    }

    #[test]
    fn anything_but_values() {
        let pattern = json!({"state": [{"anything-but": ["stopped", "failed"]}]});
        assert!(matches(pattern.clone(), json!({"state": "running"})));
        assert!(!matches(pattern.clone(), json!({"state": "failed"})));
        assert!(!matches(pattern, json!({})));
        let single = json!({"code": [{"anything-but": 0}]});
        assert!(matches(single.clone(), json!({"code": 1})));
        assert!(!matches(single, json!({"code": 0.0})));
    }

    #[test]
    fn anything_but_prefix() {
        let pattern = json!({"r": [{"anything-but": {"prefix": "us-"}}]});
        assert!(matches(pattern.clone(), json!({"r": "eu-west-1"})));
        assert!(!matches(pattern, json!({"r": "us-east-1"})));
    }

    #[test]
    fn numeric_single_comparison() {
        let pattern = json!({"n": [{"numeric": ["<", 100]}]});
        assert!(matches(pattern.clone(), json!({"n": 99})));
        assert!(!matches(pattern.clone(), json!({"n": 100})));
        assert!(!matches(pattern, json!({"n": "99"})));
    }

    #[test]
    fn numeric_range() {
        let pattern = json!({"n": [{"numeric": [">", 0, "<=", 5]}]});
        assert!(!matches(pattern.clone(), json!({"n": 0})));
        assert!(matches(pattern.clone(), json!({"n": 0.5})));
        assert!(matches(pattern.clone(), json!({"n": 5})));
        assert!(!matches(pattern, json!({"n": 5.01})));
        let equal = json!({"n": [{"numeric": ["=", 3]}]});
        assert!(matches(equal.clone(), json!({"n": 3.0})));
        assert!(!matches(equal, json!({"n": 4})));
        let at_least = json!({"n": [{"numeric": [">=", 100, "<", 200]}]});
        assert!(matches(at_least.clone(), json!({"n": 100})));
        assert!(!matches(at_least, json!({"n": 200})));
    }

    #[test]
    fn exists_true_and_false() {
        let present = json!({"body": {"key": [{"exists": true}]}});
        assert!(matches(present.clone(), json!({"body": {"key": "any"}})));
        assert!(matches(present.clone(), json!({"body": {"key": null}})));
        assert!(!matches(present, json!({"body": {"other": 1}})));
        let absent = json!({"body": {"key": [{"exists": false}]}});
        assert!(matches(absent.clone(), json!({"body": {"other": 1}})));
        assert!(matches(absent.clone(), json!({"body": "plain text"})));
        assert!(!matches(absent, json!({"body": {"key": 1}})));
    }

    #[test]
    fn mixed_alternatives_in_one_list() {
        let pattern = json!({"v": ["exact", {"prefix": "pre"}, {"numeric": [">", 10]}]});
        assert!(matches(pattern.clone(), json!({"v": "exact"})));
        assert!(matches(pattern.clone(), json!({"v": "prefixed"})));
        assert!(matches(pattern.clone(), json!({"v": 11})));
        assert!(!matches(pattern, json!({"v": 3})));
    }

    #[test]
    fn plain_string_field_matches_exact_string() {
        let pattern = json!({"body": ["this is a test string"]});
        assert!(matches(pattern.clone(), json!({"body": "this is a test string"})));
        assert!(!matches(pattern, json!({"body": {"a": 1}})));
    }

    #[test]
    fn nested_key_missing_in_record() {
        let pattern = json!({"body": {"a": {"b": ["x"]}}});
        assert!(matches(pattern.clone(), json!({"body": {"a": {"b": "x"}}})));
        assert!(!matches(pattern.clone(), json!({"body": {"a": "x"}})));
        assert!(!matches(pattern, json!({})));
    }

    #[test]
    fn empty_pattern_matches_everything() {
        assert!(matches(json!({}), json!({"body": "anything"})));
    }

    #[test]
    fn invalid_patterns_are_rejected() {
        for pattern in [
            "None",
            "simple string",
            "\"text\"",
            "[1, 2]",
            r#"{"body": "value"}"#,
            r#"{"body": {"key": "value"}}"#,
            r#"{"body": {"key": []}}"#,
            r#"{"body": {"key": [["nested"]]}}"#,
            r#"{"key": [{"unknown": 1}]}"#,
            r#"{"key": [{"prefix": 1}]}"#,
            r#"{"key": [{"prefix": "a", "suffix": "b"}]}"#,
            r#"{"key": [{"exists": "yes"}]}"#,
            r#"{"key": [{"numeric": [">"]}]}"#,
            r#"{"key": [{"numeric": ["~", 1]}]}"#,
            r#"{"key": [{"numeric": [">", "1"]}]}"#,
            r#"{"key": [{"numeric": [">", 1, "<", 5, ">", 0]}]}"#,
            r#"{"key": [{"anything-but": []}]}"#,
            r#"{"key": [{"anything-but": {"numeric": [">", 1]}}]}"#,
            r#"{"key": [{"anything-but": [{"prefix": "a"}]}]}"#,
        ] {
            assert!(rejected(pattern), "{pattern} should be rejected");
        }
    }
}
