//! EventBridge cron expressions: `cron(minutes hours day-of-month month day-of-week year)` in
//! UTC, with `, - * / ? L W #`, month and day names, and day-of-week 1-7 = SUN-SAT.
//!
//! No cron crate in this build's registry parses this dialect (day-of-week 1-7 starting on
//! Sunday, `L`, `W` and `#`, and a year field), so it is parsed here. Ranges do not wrap
//! (`FRI-MON` is rejected), and `L-n` offsets are not accepted.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc, Weekday};

/// The first and last year a cron expression can name.
const YEAR_MIN: u32 = 1970;
const YEAR_MAX: u32 = 2199;

const MONTH_NAMES: [&str; 12] =
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// A set of field values, stored as bits offset by the field's minimum.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ValueSet {
    min: u32,
    bits: [u64; 4],
}

impl ValueSet {
    fn new(min: u32) -> Self {
        Self { min, bits: [0; 4] }
    }

    fn insert(&mut self, value: u32) {
        let index = (value - self.min) as usize;
        self.bits[index / 64] |= 1 << (index % 64);
    }

    fn contains(&self, value: u32) -> bool {
        let Some(index) = value.checked_sub(self.min).map(|i| i as usize) else { return false };
        index < 256 && self.bits[index / 64] & (1 << (index % 64)) != 0
    }
}

/// One item of the day-of-month field.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MonthDay {
    /// Plain days: `*`, `5`, `1-15`, `1/10`.
    Days(ValueSet),
    /// `L`: the last day of the month.
    Last,
    /// `LW`: the last weekday (Monday to Friday) of the month.
    LastWeekday,
    /// `nW`: the weekday nearest to day n, within the same month.
    NearestWeekday(u32),
}

/// One item of the day-of-week field; days are 1-7 = SUN-SAT.
#[derive(Debug, Clone, PartialEq, Eq)]
enum WeekDay {
    /// Plain days: `*`, `2`, `MON-FRI`, `L` (Saturday).
    Days(ValueSet),
    /// `nL`: the last day n of the month, such as `6L` for the last Friday.
    LastOfMonth(u32),
    /// `n#k`: the k-th day n of the month, such as `3#2` for the second Tuesday.
    Nth(u32, u32),
}

/// The day fields; exactly one of them is `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Days {
    OfMonth(Vec<MonthDay>),
    OfWeek(Vec<WeekDay>),
}

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: ValueSet,
    hours: ValueSet,
    days: Days,
    months: ValueSet,
    years: ValueSet,
}

/// An invalid cron expression; the message names the field and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronError(String);

fn invalid(message: impl Into<String>) -> CronError {
    CronError(message.into())
}

/// The bounds and names of one plain field.
struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTES: FieldSpec = FieldSpec { name: "minutes", min: 0, max: 59, names: &[] };
const HOURS: FieldSpec = FieldSpec { name: "hours", min: 0, max: 23, names: &[] };
const DAY_OF_MONTH: FieldSpec = FieldSpec { name: "day-of-month", min: 1, max: 31, names: &[] };
const MONTH: FieldSpec = FieldSpec { name: "month", min: 1, max: 12, names: &MONTH_NAMES };
const DAY_OF_WEEK: FieldSpec = FieldSpec { name: "day-of-week", min: 1, max: 7, names: &DAY_NAMES };
const YEAR: FieldSpec = FieldSpec { name: "year", min: YEAR_MIN, max: YEAR_MAX, names: &[] };

impl FieldSpec {
    /// Parses one value: a number or, for months and days of the week, a three-letter name.
    fn value(&self, text: &str) -> Result<u32, CronError> {
        let from_name = self.names.iter().position(|name| name.eq_ignore_ascii_case(text));
        let value = match from_name {
            Some(index) => index as u32 + self.min,
            None => {
                text.parse::<u32>().map_err(|_| invalid(format!("invalid {} value {text:?}", self.name)))?
            }
        };
        if value < self.min || value > self.max {
            return Err(invalid(format!(
                "{} value {value} is out of range {}-{}",
                self.name, self.min, self.max
            )));
        }
        Ok(value)
    }

