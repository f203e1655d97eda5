//! Local days of a location: the calendar date of an instant in the location's IANA zone, and
//! the instant a local day ends (the next local midnight), across daylight-saving changes.
//!
//! Days are numbered as days since 1970-01-01, like the Avro `date` type.

use chrono::{Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use composerp_events::{Date, Timestamp};

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("1970-01-01 is a date");

/// The local day (days since 1970-01-01) of `at` in `zone`.
pub fn day_of(zone: Tz, at: Timestamp) -> i32 {
    let utc = Utc
        .timestamp_micros(at.0)
        .single()
        .unwrap_or_else(|| Utc.timestamp_micros(0).single().unwrap_or_default());
    let local = utc.with_timezone(&zone).date_naive();
    local.signed_duration_since(EPOCH).num_days() as i32
}

/// The calendar date of day number `day`.
pub fn date(day: i32) -> NaiveDate {
    Date(day).to_naive()
}

/// The instant local day `day` ends in `zone`: the first instant of the next local day. Where a
/// daylight-saving change skips local midnight, the day ends at the first local time that
/// exists after it; where midnight happens twice, at the first.
pub fn end_of_day(zone: Tz, day: i32) -> Timestamp {
    let next = date(day)
        .checked_add_days(Days::new(1))
        .unwrap_or(NaiveDate::MAX);
    let mut local = next.and_time(NaiveTime::MIN);
    // A gap is at most a few hours long; step through it a quarter hour at a time.
    for _ in 0..(4 * 24) {
        if let Some(t) = zone.from_local_datetime(&local).earliest() {
            return Timestamp(t.with_timezone(&Utc).timestamp_micros());
        }
        local += chrono::Duration::minutes(15);
    }
    Timestamp(next.and_time(NaiveTime::MIN).and_utc().timestamp_micros())
}

/// The zone named `name`, or UTC when the name is not an IANA zone.
pub fn parse(name: &str) -> Option<Tz> {
    name.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp(
            chrono::DateTime::parse_from_rfc3339(s)
                .expect("test instant")
                .timestamp_micros(),
        )
    }

    fn day(s: &str) -> i32 {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .expect("test date")
            .signed_duration_since(EPOCH)
            .num_days() as i32
    }

    #[test]
    fn berlin_spring_forward_day_is_23_hours_and_2330_belongs_to_it() {
        let berlin: Tz = "Europe/Berlin".parse().expect("zone");
        // The last Sunday of March 2024: clocks jump from 02:00 to 03:00.
        let d = day("2024-03-31");
        let start = end_of_day(berlin, d - 1);
        let end = end_of_day(berlin, d);
        assert_eq!(end.0 - start.0, 23 * 3_600_000_000);
        // 23:30 local (CEST, UTC+2) is 21:30 UTC.
        assert_eq!(day_of(berlin, at("2024-03-31T21:30:00Z")), d);
        assert_eq!(day_of(berlin, at("2024-03-31T22:00:00Z")), d + 1);
    }

    #[test]
    fn new_york_fall_back_day_is_25_hours_and_0030_the_day_after_is_the_next_day() {
        let ny: Tz = "America/New_York".parse().expect("zone");
        let d = day("2024-11-03");
        assert_eq!(
            end_of_day(ny, d).0 - end_of_day(ny, d - 1).0,
            25 * 3_600_000_000
        );
        // 00:30 EST on 4 November is 05:30 UTC.
        assert_eq!(day_of(ny, at("2024-11-04T05:30:00Z")), d + 1);
        assert_eq!(day_of(ny, at("2024-11-04T04:59:59Z")), d);
    }

    #[test]
    fn a_zone_that_skips_midnight_ends_its_day_at_the_first_time_that_exists() {
        // Santiago moved clocks from 00:00 to 01:00 on 2024-09-08.
        let santiago: Tz = "America/Santiago".parse().expect("zone");
        let end = end_of_day(santiago, day("2024-09-07"));
        assert_eq!(end, at("2024-09-08T04:00:00Z"));
        assert_eq!(day_of(santiago, end), day("2024-09-08"));
    }
}
