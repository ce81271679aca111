//! CloudWatch Logs filter patterns: terms, quoted phrases, `?term` alternatives, `-term`
//! exclusions, regular expressions (`%ERROR|WARN%`), and JSON patterns such as
//! `{ $.level = "ERROR" && $.latency > 100 }`. Space-delimited patterns (`[ip, user, ...]`)
//! are rejected, and so are regular expressions inside JSON patterns.

use serde_json::Value;

/// A syntax error in a filter pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid filter pattern '{pattern}': {reason}")]
pub struct PatternError {
    pub pattern: String,
    pub reason: String,
}

/// A parsed filter pattern.
#[derive(Debug, Clone)]
pub enum FilterPattern {
    /// Matches events that contain every `required` term, none of the `excluded` terms, and
    /// at least one `any_of` term when there are any. Terms are case-sensitive substrings.
    Terms { required: Vec<String>, excluded: Vec<String>, any_of: Vec<String> },
    /// Matches events whose message is a JSON object satisfying the expression.
    Json(JsonExpr),
    /// Matches events in which the regular expression finds a match.
    Regex(regex::Regex),
}

/// A boolean expression over the fields of a JSON log event.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonExpr {
    And(Box<JsonExpr>, Box<JsonExpr>),
    Or(Box<JsonExpr>, Box<JsonExpr>),
    Compare { selector: Vec<PathStep>, op: CompareOp, value: Literal },
    IsNull(Vec<PathStep>),
    IsBool(Vec<PathStep>, bool),
    NotExists(Vec<PathStep>),
}

/// One step of a `$.a.b[0]` selector.
#[derive(Debug, Clone, PartialEq)]
pub enum PathStep {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Number(f64),
    /// A string, where `*` matches any run of characters.
    Text(String),
}

impl FilterPattern {
    /// Parses a filter pattern; the empty pattern matches every event.
    pub fn parse(pattern: &str) -> Result<Self, PatternError> {
        let error = |reason: &str| PatternError { pattern: pattern.to_string(), reason: reason.to_string() };
        let trimmed = pattern.trim();
        if trimmed.starts_with('{') {
            return JsonParser::new(trimmed).parse_pattern().map(FilterPattern::Json).map_err(|r| error(&r));
        }
        if trimmed.starts_with('[') {
            return Err(error("space-delimited patterns ([...]) are not supported by Flicker"));
        }
        if let Some(inner) = trimmed.strip_prefix('%') {
            return parse_regex(inner).map(FilterPattern::Regex).map_err(|r| error(&r));
        }
        parse_terms(trimmed).map_err(|r| error(&r))
    }

    /// Tests whether a log event's message matches.
    pub fn matches(&self, message: &str) -> bool {
        match self {
            FilterPattern::Terms { required, excluded, any_of } => {
                required.iter().all(|term| message.contains(term.as_str()))
                    && !excluded.iter().any(|term| message.contains(term.as_str()))
                    && (any_of.is_empty() || any_of.iter().any(|term| message.contains(term.as_str())))
            }
            FilterPattern::Regex(regex) => regex.is_match(message),
            FilterPattern::Json(expr) => match serde_json::from_str::<Value>(message.trim()) {
                Ok(value @ Value::Object(_)) => expr.evaluate(&value),
                _ => false,
            },
        }
    }
}

/// Parses the text after the opening `%` of a regular expression pattern. CloudWatch Logs
/// rejects groups and multibyte characters in these expressions, so Flicker does too.
fn parse_regex(after_percent: &str) -> Result<regex::Regex, String> {
    let Some(expression) = after_percent.strip_suffix('%') else {
        return Err("a regular expression pattern ends with '%'".into());
    };
    if expression.is_empty() {
        return Err("the regular expression between '%' and '%' is empty".into());
    }
    if let Some(bad) = expression.chars().find(|c| matches!(c, '(' | ')') || !c.is_ascii()) {
        return Err(format!("the character '{bad}' is not allowed in a regular expression"));
    }
    regex::Regex::new(expression).map_err(|err| format!("invalid regular expression: {err}"))
}

