//! The same sales history fed to the forecasting processors as events and as a file (through
//! DataFusion and the seeds) gives identical features and forecasts.

use std::path::Path;

use chrono_tz::Tz;
use composerp_events::{
    Event, EventId, Timestamp,
    catalog::Location,
    forecasting::{DemandFeaturesUpdated, DemandHistorySeeded, ForecastGenerated},
    pos::{SaleCompleted, SaleLineType},
    samples,
};
use composerp_forecast_backfill::{HistoryLine, daily_demand, history_file, seeds};
use composerp_forecasting::{
    DemandFeatures, Forecasting, intake::DemandInput, settings::Settings, tables::Zones,
};
use composerp_runtime::{driver::TestDriver, processor::Processor};

const HOUR: i64 = 3_600_000_000;
const BERLIN: &str = "Europe/Berlin";

/// Twelve weeks of sales of three items at s1 (Berlin) around the spring-forward Sunday, with
/// lines just before local midnight and returns, as (item, instant, units, line type).
fn history() -> Vec<(String, i64, i64, SaleLineType)> {
    let start = chrono::DateTime::parse_from_rfc3339("2024-02-05T00:00:00+01:00")
        .expect("start")
        .timestamp_micros();
    let mut lines = Vec::new();
    for day in 0..84i64 {
        for (k, item) in ["i1", "i2", "i3"].iter().enumerate() {
            let units = match k {
                0 => [4, 3, 3, 5, 7, 9, 2][day as usize % 7],
                1 => i64::from(day % 5 == 1) * (1 + day % 3),
                _ => i64::from(day % 9 == 0) * 6,
            };
            if units == 0 {
                continue;
            }
            // 23:30 local on odd days (the day it belongs to, whatever the UTC date).
            let local_hour = if day % 2 == 1 { 23 } else { 12 };
            let at = start + day * 24 * HOUR + local_hour * HOUR + HOUR / 2
                - if day >= 55 { HOUR } else { 0 };
            lines.push(((*item).to_owned(), at, units, SaleLineType::SALE));
            if day % 10 == 3 {
                lines.push(((*item).to_owned(), at + HOUR / 4, 1, SaleLineType::RETURN));
            }
        }
    }
    lines
}

fn driver<P: Processor<Tables = Zones, Input = DemandInput>>(p: P) -> TestDriver<P> {
    let mut d = TestDriver::new(p);
    let mut l: Location = samples::location();
    l.location_id = "s1".into();
    l.timezone = BERLIN.into();
    d.table(&l);
    d
}

fn sale(n: usize, item: &str, at: i64, units: i64, kind: SaleLineType) -> DemandInput {
    let mut s: SaleCompleted = samples::sale_completed(1);
    s.event_id = EventId::from_name(&format!("r{n}"));
    s.store_id = "s1".into();
    s.occurred_at = Timestamp(at);
    s.lines[0].item_id = item.into();
    s.lines[0].quantity = units;
    s.lines[0].line_type = kind;
    s.lines[0].reservation_id = None;
    DemandInput::Sale(s)
}

/// The outputs of type `E` as of `day`, with the wall-clock field cleared.
fn as_of<E: Event + Clone>(
    outputs: Vec<E>,
    day: impl Fn(&E) -> i32,
    last: i32,
    clear: impl Fn(&mut E),
) -> Vec<E> {
    let mut out: Vec<E> = outputs.into_iter().filter(|e| day(e) == last).collect();
    out.iter_mut().for_each(clear);
    out
}

async fn seeded(path: &Path) -> Vec<DemandHistorySeeded> {
    let zones = [(
        ("t1".to_owned(), "s1".to_owned()),
        BERLIN.parse::<Tz>().expect("zone"),
    )]
    .into_iter()
    .collect();
    let rows = daily_demand(path, &zones).await.expect("aggregates");
    seeds(&rows, &zones, None, Timestamp(0))
}

fn stream<P: Processor<Tables = Zones, Input = DemandInput>>(p: P) -> TestDriver<P> {
    let mut d = driver(p);
    let lines = history();
    let last = lines.iter().map(|l| l.1).max().unwrap_or(0);
    let mut inputs: Vec<DemandInput> = lines
        .iter()
        .enumerate()
        .map(|(n, (item, at, units, kind))| sale(n, item, *at, *units, *kind))
        .collect();
    // Another item's sale a day later closes the last day of the history.
    inputs.push(sale(
        99_999,
        "other",
        last + 24 * HOUR,
        1,
        SaleLineType::SALE,
    ));
    d.pipe(inputs);
    d
}