    /// Parses one plain item: `*`, `n`, `n-m`, with an optional `/step`.
    fn item(&self, text: &str, set: &mut ValueSet) -> Result<(), CronError> {
        let (range, step) = match text.split_once('/') {
            Some((range, step)) => {
                let step = step
                    .parse::<u32>()
                    .ok()
                    .filter(|step| *step > 0)
                    .ok_or_else(|| invalid(format!("invalid {} step {step:?}", self.name)))?;
                (range, step)
            }
            None => (text, 1),
        };
        let (first, last) = if range == "*" {
            (self.min, self.max)
        } else if let Some((first, last)) = range.split_once('-') {
            (self.value(first)?, self.value(last)?)
        } else {
            let first = self.value(range)?;
            // `5/15` means from 5 to the end in steps of 15.
            (first, if text.contains('/') { self.max } else { first })
        };
        if first > last {
            return Err(invalid(format!("{} range {range:?} runs backwards", self.name)));
        }
        for value in (first..=last).step_by(step as usize) {
            set.insert(value);
        }
        Ok(())
    }

    /// Parses a whole plain field: items separated by commas.
    fn parse(&self, text: &str) -> Result<ValueSet, CronError> {
        let mut set = ValueSet::new(self.min);
        for item in text.split(',') {
            self.item(item, &mut set)?;
        }
        Ok(set)
    }
}

fn parse_month_day(item: &str) -> Result<MonthDay, CronError> {
    if item.eq_ignore_ascii_case("L") {
        return Ok(MonthDay::Last);
    }
    if item.eq_ignore_ascii_case("LW") {
        return Ok(MonthDay::LastWeekday);
    }
    if let Some(day) = item.strip_suffix('W').or_else(|| item.strip_suffix('w')) {
        return Ok(MonthDay::NearestWeekday(DAY_OF_MONTH.value(day)?));
    }
    let mut set = ValueSet::new(DAY_OF_MONTH.min);
    DAY_OF_MONTH.item(item, &mut set)?;
    Ok(MonthDay::Days(set))
}

fn parse_week_day(item: &str) -> Result<WeekDay, CronError> {
    if item.eq_ignore_ascii_case("L") {
        let mut set = ValueSet::new(DAY_OF_WEEK.min);
        set.insert(7);
        return Ok(WeekDay::Days(set));
    }
    if let Some((day, nth)) = item.split_once('#') {
        let nth = nth
            .parse::<u32>()
            .ok()
            .filter(|nth| (1..=5).contains(nth))
            .ok_or_else(|| invalid(format!("invalid day-of-week occurrence {nth:?}: use 1-5")))?;
        return Ok(WeekDay::Nth(DAY_OF_WEEK.value(day)?, nth));
    }
    if let Some(day) = item.strip_suffix('L').or_else(|| item.strip_suffix('l')) {
        return Ok(WeekDay::LastOfMonth(DAY_OF_WEEK.value(day)?));
    }
    let mut set = ValueSet::new(DAY_OF_WEEK.min);
    DAY_OF_WEEK.item(item, &mut set)?;
    Ok(WeekDay::Days(set))
}

