//! The shared reference cases' time-zone bucketing: an instant's local day in an IANA zone,
//! across daylight-saving changes and far from UTC (the same fixture file the models test).

use chrono::NaiveDate;
use composerp_events::Timestamp;
use composerp_forecasting::zone;

#[derive(serde::Deserialize)]
struct Case {
    utc: String,
    tz: String,
    local_date: NaiveDate,
}

#[derive(serde::Deserialize)]
struct Fixture {
    bucketing_cases: Vec<Case>,
}

#[test]
fn every_bucketing_case_lands_on_its_local_day() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/tests/fixtures/forecast_cases.json"
    );
    let text = std::fs::read_to_string(path).expect("fixture");
    let fixture: Fixture = serde_json::from_str(&text).expect("fixture parses");
    assert!(!fixture.bucketing_cases.is_empty());
    for c in &fixture.bucketing_cases {
        let at = chrono::DateTime::parse_from_rfc3339(&c.utc).expect("instant");
        let tz = zone::parse(&c.tz).expect("IANA zone");
        let day = zone::day_of(tz, Timestamp(at.timestamp_micros()));
        assert_eq!(zone::date(day), c.local_date, "{} in {}", c.utc, c.tz);
    }
}