fn batch<P: Processor<Tables = Zones, Input = DemandInput>>(
    p: P,
    seeds: &[DemandHistorySeeded],
) -> TestDriver<P> {
    let mut d = driver(p);
    d.pipe(seeds.iter().cloned().map(DemandInput::Seed));
    d
}

fn write(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("sales.parquet");
    let lines = history()
        .into_iter()
        .map(|(item, at, units, kind)| HistoryLine {
            tenant: "t1".into(),
            location: "s1".into(),
            item,
            occurred_at: at,
            quantity: units,
            line_type: if kind == SaleLineType::SALE {
                "SALE"
            } else {
                "RETURN"
            },
        });
    history_file(&path, lines).expect("writes");
    path
}

#[tokio::test]
async fn features_and_forecasts_from_the_file_equal_those_from_the_stream() {
    let dir = tempfile::tempdir().expect("dir");
    let seeds = seeded(&write(dir.path())).await;
    assert_eq!(seeds.len(), 3);
    let last = seeds[0].as_of_date.0;
    assert!(seeds.iter().all(|s| s.as_of_date.0 == last));

    let day = |f: &DemandFeaturesUpdated| f.as_of_date.0;
    let clear = |f: &mut DemandFeaturesUpdated| f.produced_at = Timestamp(0);
    let from_stream = as_of(
        stream(DemandFeatures::new(Settings::default())).outputs(),
        day,
        last,
        clear,
    );
    let from_file = as_of(
        batch(DemandFeatures::new(Settings::default()), &seeds).outputs(),
        day,
        last,
        clear,
    );
    assert_eq!(from_stream.len(), 3);
    assert_eq!(from_file, from_stream);

    let day = |f: &ForecastGenerated| f.as_of_date.0;
    let clear = |f: &mut ForecastGenerated| f.produced_at = Timestamp(0);
    let from_stream = as_of(
        stream(Forecasting::new(Settings::default())).outputs(),
        day,
        last,
        clear,
    );
    let from_file = as_of(
        batch(Forecasting::new(Settings::default()), &seeds).outputs(),
        day,
        last,
        clear,
    );
    assert_eq!(from_stream.len(), 3);
    assert_eq!(from_file, from_stream);
}

#[tokio::test]
async fn csv_and_parquet_give_the_same_local_days_and_leave_returns_out() {
    let dir = tempfile::tempdir().expect("dir");
    let parquet = write(dir.path());
    let csv = dir.path().join("sales.csv");
    let mut text = String::from("tenant_id,location_id,item_id,occurred_at,quantity,line_type\n");
    for (item, at, units, kind) in history() {
        let at = chrono::DateTime::from_timestamp_micros(at).expect("instant");
        let kind = if kind == SaleLineType::SALE {
            "SALE"
        } else {
            "RETURN"
        };
        text.push_str(&format!(
            "t1,s1,{item},{},{units},{kind}\n",
            at.to_rfc3339()
        ));
    }
    std::fs::write(&csv, text).expect("csv");
    let zones = [(
        ("t1".to_owned(), "s1".to_owned()),
        BERLIN.parse::<Tz>().expect("zone"),
    )]
    .into_iter()
    .collect();
    let from_parquet = daily_demand(&parquet, &zones).await.expect("parquet");
    let from_csv = daily_demand(&csv, &zones).await.expect("csv");
    assert_eq!(from_parquet, from_csv);
    let units: i64 = from_parquet.iter().map(|r| r.units).sum();
    let sold: i64 = history()
        .iter()
        .filter(|l| l.3 == SaleLineType::SALE)
        .map(|l| l.2)
        .sum();
    assert_eq!(units, sold, "returns are not netted");
    // 23:30 local on 2024-03-31 (the 23-hour Sunday) is that Sunday, not 1 April.
    let sunday = composerp_forecasting::zone::day_of(
        BERLIN.parse().expect("zone"),
        Timestamp(
            chrono::DateTime::parse_from_rfc3339("2024-03-31T23:30:00+02:00")
                .expect("t")
                .timestamp_micros(),
        ),
    );
    assert!(
        from_parquet
            .iter()
            .any(|r| r.day == sunday && r.item == "i1")
    );
}