fn parse_days(day_of_month: &str, day_of_week: &str) -> Result<Days, CronError> {
    match (day_of_month == "?", day_of_week == "?") {
        (true, true) => Err(invalid("only one of day-of-month and day-of-week may be ?")),
        (false, false) => Err(invalid("one of day-of-month and day-of-week must be ?")),
        (false, true) => {
            let items = day_of_month.split(',').map(parse_month_day).collect::<Result<_, _>>()?;
            Ok(Days::OfMonth(items))
        }
        (true, false) => {
            let items = day_of_week.split(',').map(parse_week_day).collect::<Result<_, _>>()?;
            Ok(Days::OfWeek(items))
        }
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (next_year, next_month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    NaiveDate::from_ymd_opt(next_year, next_month, 1)
        .and_then(|first| first.pred_opt())
        .map_or(28, |last| last.day())
}

/// 1-7 = SUN-SAT, as EventBridge numbers days of the week.
fn week_day_number(weekday: Weekday) -> u32 {
    weekday.num_days_from_sunday() + 1
}

/// Finds the weekday nearest to `day` without leaving the month; `None` past the month's end.
fn nearest_weekday(year: i32, month: u32, day: u32, last: u32) -> Option<u32> {
    if day > last {
        return None;
    }
    let weekday = NaiveDate::from_ymd_opt(year, month, day)?.weekday();
    Some(match weekday {
        Weekday::Sat if day == 1 => 3,
        Weekday::Sat => day - 1,
        Weekday::Sun if day == last => day - 2,
        Weekday::Sun => day + 1,
        _ => day,
    })
}

impl MonthDay {
    fn matches(&self, date: NaiveDate, last: u32) -> bool {
        let (year, month, day) = (date.year(), date.month(), date.day());
        match self {
            MonthDay::Days(set) => set.contains(day),
            MonthDay::Last => day == last,
            MonthDay::LastWeekday => nearest_weekday(year, month, last, last) == Some(day),
            MonthDay::NearestWeekday(target) => nearest_weekday(year, month, *target, last) == Some(day),
        }
    }
}

impl WeekDay {
    fn matches(&self, date: NaiveDate, last: u32) -> bool {
        let weekday = week_day_number(date.weekday());
        match self {
            WeekDay::Days(set) => set.contains(weekday),
            WeekDay::LastOfMonth(target) => weekday == *target && date.day() + 7 > last,
            WeekDay::Nth(target, nth) => weekday == *target && (date.day() - 1) / 7 + 1 == *nth,
        }
    }
}

impl Cron {
    /// Parses the six fields inside `cron(...)`.
    pub fn parse(fields: &str) -> Result<Self, CronError> {
        let parts: Vec<&str> = fields.split_whitespace().collect();
        let [minutes, hours, day_of_month, month, day_of_week, year] = parts[..] else {
            return Err(invalid(format!(
                "expected 6 fields (minutes hours day-of-month month day-of-week year), found {}",
                parts.len()
            )));
        };
        Ok(Self {
            minutes: MINUTES.parse(minutes)?,
            hours: HOURS.parse(hours)?,
            days: parse_days(day_of_month, day_of_week)?,
            months: MONTH.parse(month)?,
            years: YEAR.parse(year)?,
        })
    }

    fn matches_date(&self, date: NaiveDate) -> bool {
        let last = days_in_month(date.year(), date.month());
        match &self.days {
            Days::OfMonth(items) => items.iter().any(|item| item.matches(date, last)),
            Days::OfWeek(items) => items.iter().any(|item| item.matches(date, last)),
        }
    }

    /// Finds the first matching minute of `date` at or after `from_minute` (minutes since midnight).
    fn first_time_on(&self, date: NaiveDate, from_minute: u32) -> Option<DateTime<Utc>> {
        let (from_hour, from_min) = (from_minute / 60, from_minute % 60);
        for hour in from_hour..24 {
            if !self.hours.contains(hour) {
                continue;
            }
            let start = if hour == from_hour { from_min } else { 0 };
            if let Some(minute) = (start..60).find(|minute| self.minutes.contains(*minute)) {
                let time = date.and_hms_opt(hour, minute, 0)?;
                return Some(Utc.from_utc_datetime(&time));
            }
        }
        None
    }

    /// Computes the first scheduled time strictly after `after`. Returns `None` if none is left
    /// before the end of year 2199.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = after.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
        let mut date = start.date_naive();
        let mut from_minute = start.hour() * 60 + start.minute();
        while date.year() as u32 <= YEAR_MAX {
            let year = date.year() as u32;
            if !self.years.contains(year) {
                date = NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)?;
                from_minute = 0;
                continue;
            }
            if !self.months.contains(date.month()) {
                date = first_of_next_month(date)?;
                from_minute = 0;
                continue;
            }
            if self.matches_date(date) {
                if let Some(time) = self.first_time_on(date, from_minute) {
                    return Some(time);
                }
            }
            date = date.succ_opt()?;
            from_minute = 0;
        }
        None
    }

    /// Computes the latest scheduled time in `(after, now]`, or `None` if there is none. It
    /// searches back from `now` in doubling windows, so that a dense schedule after a long gap
    /// costs about as many steps as a sparse one.
    pub fn latest_in(&self, after: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.next_after(after)? > now {
            return None;
        }
        let mut window = Duration::hours(1);
        let from = loop {
            let from = (now - window).max(after);
            if from == after || self.next_after(from).is_some_and(|time| time <= now) {
                break from;
            }
            window = window * 2;
        };
        let mut latest = self.next_after(from)?;
        while let Some(time) = self.next_after(latest).filter(|time| *time <= now) {
            latest = time;
        }
        Some(latest)
    }
}

