//! HTTP routes in the style of API Gateway: a method and a path template with `{name}`
//! parameters and a trailing greedy `{name+}`, each sent to one function. Routes are read from
//! a TOML file with one `[[route]]` table per route.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The event shape a route sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum PayloadFormat {
    #[serde(rename = "2.0")]
    V2,
    #[serde(rename = "1.0")]
    V1,
}

/// An error loading the routes file.
#[derive(Debug, thiserror::Error)]
pub enum LoadRoutesError {
    /// the file could not be read
    #[error("failed to read routes file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// the file is not valid TOML or has unknown keys
    #[error("invalid routes file {path}")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    /// a route is invalid
    #[error("invalid route {route_key:?} in {path}: {reason}")]
    Invalid { path: PathBuf, route_key: String, reason: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutesFile {
    #[serde(default)]
    route: Vec<RouteEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteEntry {
    method: String,
    path: String,
    function: String,
    #[serde(default = "default_payload_format")]
    payload_format: PayloadFormat,
}

fn default_payload_format() -> PayloadFormat {
    PayloadFormat::V2
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter(String),
    /// `{name+}`: the rest of the path, one segment or more.
    Greedy(String),
}

/// One route: `GET /items/{id}` to a function.
#[derive(Debug, Clone)]
pub struct Route {
    /// An upper-case method, or `ANY`.
    pub method: String,
    /// The path template, such as `/items/{id}`.
    pub path: String,
    /// A function name or ARN, with an optional qualifier.
    pub function: String,
    pub payload_format: PayloadFormat,
    segments: Vec<Segment>,
}

/// A route chosen for a request, with the values of its path parameters.
#[derive(Debug, Clone)]
pub struct RouteMatch<'a> {
    pub route: &'a Route,
    pub path_parameters: BTreeMap<String, String>,
}

impl Route {
    /// `METHOD /path`, as API Gateway names a route.
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    fn parse(entry: RouteEntry) -> Result<Self, String> {
        let method = entry.method.to_ascii_uppercase();
        const METHODS: &[&str] = &["ANY", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
        if !METHODS.contains(&method.as_str()) {
            return Err(format!("method must be one of {}", METHODS.join(", ")));
        }
        if !entry.path.starts_with('/') {
            return Err("path must start with /".into());
        }
        if let Err(err) = flicker_model::FunctionRef::parse(&entry.function) {
            return Err(format!("function must be a function name or ARN: {}", err.message));
        }
        let segments = parse_template(&entry.path)?;
        Ok(Self {
            method,
            path: entry.path,
            function: entry.function,
            payload_format: entry.payload_format,
            segments,
        })
    }

    /// Ranks a matching route, lower first. Paths without parameters come before paths with
    /// `{name}`, which come before greedy paths. Within each kind, more literal segments win,
    /// and then a named method wins over `ANY`.
    fn precedence(&self) -> (u8, usize, bool) {
        let kind = if self.segments.iter().any(|s| matches!(s, Segment::Greedy(_))) {
            2
        } else if self.segments.iter().any(|s| matches!(s, Segment::Parameter(_))) {
            1
        } else {
            0
        };
        let literals = self.segments.iter().filter(|s| matches!(s, Segment::Literal(_))).count();
        (kind, usize::MAX - literals, self.method == "ANY")
    }

    /// Matches decoded path segments, returning the parameters.
    fn matches(&self, method: &str, segments: &[String]) -> Option<BTreeMap<String, String>> {
        if self.method != "ANY" && self.method != method {
            return None;
        }
        let mut parameters = BTreeMap::new();
        for (index, template) in self.segments.iter().enumerate() {
            match template {
                Segment::Greedy(name) => {
                    let rest = segments.get(index..).filter(|rest| !rest.is_empty())?;
                    parameters.insert(name.clone(), rest.join("/"));
                    return Some(parameters);
                }
                Segment::Literal(literal) => {
                    if segments.get(index)? != literal {
                        return None;
                    }
                }
                Segment::Parameter(name) => {
                    let value = segments.get(index).filter(|value| !value.is_empty())?;
                    parameters.insert(name.clone(), value.clone());
                }
            }
        }
        (segments.len() == self.segments.len()).then_some(parameters)
    }
}

fn parse_template(path: &str) -> Result<Vec<Segment>, String> {
    let parts: Vec<&str> = path[1..].split('/').collect();
    let mut segments = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(inner) => match inner.strip_suffix('+') {
                Some(name) if index + 1 == parts.len() && !name.is_empty() => Segment::Greedy(name.into()),
                Some(_) => return Err("a greedy parameter {name+} must be the last segment".into()),
                None if !inner.is_empty() => Segment::Parameter(inner.into()),
                None => return Err("a path parameter needs a name".into()),
            },
            None if part.contains(['{', '}']) => {
                return Err(format!("segment {part:?} must be a whole {{name}} or a literal"))
            }
            None => Segment::Literal((*part).into()),
        };
        segments.push(segment);
    }
    if segments == [Segment::Literal(String::new())] {
        segments.clear();
    }
    Ok(segments)
}

/// The routes of one routes file.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// Reads and checks a routes file.
    pub fn load(path: &Path) -> Result<Self, LoadRoutesError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| LoadRoutesError::Read { path: path.into(), source })?;
        Self::parse(&text, path)
    }

    /// Parses the text of a routes file; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, LoadRoutesError> {
        let file: RoutesFile =
            toml::from_str(text).map_err(|source| LoadRoutesError::Parse { path: path.into(), source })?;
        let mut routes: Vec<Route> = Vec::new();
        for entry in file.route {
            let route_key = format!("{} {}", entry.method, entry.path);
            let invalid = |reason: String| LoadRoutesError::Invalid {
                path: path.into(),
                route_key: route_key.clone(),
                reason,
            };
            let route = Route::parse(entry).map_err(invalid)?;
            if routes.iter().any(|r| r.method == route.method && r.segments == route.segments) {
                return Err(invalid("the route is defined twice".into()));
            }
            routes.push(route);
        }
        Ok(Self { routes })
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Finds the route for a method and a percent-encoded path, by API Gateway's precedence.
    pub fn find(&self, method: &str, raw_path: &str) -> Option<RouteMatch<'_>> {
        let trimmed = raw_path.strip_prefix('/').unwrap_or(raw_path);
        let segments: Vec<String> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed
                .split('/')
                .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
                .collect()
        };
        self.routes
            .iter()
            .filter_map(|route| route.matches(method, &segments).map(|parameters| (route, parameters)))
            .min_by_key(|(route, _)| route.precedence())
            .map(|(route, path_parameters)| RouteMatch { route, path_parameters })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[route]]