fn parse_terms(pattern: &str) -> Result<FilterPattern, String> {
    let (mut required, mut excluded, mut any_of) = (Vec::new(), Vec::new(), Vec::new());
    let mut chars = pattern.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else { break };
        let target = match first {
            '?' => {
                chars.next();
                &mut any_of
            }
            '-' => {
                chars.next();
                &mut excluded
            }
            _ => &mut required,
        };
        let term = if chars.next_if_eq(&'"').is_some() {
            let mut phrase = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(escaped) => phrase.push(escaped),
                        None => return Err("unterminated quoted phrase".into()),
                    },
                    Some(c) => phrase.push(c),
                    None => return Err("unterminated quoted phrase".into()),
                }
            }
            phrase
        } else {
            let mut word = String::new();
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                word.push(c);
            }
            if word.is_empty() || !word.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return Err(format!(
                    "invalid character(s) in term '{word}'; put terms with characters other than \
                     letters, digits and underscores in double quotes"
                ));
            }
            word
        };
        if !term.is_empty() {
            target.push(term);
        }
    }
    Ok(FilterPattern::Terms { required, excluded, any_of })
}

impl JsonExpr {
    fn evaluate(&self, event: &Value) -> bool {
        match self {
            JsonExpr::And(left, right) => left.evaluate(event) && right.evaluate(event),
            JsonExpr::Or(left, right) => left.evaluate(event) || right.evaluate(event),
            JsonExpr::IsNull(selector) => select(event, selector).is_some_and(Value::is_null),
            JsonExpr::IsBool(selector, expected) => select(event, selector) == Some(&Value::Bool(*expected)),
            JsonExpr::NotExists(selector) => select(event, selector).is_none(),
            JsonExpr::Compare { selector, op, value } => match select(event, selector) {
                Some(field) => compare(field, *op, value),
                None => false,
            },
        }
    }
}

fn select<'a>(event: &'a Value, selector: &[PathStep]) -> Option<&'a Value> {
    selector.iter().try_fold(event, |value, step| match step {
        PathStep::Key(key) => value.get(key.as_str()),
        PathStep::Index(index) => value.get(*index),
    })
}

fn compare(field: &Value, op: CompareOp, literal: &Literal) -> bool {
    match literal {
        Literal::Number(expected) => {
            let actual = match field {
                Value::Number(number) => number.as_f64(),
                Value::String(text) => text.parse::<f64>().ok(),
                _ => None,
            };
            let Some(actual) = actual else { return false };
            match op {
                CompareOp::Eq => actual == *expected,
                CompareOp::Ne => actual != *expected,
                CompareOp::Lt => actual < *expected,
                CompareOp::Le => actual <= *expected,
                CompareOp::Gt => actual > *expected,
                CompareOp::Ge => actual >= *expected,
            }
        }
        Literal::Text(expected) => {
            let actual = match field {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                _ => return false,
            };
            let equal = wildcard_match(expected, &actual);
            match op {
                CompareOp::Eq => equal,
                CompareOp::Ne => !equal,
                _ => false,
            }
        }
    }
}

