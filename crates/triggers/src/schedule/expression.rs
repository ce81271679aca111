//! Schedule expressions: `rate(value unit)` and `cron(...)`, and the ticks they produce.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};

use super::cron::Cron;

/// A parsed `ScheduleExpression`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleExpression {
    /// `rate(N minutes)`, as a number of minutes.
    Rate {
        minutes: u64,
    },
    Cron(Cron),
}

/// An invalid schedule expression; the message names the expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExpressionError(String);

fn parse_rate(body: &str) -> Result<u64, ExpressionError> {
    let invalid = |reason: &str| ExpressionError(format!("rate({body}): {reason}"));
    let (value, unit) = body
        .split_once(' ')
        .ok_or_else(|| invalid("expected a value and a unit, such as rate(5 minutes)"))?;
    let value: u64 = value
        .parse()
        .ok()
        .filter(|value| *value > 0)
        .ok_or_else(|| invalid("the value must be a positive whole number"))?;
    let (singular, plural, minutes) = match unit {
        "minute" | "minutes" => ("minute", "minutes", 1),
        "hour" | "hours" => ("hour", "hours", 60),
        "day" | "days" => ("day", "days", 24 * 60),
        _ => return Err(invalid("the unit must be minute(s), hour(s) or day(s)")),
    };
    if value == 1 && unit != singular {
        return Err(invalid(&format!("a value of 1 takes the singular unit {singular}")));
    }
    if value != 1 && unit != plural {
        return Err(invalid(&format!("a value above 1 takes the plural unit {plural}")));
    }
    value.checked_mul(minutes).ok_or_else(|| invalid("the period is too long"))
}

impl ScheduleExpression {
    /// Parses `rate(...)` or `cron(...)`.
    pub fn parse(text: &str) -> Result<Self, ExpressionError> {
        if let Some(body) = text.strip_prefix("rate(").and_then(|rest| rest.strip_suffix(')')) {
            return Ok(Self::Rate { minutes: parse_rate(body)? });
        }
        if let Some(body) = text.strip_prefix("cron(").and_then(|rest| rest.strip_suffix(')')) {
            return Cron::parse(body)
                .map(Self::Cron)
                .map_err(|err| ExpressionError(format!("{text}: {err}")));
        }
        Err(ExpressionError(format!("{text}: expected rate(value unit) or cron(fields)")))
    }

    /// Computes the latest tick in `(after, now]`, or `None` if no tick is due. `minute` is the length
    /// of a `rate()` minute, and rate ticks fall on `after` plus whole periods. Cron ticks are
    /// wall-clock minutes in UTC, whatever `minute` is.
    pub fn latest_tick(
        &self,
        after: DateTime<Utc>,
        now: DateTime<Utc>,
        minute: StdDuration,
    ) -> Option<DateTime<Utc>> {
        match self {
            Self::Rate { minutes } => {
                let period = rate_period(*minutes, minute);
                let elapsed = (now - after).num_milliseconds();
                let periods = elapsed.checked_div(period.num_milliseconds())?;
                (periods > 0).then(|| after + Duration::milliseconds(periods * period.num_milliseconds()))
            }
            Self::Cron(cron) => cron.latest_in(after, now),
        }
    }

    /// Computes the first tick after `after`, or `None` if the schedule has ended.
    pub fn next_tick(&self, after: DateTime<Utc>, minute: StdDuration) -> Option<DateTime<Utc>> {
        match self {
            Self::Rate { minutes } => after.checked_add_signed(rate_period(*minutes, minute)),
            Self::Cron(cron) => cron.next_after(after),
        }
    }
}

/// Computes the period of `rate(minutes)` with minutes of the given length, at least one
/// millisecond.
fn rate_period(minutes: u64, minute: StdDuration) -> Duration {
    let millis = u64::try_from(minute.as_millis()).unwrap_or(u64::MAX).saturating_mul(minutes).max(1);
    Duration::milliseconds(i64::try_from(millis).unwrap_or(i64::MAX / 2).min(i64::MAX / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: StdDuration = StdDuration::from_secs(60);

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn rate_units_and_plurals() {
        assert_eq!(ScheduleExpression::parse("rate(1 minute)"), Ok(ScheduleExpression::Rate { minutes: 1 }));
        assert_eq!(ScheduleExpression::parse("rate(5 minutes)"), Ok(ScheduleExpression::Rate { minutes: 5 }));
        assert_eq!(ScheduleExpression::parse("rate(2 hours)"), Ok(ScheduleExpression::Rate { minutes: 120 }));
        assert_eq!(ScheduleExpression::parse("rate(1 day)"), Ok(ScheduleExpression::Rate { minutes: 1440 }));
        for bad in [
            "rate(1 minutes)",
            "rate(5 minute)",
            "rate(0 minutes)",
            "rate(-1 minutes)",
            "rate(5 weeks)",
            "rate(5)",
            "rate(5  minutes)",
            "every 5 minutes",
        ] {
            assert!(ScheduleExpression::parse(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn cron_errors_name_the_expression() {
        let err = ScheduleExpression::parse("cron(0 12 * * * *)").unwrap_err().to_string();
        assert!(err.starts_with("cron(0 12 * * * *): "), "{err}");
    }

    #[test]
    fn rate_ticks_collapse_to_latest() {
        let rate = ScheduleExpression::parse("rate(5 minutes)").unwrap();
        let start = at("2026-12-04T12:00:00Z");
        assert_eq!(rate.latest_tick(start, at("2026-12-04T12:04:59Z"), MINUTE), None);
        assert_eq!(
            rate.latest_tick(start, at("2026-12-04T12:05:00Z"), MINUTE),
            Some(at("2026-12-04T12:05:00Z"))
        );
        assert_eq!(
            rate.latest_tick(start, at("2026-12-04T13:02:00Z"), MINUTE),
            Some(at("2026-12-04T13:00:00Z"))
        );
        assert_eq!(rate.next_tick(start, MINUTE), Some(at("2026-12-04T12:05:00Z")));
    }

    #[test]
    fn huge_rate_has_no_next_tick() {
        let rate = ScheduleExpression::parse("rate(9999999999999 days)").unwrap();
        assert_eq!(rate.next_tick(at("2026-12-04T12:00:00Z"), MINUTE), None);
        assert_eq!(rate.latest_tick(at("2026-12-04T12:00:00Z"), at("2027-12-04T12:00:00Z"), MINUTE), None);
    }

    #[test]
    fn rate_minute_length_scales_periods() {
        let rate = ScheduleExpression::parse("rate(1 minute)").unwrap();
        let start = at("2026-12-04T12:00:00Z");
        let second = StdDuration::from_secs(1);
        assert_eq!(rate.next_tick(start, second), Some(at("2026-12-04T12:00:01Z")));
        assert_eq!(
            rate.latest_tick(start, at("2026-12-04T12:00:03.500Z"), second),
            Some(at("2026-12-04T12:00:03Z"))
        );
    }
}