method = "GET"
path = "/items/{id}"
function = "by-id"

[[route]]
method = "GET"
path = "/items/special"
function = "special"
payload_format = "1.0"

[[route]]
method = "ANY"
path = "/files/{proxy+}"
function = "files"
"#;

    fn table() -> RouteTable {
        RouteTable::parse(FILE, Path::new("routes.toml")).unwrap()
    }

    #[test]
    fn exact_path_wins_over_parameter() {
        let table = table();
        assert_eq!(table.find("GET", "/items/special").unwrap().route.function, "special");
        let by_id = table.find("GET", "/items/42").unwrap();
        assert_eq!(by_id.route.function, "by-id");
        assert_eq!(by_id.path_parameters["id"], "42");
    }

    #[test]
    fn greedy_takes_rest_of_path() {
        let table = table();
        let found = table.find("DELETE", "/files/a/b%20c").unwrap();
        assert_eq!(found.path_parameters["proxy"], "a/b c");
        assert!(table.find("GET", "/files").is_none());
        assert!(table.find("POST", "/items/1").is_none());
    }

    #[test]
    fn invalid_routes_are_rejected() {
        for text in [
            "[[route]]\nmethod='GET'\npath='/{a+}/b'\nfunction='f'",
            "[[route]]\nmethod='FETCH'\npath='/a'\nfunction='f'",
            "[[route]]\nmethod='GET'\npath='a'\nfunction='f'",
            "[[route]]\nmethod='GET'\npath='/a'\nfunction='f'\npayload_format='3.0'",
            "[[route]]\nmethod='GET'\npath='/a'\nfunction='f'\n[[route]]\nmethod='get'\npath='/a'\nfunction='g'",
        ] {
            assert!(RouteTable::parse(text, Path::new("r.toml")).is_err(), "{text}");
        }
    }
}
