//! The reading operations of CloudWatch Logs over the function log files: DescribeLogGroups,
//! DescribeLogStreams, FilterLogEvents and GetLogEvents. A function's file contains one event
//! per line, `MILLISECONDS\tSTREAM\tMESSAGE`, with line breaks inside a message written as
//! carriage returns. The previous file (`NAME.log.1`) is read first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use flicker_model::ApiError;

use super::wire::*;
use super::{check_limit, invalid_parameter, parse_log_group, parse_pattern, required, LogSubscriptions};
use super::{resource_not_found, service_unavailable, LAMBDA_LOG_GROUP_PREFIX};

/// Events per FilterLogEvents or GetLogEvents response, as in CloudWatch Logs.
const EVENTS_LIMIT_MAX: i64 = 10_000;
/// Message bytes per FilterLogEvents or GetLogEvents response, as in CloudWatch Logs.
const RESPONSE_BYTES_MAX: usize = 1024 * 1024;

/// One line of a function log file.
#[derive(Debug, Clone)]
struct StoredEvent {
    timestamp: i64,
    stream: String,
    message: String,
}

/// Reads the events of a function's log files, oldest first. Lines that do not have the three
/// fields are skipped.
fn read_events(current: &Path) -> std::io::Result<Vec<StoredEvent>> {
    let mut previous = current.as_os_str().to_owned();
    previous.push(".1");
    let mut events = Vec::new();
    for path in [PathBuf::from(previous), current.to_path_buf()] {
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err),
        };
        for line in String::from_utf8_lossy(&bytes).lines() {
            let mut fields = line.splitn(3, '\t');
            let (Some(timestamp), Some(stream), Some(message)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let Ok(timestamp) = timestamp.parse() else { continue };
            events.push(StoredEvent {
                timestamp,
                stream: stream.to_string(),
                message: message.replace('\r', "\n"),
            });
        }
    }
    Ok(events)
}

/// Extracts the name of a log group given as a name or as an ARN (`arn:aws:logs:...:log-group:NAME`).
fn group_name_of(name: &Option<String>, identifier: &Option<String>) -> Result<String, ApiError> {
    match (name, identifier) {
        (Some(_), Some(_)) => {
            Err(invalid_parameter("LogGroup name and LogGroup ARN are mutually exclusive parameters."))
        }
        (Some(name), None) => Ok(name.clone()),
        (None, Some(identifier)) => Ok(identifier
            .split_once(":log-group:")
            .map(|(_, name)| name.trim_end_matches(":*").to_string())
            .unwrap_or_else(|| identifier.clone())),
        (None, None) => {
            Err(invalid_parameter("Either logGroupName or logGroupIdentifier must be specified."))
        }
    }
}

fn parse_token(token: &str, direction: char) -> Result<usize, ApiError> {
    token
        .strip_prefix(direction)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|index| index.parse().ok())
        .ok_or_else(|| invalid_parameter(format!("The specified nextToken is invalid: '{token}'")))
}

fn milliseconds_of(time: std::io::Result<std::time::SystemTime>) -> Option<i64> {
    let since_epoch = time.ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(since_epoch.as_millis()).ok()
}

impl LogSubscriptions {
    /// Reads a function's log events on a blocking thread.
    async fn events_of(&self, function: &str) -> Result<Vec<StoredEvent>, ApiError> {
        let path = self.inner.engine.log_path(function);
        tokio::task::spawn_blocking(move || read_events(&path))
            .await
            .map_err(|err| service_unavailable(format!("Reading the log events failed: {err}")))?
            .map_err(|err| service_unavailable(format!("Reading the log events failed: {err}")))
    }