fn first_of_next_month(date: NaiveDate) -> Option<NaiveDate> {
    if date.month() == 12 {
        NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn next(expression: &str, after: &str) -> String {
        let cron = Cron::parse(expression).unwrap();
        cron.next_after(at(after)).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    fn series(expression: &str, after: &str, count: usize) -> Vec<String> {
        let cron = Cron::parse(expression).unwrap();
        let mut time = at(after);
        let mut times = Vec::new();
        for _ in 0..count {
            time = cron.next_after(time).unwrap();
            times.push(time.format("%Y-%m-%d %H:%M").to_string());
        }
        times
    }

    #[test]
    fn daily_noon() {
        assert_eq!(next("0 12 * * ? *", "2026-12-04T11:59:59Z"), "2026-12-04T12:00:00Z");
        assert_eq!(next("0 12 * * ? *", "2026-12-04T12:00:00Z"), "2026-12-05T12:00:00Z");
    }

    #[test]
    fn steps_and_lists() {
        assert_eq!(
            series("0/15 * * * ? *", "2026-12-04T10:50:00Z", 3),
            ["2026-12-04 11:00", "2026-12-04 11:15", "2026-12-04 11:30"]
        );
        assert_eq!(
            series("5,10 8-9 * * ? *", "2026-12-04T08:07:00Z", 3),
            ["2026-12-04 08:10", "2026-12-04 09:05", "2026-12-04 09:10"]
        );
    }

    #[test]
    fn last_day_of_month_and_leap_years() {
        assert_eq!(
            series("0 0 L * ? *", "2027-12-31T12:00:00Z", 3),
            ["2028-01-31 00:00", "2028-02-29 00:00", "2028-03-31 00:00"]
        );
        assert_eq!(next("0 0 L 2 ? *", "2026-03-01T00:00:00Z"), "2027-02-28T00:00:00Z");
        assert_eq!(next("0 0 29 2 ? *", "2026-01-01T00:00:00Z"), "2028-02-29T00:00:00Z");
        assert_eq!(next("0 0 29 2 ? *", "2099-03-01T00:00:00Z"), "2104-02-29T00:00:00Z");
    }

    #[test]
    fn day_31_skips_short_months() {
        assert_eq!(
            series("0 0 31 * ? *", "2026-01-31T00:00:00Z", 2),
            ["2026-03-31 00:00", "2026-05-31 00:00"]
        );
    }

    #[test]
    fn last_weekday_of_month() {
        // 2026-05-31 is a Sunday, so the last weekday is Friday 29th.
        assert_eq!(next("0 9 LW * ? *", "2026-05-01T00:00:00Z"), "2026-05-29T09:00:00Z");
        // 2026-06-30 is a Tuesday.
        assert_eq!(next("0 9 LW * ? *", "2026-06-01T00:00:00Z"), "2026-06-30T09:00:00Z");
    }

    #[test]
    fn nearest_weekday_stays_in_month() {
        // 2026-08-01 is a Saturday: 1W moves forward to Monday the 3rd, not back to July.
        assert_eq!(next("0 0 1W * ? *", "2026-07-15T00:00:00Z"), "2026-08-03T00:00:00Z");
        // 2026-11-15 is a Sunday: 15W is Monday the 16th.
        assert_eq!(next("0 0 15W * ? *", "2026-11-01T00:00:00Z"), "2026-11-16T00:00:00Z");
        // 2026-02-28 is a Saturday: 28W is Friday the 27th.
        assert_eq!(next("0 0 28W * ? *", "2026-02-01T00:00:00Z"), "2026-02-27T00:00:00Z");
        // 2026-05-31 is a Sunday and the month's last day: 31W is Friday the 29th.
        assert_eq!(next("0 0 31W * ? *", "2026-05-01T00:00:00Z"), "2026-05-29T00:00:00Z");
    }

    #[test]
    fn nth_day_of_week() {
        // Second Tuesday of each month.
        assert_eq!(
            series("0 10 ? * 3#2 *", "2026-12-01T00:00:00Z", 2),
            ["2026-12-08 10:00", "2027-01-12 10:00"]
        );
        // A fifth Friday exists only in some months: 2027-01-29, then 2027-04-30.
        assert_eq!(
            series("0 0 ? * FRI#5 *", "2027-01-01T00:00:00Z", 2),
            ["2027-01-29 00:00", "2027-04-30 00:00"]
        );
    }

    #[test]
    fn last_day_of_week_in_month() {
        // Last Friday: 2026-12-25, then 2027-01-29.
        assert_eq!(
            series("0 0 ? * 6L *", "2026-12-01T00:00:00Z", 2),
            ["2026-12-25 00:00", "2027-01-29 00:00"]
        );
        // `L` alone in day-of-week is Saturday.
        assert_eq!(next("0 0 ? * L *", "2026-12-04T00:00:00Z"), "2026-12-05T00:00:00Z");
    }

    #[test]
    fn week_day_numbers_start_on_sunday() {
        // 2026-12-04 is a Friday; 1 is Sunday and 2-6 MON-FRI.
        assert_eq!(next("0 0 ? * 1 *", "2026-12-04T00:00:00Z"), "2026-12-06T00:00:00Z");
        assert_eq!(
            series("0 8 ? * MON-FRI *", "2026-12-04T09:00:00Z", 2),
            ["2026-12-07 08:00", "2026-12-08 08:00"]
        );
        assert_eq!(Cron::parse("0 8 ? * mon-fri *").unwrap(), Cron::parse("0 8 ? * 2-6 *").unwrap());
    }

    #[test]
    fn year_field_limits_the_schedule() {
        assert_eq!(next("0 0 1 JAN ? 2028-2029", "2026-06-01T00:00:00Z"), "2028-01-01T00:00:00Z");
        let cron = Cron::parse("0 0 1 1 ? 2027").unwrap();
        assert_eq!(cron.next_after(at("2027-01-01T00:00:00Z")), None);
    }

    #[test]
    fn invalid_expressions_are_rejected() {
        for (expression, fragment) in [
            ("0 12 * * * *", "must be ?"),
            ("0 12 ? * ? *", "only one"),
            ("0 12 * * ?", "expected 6 fields"),
            ("60 12 * * ? *", "minutes value 60"),
            ("0 24 * * ? *", "hours value 24"),
            ("0 0 32 * ? *", "day-of-month value 32"),
            ("0 0 ? * 8 *", "day-of-week value 8"),
            ("0 0 ? * 0 *", "day-of-week value 0"),
            ("0 0 1 13 ? *", "month value 13"),
            ("0 0 1 1 ? 1969", "year value 1969"),
            ("0 0 ? * 2#6 *", "occurrence"),
            ("*/0 0 * * ? *", "step"),
            ("0 5-1 * * ? *", "backwards"),
            ("0 0 1 FOO ? *", "\"FOO\""),
        ] {
            let err = Cron::parse(expression).unwrap_err().to_string();
            assert!(err.contains(fragment), "{expression}: {err}");
        }
    }

    /// Checks one minute against every field, independently of `next_after`.
    fn matches(cron: &Cron, time: DateTime<Utc>) -> bool {
        cron.minutes.contains(time.minute())
            && cron.hours.contains(time.hour())
            && cron.months.contains(time.month())
            && cron.years.contains(time.year() as u32)
            && cron.matches_date(time.date_naive())
    }

    #[test]
    fn next_after_agrees_with_minute_by_minute_search() {
        let expressions = [
            "*/7 * * * ? *",
            "0 */5 ? * MON-FRI *",
            "30 9 L * ? *",
            "0 9 LW * ? *",
            "0 9 1W,15W * ? *",
            "15 10 ? * 3#2 *",
            "45 18 ? * 6L *",
            "0 0 29 2 ? *",
        ];
        // A fixed linear congruential sequence of start times in 2024-2031, so that failures
        // repeat.
        let mut state: u64 = 0x5eed;
        for expression in expressions {
            let cron = Cron::parse(expression).unwrap();
            for _ in 0..25 {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let offset_minutes = (state >> 33) % (8 * 365 * 24 * 60);
                let start = at("2024-01-01T00:00:00Z") + Duration::minutes(offset_minutes as i64);
                let expected = (1..=5 * 366 * 24 * 60)
                    .map(|step| start + Duration::minutes(step))
                    .find(|time| matches(&cron, *time));
                assert_eq!(cron.next_after(start), expected, "{expression} after {start}");
            }
        }
    }

    #[test]
    fn latest_in_collapses_missed_ticks() {
        let cron = Cron::parse("* * * * ? *").unwrap();
        let latest = cron.latest_in(at("2026-01-01T00:00:00Z"), at("2026-12-04T12:34:56Z"));
        assert_eq!(latest, Some(at("2026-12-04T12:34:00Z")));
        let yearly = Cron::parse("0 0 1 1 ? *").unwrap();
        let latest = yearly.latest_in(at("2020-06-01T00:00:00Z"), at("2026-12-04T12:00:00Z"));
        assert_eq!(latest, Some(at("2026-01-01T00:00:00Z")));
        assert_eq!(yearly.latest_in(at("2026-01-01T00:00:00Z"), at("2026-12-04T12:00:00Z")), None);
    }
}
