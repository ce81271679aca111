//! Timestamps in the formats Lambda uses on the wire.

use chrono::{DateTime, Utc};

/// Formats a time as `LastModified` is sent: `2026-12-04T10:00:00.000+0000`.
pub fn last_modified(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// The current time as a `LastModified` value.
pub fn now_last_modified() -> String {
    last_modified(Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn last_modified_has_milliseconds_and_offset() {
        let at = Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap();
        assert_eq!(last_modified(at), "2026-12-04T10:00:00.000+0000");
    }
}