    /// DescribeLogGroups: the log groups `/aws/lambda/NAME` of the functions that exist or have
    /// written logs, ordered by name.
    pub async fn describe_log_groups(
        &self,
        request: DescribeLogGroupsRequest,
    ) -> Result<DescribeLogGroupsResponse, ApiError> {
        if request.log_group_name_prefix.is_some() && request.log_group_name_pattern.is_some() {
            return Err(invalid_parameter(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
            ));
        }
        let limit = check_limit(request.limit, 50)?;
        let engine = &self.inner.engine;

        // Creation times by function: the function's last modification until the log file
        // exists, then the file's creation time where the file system records one.
        let mut functions: BTreeMap<String, i64> = BTreeMap::new();
        let mut marker: Option<String> = None;
        loop {
            let page = engine.list_functions(marker.as_deref(), Some(10_000))?;
            for function in page.functions {
                let modified =
                    chrono::DateTime::parse_from_str(&function.last_modified, "%Y-%m-%dT%H:%M:%S%.3f%z")
                        .map(|time| time.timestamp_millis())
                        .unwrap_or_default();
                functions.insert(function.function_name, modified);
            }
            match page.next_marker {
                Some(next) => marker = Some(next),
                None => break,
            }
        }
        let logs_dir = engine.log_path("_").parent().map(Path::to_path_buf).unwrap_or_default();
        let files = tokio::task::spawn_blocking(move || list_log_files(&logs_dir))
            .await
            .map_err(|err| service_unavailable(format!("Listing the log groups failed: {err}")))?;
        let mut groups: BTreeMap<String, LogGroup> = BTreeMap::new();
        for (function, modified) in &functions {
            groups.insert(function.clone(), self.log_group(function, *modified, 0));
        }
        for (function, (created, bytes)) in files {
            let creation_time = functions.get(&function).copied().unwrap_or(created).min(created);
            groups.insert(function.clone(), self.log_group(&function, creation_time, bytes));
        }

        let prefix = request.log_group_name_prefix.as_deref().unwrap_or_default();
        let pattern = request.log_group_name_pattern.as_deref().unwrap_or_default().to_lowercase();
        let after = request.next_token.as_deref().unwrap_or_default();
        let matching: Vec<LogGroup> = groups
            .into_values()
            .filter(|group| {
                group.log_group_name.starts_with(prefix)
                    && group.log_group_name.to_lowercase().contains(&pattern)
                    && group.log_group_name.as_str() > after
            })
            .collect();
        let next_token = (matching.len() > limit).then(|| matching[limit - 1].log_group_name.clone());
        let log_groups = matching.into_iter().take(limit).collect();
        Ok(DescribeLogGroupsResponse { log_groups, next_token })
    }

    /// DescribeLogStreams: the streams of a log group, one per execution environment that
    /// wrote to it, ordered by name or by last event time. `nextToken` is the position in
    /// that order.
    pub async fn describe_log_streams(
        &self,
        request: DescribeLogStreamsRequest,
    ) -> Result<DescribeLogStreamsResponse, ApiError> {
        let group = group_name_of(&request.log_group_name, &request.log_group_identifier)?;
        let limit = check_limit(request.limit, 50)?;
        let by_last_event = match request.order_by.as_deref() {
            None | Some("LogStreamName") => false,
            Some("LastEventTime") => true,
            Some(other) => {
                return Err(invalid_parameter(format!(
                    "Invalid orderBy '{other}': expected LogStreamName or LastEventTime."
                )))
            }
        };
        let prefix = request.log_stream_name_prefix.unwrap_or_default();
        if by_last_event && !prefix.is_empty() {
            return Err(invalid_parameter("Cannot order by LastEventTime with a logStreamNamePrefix."));
        }
        let function = self.existing_group(&group).await?;

        // First and last event time of each stream.
        let mut spans: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for event in self.events_of(function).await? {
            let span = spans.entry(event.stream).or_insert((event.timestamp, event.timestamp));
            span.0 = span.0.min(event.timestamp);
            span.1 = span.1.max(event.timestamp);
        }
        let group_arn = self.log_group(function, 0, 0).log_group_arn;
        let mut streams: Vec<LogStream> = spans
            .into_iter()
            .filter(|(name, _)| name.starts_with(&prefix))
            .map(|(name, (first, last))| LogStream {
                arn: format!("{group_arn}:log-stream:{name}"),
                log_stream_name: name,
                creation_time: first,
                first_event_timestamp: first,
                last_event_timestamp: last,
                last_ingestion_time: last,
                stored_bytes: 0,
            })
            .collect();
        if by_last_event {
            streams.sort_by_key(|stream| stream.last_event_timestamp);
        }
        if request.descending.unwrap_or(false) {
            streams.reverse();
        }
        let start = match request.next_token.as_deref() {
            Some(token) => parse_token(token, 'f')?.min(streams.len()),
            None => 0,
        };
        let end = (start + limit).min(streams.len());
        let next_token = (end < streams.len()).then(|| format!("f/{end}"));
        let log_streams = streams.drain(start..end).collect();
        Ok(DescribeLogStreamsResponse { log_streams, next_token })
    }

    fn log_group(&self, function: &str, creation_time: i64, stored_bytes: u64) -> LogGroup {
        let settings = self.inner.engine.settings();
        let name = format!("{LAMBDA_LOG_GROUP_PREFIX}{function}");
        let log_group_arn =
            format!("arn:aws:logs:{}:{}:log-group:{name}", settings.region, settings.account_id);
        LogGroup {
            log_group_name: name,
            creation_time,
            metric_filter_count: 0,
            arn: format!("{log_group_arn}:*"),
            log_group_arn,
            stored_bytes,
            log_group_class: "STANDARD",
        }
    }