/// Matches `text` against `pattern`, where `*` stands for any run of characters.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// A recursive-descent parser of `{ expression }`.
struct JsonParser<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> JsonParser<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, at: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn skip_spaces(&mut self) {
        let rest = self.rest();
        self.at += rest.len() - rest.trim_start().len();
    }

    /// Consumes `token` after optional spaces if it comes next.
    fn eat(&mut self, token: &str) -> bool {
        self.skip_spaces();
        if self.rest().starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    /// Consumes a keyword such as `IS`, case-insensitively, when a word boundary follows it.
    fn eat_keyword(&mut self, keyword: &str) -> bool {
        self.skip_spaces();
        let rest = self.rest();
        let matches = rest.len() >= keyword.len()
            && rest.is_char_boundary(keyword.len())
            && rest[..keyword.len()].eq_ignore_ascii_case(keyword)
            && !rest[keyword.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_');
        if matches {
            self.at += keyword.len();
        }
        matches
    }

    fn parse_pattern(mut self) -> Result<JsonExpr, String> {
        if !self.eat("{") {
            return Err("a JSON pattern starts with '{'".into());
        }
        let expr = self.parse_or()?;
        if !self.eat("}") {
            return Err(format!("expected '&&', '||' or '}}' at '{}'", self.rest()));
        }
        self.skip_spaces();
        if !self.rest().is_empty() {
            return Err(format!("unexpected text after '}}': '{}'", self.rest()));
        }
        Ok(expr)
    }

    fn parse_or(&mut self) -> Result<JsonExpr, String> {
        let mut expr = self.parse_and()?;
        while self.eat("||") {
            expr = JsonExpr::Or(Box::new(expr), Box::new(self.parse_and()?));
        }
        Ok(expr)
    }

    fn parse_and(&mut self) -> Result<JsonExpr, String> {
        let mut expr = self.parse_primary()?;
        while self.eat("&&") {
            expr = JsonExpr::And(Box::new(expr), Box::new(self.parse_primary()?));
        }
        Ok(expr)
    }

    fn parse_primary(&mut self) -> Result<JsonExpr, String> {
        if self.eat("(") {
            let expr = self.parse_or()?;
            if !self.eat(")") {
                return Err(format!("expected ')' at '{}'", self.rest()));
            }
            return Ok(expr);
        }
        let selector = self.parse_selector()?;
        if self.eat_keyword("IS") {
            if self.eat_keyword("NULL") {
                return Ok(JsonExpr::IsNull(selector));
            }
            if self.eat_keyword("TRUE") {
                return Ok(JsonExpr::IsBool(selector, true));
            }
            if self.eat_keyword("FALSE") {
                return Ok(JsonExpr::IsBool(selector, false));
            }
            return Err(format!("expected NULL, TRUE or FALSE after IS at '{}'", self.rest()));
        }
        if self.eat_keyword("NOT") {
            if self.eat_keyword("EXISTS") {
                return Ok(JsonExpr::NotExists(selector));
            }
            return Err(format!("expected EXISTS after NOT at '{}'", self.rest()));
        }
        let op = self.parse_operator()?;
        let value = self.parse_literal()?;
        if matches!(value, Literal::Text(_)) && !matches!(op, CompareOp::Eq | CompareOp::Ne) {
            return Err("the operators <, <=, > and >= need a number".into());
        }
        Ok(JsonExpr::Compare { selector, op, value })
    }

    fn parse_selector(&mut self) -> Result<Vec<PathStep>, String> {
        if !self.eat("$") {
            return Err(format!("expected a selector such as $.field at '{}'", self.rest()));
        }
        let mut steps = Vec::new();
        loop {
            let rest = self.rest();
            if let Some(after_dot) = rest.strip_prefix('.') {
                let length = after_dot
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '@'))
                    .unwrap_or(after_dot.len());
                if length == 0 {
                    return Err(format!("expected a field name after '.' at '{rest}'"));
                }
                steps.push(PathStep::Key(after_dot[..length].to_string()));
                self.at += 1 + length;
            } else if let Some(after_bracket) = rest.strip_prefix('[') {
                let Some(close) = after_bracket.find(']') else {
                    return Err(format!("expected ']' at '{rest}'"));
                };
                let index = after_bracket[..close]
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| format!("expected an array index at '{rest}'"))?;
                steps.push(PathStep::Index(index));
                self.at += 1 + close + 1;
            } else {
                break;
            }
        }
        if steps.is_empty() {
            return Err("a selector needs at least one field, as in $.field".into());
        }
        Ok(steps)
    }

    fn parse_operator(&mut self) -> Result<CompareOp, String> {
        for (token, op) in [
            ("!=", CompareOp::Ne),
            ("<=", CompareOp::Le),
            (">=", CompareOp::Ge),
            ("=", CompareOp::Eq),
            ("<", CompareOp::Lt),
            (">", CompareOp::Gt),
        ] {
            if self.eat(token) {
                return Ok(op);
            }
        }
        Err(format!("expected one of =, !=, <, <=, >, >=, IS or NOT EXISTS at '{}'", self.rest()))
    }

    fn parse_literal(&mut self) -> Result<Literal, String> {
        self.skip_spaces();
        let rest = self.rest();
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut text = String::new();
            let mut chars = quoted.char_indices();
            while let Some((index, c)) = chars.next() {
                match c {
                    '"' => {
                        self.at += 1 + index + 1;
                        return Ok(Literal::Text(text));
                    }
                    '\\' => match chars.next() {
                        Some((_, escaped)) => text.push(escaped),
                        None => break,
                    },
                    c => text.push(c),
                }
            }
            return Err("unterminated quoted value".into());
        }
        let length = rest
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '}' | '&' | '|'))
            .unwrap_or(rest.len());
        if length == 0 {
            return Err(format!("expected a value at '{rest}'"));
        }
        let word = &rest[..length];
        self.at += length;
        Ok(match word.parse::<f64>() {
            Ok(number) if number.is_finite() => Literal::Number(number),
            _ => Literal::Text(word.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, message: &str) -> bool {
        FilterPattern::parse(pattern).unwrap().matches(message)
    }

    #[test]
    fn empty_pattern_matches_everything() {
        assert!(matches("", "anything"));
        assert!(matches("  ", ""));
    }

    #[test]
    fn terms_must_all_appear() {
        assert!(matches("ERROR disk", "ERROR: disk full"));
        assert!(!matches("ERROR disk", "ERROR: memory"));
        assert!(!matches("ERROR", "error: lower case"));
    }

    #[test]
    fn quoted_phrase_matches_exactly() {
        assert!(matches("\"disk full\"", "ERROR: disk full"));
        assert!(!matches("\"disk full\"", "disk is full"));
        assert!(matches("\"a:b\"", "x a:b y"));
    }

    #[test]
    fn question_terms_match_any() {
        assert!(matches("?ERROR ?WARN", "WARN low memory"));
        assert!(matches("?ERROR ?WARN", "ERROR out of memory"));
        assert!(!matches("?ERROR ?WARN", "INFO started"));
    }

    #[test]
    fn minus_terms_exclude() {
        assert!(matches("ERROR -retrying", "ERROR failed"));
        assert!(!matches("ERROR -retrying", "ERROR failed, retrying"));
        assert!(!matches("ERROR -\"will retry\"", "ERROR x will retry"));
    }

    #[test]
    fn unquoted_punctuation_is_rejected() {
        let error = FilterPattern::parse("ERROR:").unwrap_err();
        assert!(error.reason.contains("'ERROR:'"), "{error}");
        assert!(FilterPattern::parse("\"unterminated").is_err());
    }

    #[test]
    fn space_delimited_is_rejected() {
        assert!(FilterPattern::parse("[ip, user]").unwrap_err().reason.contains("space-delimited"));
    }

    #[test]
    fn regex_pattern_matches_anywhere() {
        assert!(matches("%[Ee]rror|[Ff]ail%", "request failed"));
        assert!(matches("%^START%", "START RequestId: 1"));
        assert!(!matches("%^START%", "x START"));
        assert!(!matches("%[Ee]rror%", "all good"));
    }

    #[test]
    fn regex_pattern_errors() {
        assert!(FilterPattern::parse("%(a|b)%").unwrap_err().reason.contains("'('"));
        assert!(FilterPattern::parse("%abc").unwrap_err().reason.contains("ends with '%'"));
        assert!(FilterPattern::parse("%[a%").unwrap_err().reason.contains("invalid regular expression"));
        assert!(FilterPattern::parse("%%").is_err());
    }

    #[test]
    fn json_string_equality() {
        let pattern = r#"{ $.level = "ERROR" }"#;
        assert!(matches(pattern, r#"{"level": "ERROR", "n": 1}"#));
        assert!(!matches(pattern, r#"{"level": "INFO"}"#));
        assert!(!matches(pattern, "level ERROR"));
        assert!(matches(r#"{ $.level != "INFO" }"#, r#"{"level": "ERROR"}"#));
    }

    #[test]
    fn json_wildcards_and_nesting() {
        assert!(matches(r#"{ $.user.name = "adm*" }"#, r#"{"user": {"name": "admin"}}"#));
        assert!(matches(r#"{ $.items[1] = "b" }"#, r#"{"items": ["a", "b"]}"#));
        assert!(!matches(r#"{ $.user.name = "adm*" }"#, r#"{"user": {"name": "root"}}"#));
    }

    #[test]
    fn json_numeric_comparisons() {
        assert!(matches("{ $.latency > 100 }", r#"{"latency": 150}"#));
        assert!(!matches("{ $.latency > 100 }", r#"{"latency": 100}"#));
        assert!(matches("{ $.latency >= 100 }", r#"{"latency": 100.0}"#));
        assert!(matches("{ $.code = 200 }", r#"{"code": 200}"#));
        assert!(!matches("{ $.latency < 100 }", r#"{"other": 1}"#));
    }

    #[test]
    fn json_and_or_with_parentheses() {
        let pattern = r#"{ ($.level = "ERROR" && $.latency > 100) || $.fatal IS TRUE }"#;
        assert!(matches(pattern, r#"{"level": "ERROR", "latency": 101}"#));
        assert!(!matches(pattern, r#"{"level": "ERROR", "latency": 99}"#));
        assert!(matches(pattern, r#"{"fatal": true}"#));
        assert!(!matches(pattern, r#"{"fatal": false}"#));
    }

    #[test]
    fn json_null_and_existence() {
        assert!(matches("{ $.a IS NULL }", r#"{"a": null}"#));
        assert!(!matches("{ $.a IS NULL }", r#"{}"#));
        assert!(matches("{ $.a NOT EXISTS }", r#"{}"#));
        assert!(!matches("{ $.a NOT EXISTS }", r#"{"a": 1}"#));
    }

    #[test]
    fn json_syntax_errors_are_reported() {
        for pattern in ["{ $.a = }", "{ $.a > \"x\" }", "{ $.a = 1", "{ level = 1 }", "{ $.a = 1 } x"] {
            assert!(FilterPattern::parse(pattern).is_err(), "{pattern} parsed");
        }
    }
}