    /// FilterLogEvents: the events of a log group that match a filter pattern, oldest first.
    /// `nextToken` is the position in the group's events, which shifts when the log file is
    /// rotated between pages.
    pub async fn filter_log_events(
        &self,
        request: FilterLogEventsRequest,
    ) -> Result<FilterLogEventsResponse, ApiError> {
        let group = group_name_of(&request.log_group_name, &request.log_group_identifier)?;
        if request.log_stream_names.is_some() && request.log_stream_name_prefix.is_some() {
            return Err(invalid_parameter(
                "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.",
            ));
        }
        let limit = check_limit(request.limit, EVENTS_LIMIT_MAX)?;
        let pattern = parse_pattern(request.filter_pattern.as_deref().unwrap_or_default())?;
        let start = match &request.next_token {
            Some(token) => parse_token(token, 'f')?,
            None => 0,
        };
        let function = self.existing_group(&group).await?;
        let events = self.events_of(function).await?;

        let in_streams = |stream: &str| match (&request.log_stream_names, &request.log_stream_name_prefix) {
            (Some(names), _) => names.iter().any(|name| name == stream),
            (None, Some(prefix)) => stream.starts_with(prefix.as_str()),
            (None, None) => true,
        };
        let mut found = Vec::new();
        let mut bytes = 0;
        let mut next_token = None;
        for (index, event) in events.iter().enumerate().skip(start) {
            if found.len() >= limit || bytes >= RESPONSE_BYTES_MAX {
                next_token = Some(format!("f/{index}"));
                break;
            }
            let in_range = request.start_time.is_none_or(|start| event.timestamp >= start)
                && request.end_time.is_none_or(|end| event.timestamp <= end);
            if !in_range || !in_streams(&event.stream) || !pattern.matches(&event.message) {
                continue;
            }
            bytes += event.message.len();
            found.push(FilteredLogEvent {
                log_stream_name: event.stream.clone(),
                timestamp: event.timestamp,
                message: event.message.clone(),
                ingestion_time: event.timestamp,
                event_id: format!("{:020}{:036}", event.timestamp.max(0), index),
            });
        }
        Ok(FilterLogEventsResponse { events: found, searched_log_streams: Vec::new(), next_token })
    }

    /// GetLogEvents: the events of one log stream. Without a token it returns the newest
    /// events, or the oldest with `startFromHead`. Tokens are `f/N` and `b/N`, a position in
    /// the stream's events.
    pub async fn get_log_events(
        &self,
        request: GetLogEventsRequest,
    ) -> Result<GetLogEventsResponse, ApiError> {
        let group = group_name_of(&request.log_group_name, &request.log_group_identifier)?;
        let stream = required(&request.log_stream_name, "logStreamName")?;
        let limit = check_limit(request.limit, EVENTS_LIMIT_MAX)?;
        let function = self.existing_group(&group).await?;
        let events: Vec<StoredEvent> =
            self.events_of(function).await?.into_iter().filter(|event| event.stream == stream).collect();
        if events.is_empty() {
            return Err(resource_not_found("The specified log stream does not exist."));
        }
        let events: Vec<StoredEvent> = events
            .into_iter()
            .filter(|event| {
                request.start_time.is_none_or(|start| event.timestamp >= start)
                    && request.end_time.is_none_or(|end| event.timestamp < end)
            })
            .collect();

        let (from, to) = match request.next_token.as_deref() {
            Some(token) if token.starts_with('b') => {
                let end = parse_token(token, 'b')?.min(events.len());
                (end.saturating_sub(limit), end)
            }
            Some(token) => {
                let begin = parse_token(token, 'f')?.min(events.len());
                (begin, (begin + limit).min(events.len()))
            }
            None if request.start_from_head.unwrap_or(false) => (0, limit.min(events.len())),
            None => (events.len().saturating_sub(limit), events.len()),
        };
        let output = events[from..to]
            .iter()
            .map(|event| OutputLogEvent {
                timestamp: event.timestamp,
                message: event.message.clone(),
                ingestion_time: event.timestamp,
            })
            .collect();
        Ok(GetLogEventsResponse {
            events: output,
            next_forward_token: format!("f/{to}"),
            next_backward_token: format!("b/{from}"),
        })
    }
}

/// Lists the functions with a log file under `dir`, with the oldest file's creation time (its
/// modification time where the file system records no creation time) and the bytes of both
/// files.
fn list_log_files(dir: &Path) -> BTreeMap<String, (i64, u64)> {
    let mut functions = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return functions };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else { continue };
        let Some(function) = name.strip_suffix(".log.1").or_else(|| name.strip_suffix(".log")) else {
            continue;
        };
        if !matches!(parse_log_group(&format!("{LAMBDA_LOG_GROUP_PREFIX}{function}")), Ok(Some(_))) {
            continue;
        }
        let Ok(metadata) = entry.metadata() else { continue };
        let created = milliseconds_of(metadata.created()).or_else(|| milliseconds_of(metadata.modified()));
        let slot = functions.entry(function.to_string()).or_insert((i64::MAX, 0));
        slot.0 = slot.0.min(created.unwrap_or(i64::MAX));
        slot.1 += metadata.len();
    }
    for (created, _) in functions.values_mut() {
        if *created == i64::MAX {
            *created = 0;
        }
    }
    functions
}
