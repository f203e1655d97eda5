//! Forecasting speed (BENCHMARKS.md, `deploy/bench/forecast.sh`), one process on this machine:
//!
//! 1. Models: `auto` (holdout MAE over the seven models, refit) on N series × 365 days, horizon
//!    28 with a 95 % interval, on one thread. The series and six models' point forecasts of the
//!    first 1,000 series are written to `FORECAST_OUT` for the statsforecast peer.
//! 2. End of day: N item-locations whose 365-day histories were backfilled into the forecasting
//!    processor (182 days kept), then one local day closes for all of them.
//! 3. No stall: the ledger's and the demand-features processor's sale lines per second, each on
//!    its own thread, before and during (2).
//! 4. State per item-location at 182 days, for both processors (postcard bytes).
//! 5. Backfill: sale lines per second from a Parquet file to the seeded state.
//!
//! `FORECAST_SERIES` (default 100,000) sets N. Prints one JSON object.
#![allow(missing_docs)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use composerp_events::{
    Date, EventId, Money, Timestamp,
    forecasting::{DemandHistorySeeded, ForecastGenerated},
    pos::{SaleCompleted, SaleLine, SaleLineType},
    samples,
};
use composerp_forecast_backfill::{HistoryLine, daily_demand, history_file, seeds};
use composerp_forecast_models::{
    daily::Daily,
    model::{ForecastModel, by_name, registry},
    select::{Selection, choose},
};
use composerp_forecasting::{
    DemandFeatures, Forecasting, intake::DemandInput, settings::Settings, zone,
};
use composerp_ledger::{InventoryLedger, LedgerInput};
use composerp_runtime::driver::TestDriver;

const DAYS: usize = 365;
const DAY: i64 = 86_400_000_000;
/// First day of the histories (2024-01-01).
const FIRST: i32 = 19_723;
const ITEMS_PER_LOCATION: usize = 2_000;

/// xorshift: the same series on every run and in the peer.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A third weekly smooth sellers, a third intermittent, a third lumpy.
fn series(n: usize) -> Vec<Vec<f64>> {
    let weekly = [0.85, 0.8, 0.9, 0.95, 1.15, 1.45, 0.9];
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    (0..n)
        .map(|i| {
            let base = 1.0 + 12.0 * r.unit();
            (0..DAYS)
                .map(|d| match i % 3 {
                    0 => (base * weekly[d % 7] + (r.unit() - 0.5) * base)
                        .round()
                        .max(0.0),
                    1 => {
                        if r.unit() < 0.25 {
                            (1 + r.next() % 4) as f64
                        } else {
                            0.0
                        }
                    }
                    _ => {
                        if r.unit() < 0.15 {
                            (1 + r.next() % 20) as f64
                        } else {
                            0.0
                        }
                    }
                })
                .collect()
        })
        .collect()
}

fn models_run(all: &[Vec<f64>]) -> f64 {
    let models = registry();
    let started = Instant::now();
    let mut sum = 0.0;
    for y in all {
        let c = choose(
            &models,
            Selection::Holdout { days: 28 },
            &Daily::new(y, &[]),
            28,
            Some(95.0),
        )
        .expect("fits");
        sum += c.prediction.mean[0];
    }
    std::hint::black_box(sum);
    started.elapsed().as_secs_f64()
}

/// Six models whose conventions statsforecast shares, fitted on the first 1,000 series: seven
/// point forecasts each (flat models repeat one).
fn peer_points(all: &[Vec<f64>]) -> Vec<f64> {
    let specs: [(&str, serde_json::Value); 6] = [
        ("WindowAverage", serde_json::json!({"window": 28})),
        ("SES", serde_json::json!({"alpha": 0.2})),
        ("SeasonalNaive", serde_json::json!({"season_length": 7})),
        ("Croston", serde_json::json!({"alpha": 0.1})),
        ("SBA", serde_json::json!({"alpha": 0.1})),
        ("TSB", serde_json::json!({"alpha_d": 0.1, "alpha_p": 0.1})),
    ];
    let models: Vec<Box<dyn ForecastModel>> = specs
        .iter()
        .map(|(n, p)| by_name(n, p).expect("model"))
        .collect();
    let mut out = Vec::new();
    for y in all.iter().take(1_000) {
        for m in &models {
            let p = m.forecast(&Daily::new(y, &[]), 7, None).expect("fits");
            out.extend_from_slice(&p.mean);
        }
    }
    out
}

fn write_f64(path: &std::path::Path, values: impl Iterator<Item = f64>) {
    let bytes: Vec<u8> = values.flat_map(f64::to_le_bytes).collect();
    std::fs::write(path, bytes).expect("write");
}

fn histories(all: &[Vec<f64>]) -> Vec<DemandHistorySeeded> {
    let as_of = FIRST + DAYS as i32 - 1;
    all.iter()
        .enumerate()
        .map(|(i, y)| {
            let (location, item) = (
                format!("s{:03}", i / ITEMS_PER_LOCATION),
                format!("i{i:06}"),
            );
            let mut h = samples::demand_history_seeded();
            h.event_id = EventId::from_name(&format!("bench-history-{i}"));
            h.location_id = location;
            h.item_id = item;
            h.timezone = "UTC".into();
            h.first_date = Date(FIRST);
            h.as_of_date = Date(as_of);
            h.occurred_at = zone::end_of_day(chrono_tz::UTC, as_of);
            h.demand = y.iter().map(|&v| v as i64).collect();
            h.censored_dates = Vec::new();
            h.last_sale_date = y
                .iter()
                .rposition(|&v| v > 0.0)
                .map(|d| Date(FIRST + d as i32));
            h
        })
        .collect()
}

/// One sale per location, late on the day after the histories: it closes that day everywhere.
fn closing_sales(locations: usize) -> Vec<DemandInput> {
    let day = i64::from(FIRST) + DAYS as i64 + 1;
    (0..locations)
        .map(|l| {
            let mut s: SaleCompleted = samples::sale_completed(1);
            s.event_id = EventId::from_name(&format!("bench-close-{l}"));
            s.store_id = format!("s{l:03}");
            s.occurred_at = Timestamp(day * DAY + 2 * 3_600_000_000);
            s.lines[0].item_id = format!("i{:06}", l * ITEMS_PER_LOCATION);
            s.lines[0].reservation_id = None;
            DemandInput::Sale(s)
        })
        .collect()
}

fn receipts(n: usize) -> Vec<LedgerInput> {
    let mut r = Rng(0x2545_F491_4F6C_DD1D);
    (0..n)
        .map(|k| {
            let mut s: SaleCompleted = samples::sale_completed(0);
            s.event_id = EventId::from_name(&format!("bench-ledger-{k}"));
            s.store_id = format!("s{:03}", r.next() % 25);
            s.occurred_at = Timestamp(s.occurred_at.0 + k as i64 * 1_000_000);
            s.lines = (0..3)
                .map(|i| SaleLine {
                    line_number: i + 1,
                    item_id: format!("i{:05}", r.next() % 2_000),
                    line_type: SaleLineType::SALE,
                    quantity: 1 + (r.next() % 3) as i64,
                    unit_price: Money(24_900),
                    discount: Money::ZERO,
                    return_condition: None,
                    reservation_id: None,
                })
                .collect();
            LedgerInput::Sale(s)
        })
        .collect()
}

/// Sale lines per second of the ledger in 250 ms windows until `stop`, with each window's end.
fn ledger_rates(stop: Arc<AtomicBool>, started: Instant) -> Vec<(f64, f64)> {
    let d = TestDriver::new(InventoryLedger);
    rates(d, receipts(400_000), stop, started)
}

/// The same for the demand-features processor, on other stores than the end of day's, within
/// one day (so its own days do not close).
fn features_rates(stop: Arc<AtomicBool>, started: Instant) -> Vec<(f64, f64)> {
    let d = TestDriver::new(DemandFeatures::new(Settings::default()));
    let day = (i64::from(FIRST) + DAYS as i64 + 5) * DAY;
    let all = receipts(400_000)
        .into_iter()
        .enumerate()
        .filter_map(|(k, r)| match r {
            LedgerInput::Sale(mut s) => {
                s.store_id = format!("x{}", s.store_id);
                s.occurred_at = Timestamp(day + (k as i64 % 3_600) * 1_000_000);
                Some(DemandInput::Sale(s))
            }
            _ => None,
        })
        .collect();
    rates(d, all, stop, started)
}

/// Sale lines (three a receipt) per second of `d` over `all`, in 250 ms windows until `stop`.
fn rates<P: composerp_runtime::processor::Processor>(
    mut d: TestDriver<P>,
    all: Vec<P::Input>,
    stop: Arc<AtomicBool>,
    started: Instant,
) -> Vec<(f64, f64)>
where
    P::Input: Clone,
{
    let mut rates = Vec::new();
    let (mut window, mut lines) = (Instant::now(), 0usize);
    for chunk in all.chunks(500).cycle() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        d.pipe(chunk.to_vec());
        d.commit();
        lines += chunk.len() * 3;
        if window.elapsed() >= Duration::from_millis(250) {
            rates.push((
                started.elapsed().as_secs_f64(),
                lines as f64 / window.elapsed().as_secs_f64(),
            ));
            (window, lines) = (Instant::now(), 0);
        }
    }
    rates
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn state_bytes<P: composerp_runtime::processor::Processor>(d: &TestDriver<P>) -> (f64, usize) {
    let sizes: Vec<f64> = d
        .keys()
        .filter(|k| k.matches('|').count() == 2)
        .filter_map(|k| d.state(k))
        .map(|s| postcard::to_allocvec(s).map_or(0, |b| b.len()) as f64)
        .collect();
    let max = sizes.iter().copied().fold(0.0, f64::max) as usize;
    (median(sizes), max)
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("FORECAST_SERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let out = std::env::var_os("FORECAST_OUT").map(std::path::PathBuf::from);
    let all = series(n);
    if let Some(dir) = &out {
        std::fs::create_dir_all(dir).expect("out dir");
        write_f64(&dir.join("series.bin"), all.iter().flatten().copied());
        write_f64(&dir.join("rust_points.bin"), peer_points(&all).into_iter());
    }
    let models_secs = models_run(&all);

    // End of day through the processor, with the ledger streaming on another thread.
    let locations = n.div_ceil(ITEMS_PER_LOCATION);
    let mut f = TestDriver::new(Forecasting::new(Settings::default()));
    let seeded_at = Instant::now();
    f.pipe(histories(&all).into_iter().map(DemandInput::Seed));
    f.commit();
    let seed_secs = seeded_at.elapsed().as_secs_f64();
    let before = f.outputs::<ForecastGenerated>().len();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let ledger = {
        let stop = stop.clone();
        std::thread::spawn(move || ledger_rates(stop, started))
    };
    let features = {
        let stop = stop.clone();
        std::thread::spawn(move || features_rates(stop, started))
    };
    std::thread::sleep(Duration::from_secs(3));
    let eod_from = started.elapsed().as_secs_f64();
    let eod_at = Instant::now();
    f.pipe(closing_sales(locations));
    let eod_secs = eod_at.elapsed().as_secs_f64();
    let eod_to = started.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let forecasts = f.outputs::<ForecastGenerated>().len() - before;
    // Median lines/s of the windows before the end of day, and of those within it.
    let split = |rates: &[(f64, f64)]| {
        let quiet = median(
            rates
                .iter()
                .filter(|r| r.0 < eod_from)
                .map(|r| r.1)
                .collect(),
        );
        let during = median(
            rates
                .iter()
                .filter(|r| r.0 > eod_from + 0.25 && r.0 <= eod_to)
                .map(|r| r.1)
                .collect(),
        );
        (quiet, during)
    };
    let (quiet, during) = split(&ledger.join().expect("ledger thread"));
    let (features_quiet, features_during) = split(&features.join().expect("features thread"));
    let forecasting_state = state_bytes(&f);
    drop(f);

    // Demand features: the same end of day, and its state.
    let mut d = TestDriver::new(DemandFeatures::new(Settings::default()));
    d.pipe(histories(&all).into_iter().map(DemandInput::Seed));
    let eod_at = Instant::now();
    d.pipe(closing_sales(locations));
    let features_eod_secs = eod_at.elapsed().as_secs_f64();
    let features_state = state_bytes(&d);
    drop(d);

    // Backfill: the histories as sale lines in a Parquet file, to seeded state.
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("sales.parquet");
    let lines = all
        .iter()
        .take(n.min(20_000))
        .enumerate()
        .flat_map(|(i, y)| {
            y.iter()
                .enumerate()
                .filter(|(_, v)| **v > 0.0)
                .map(move |(day, v)| HistoryLine {
                    tenant: "t1".into(),
                    location: format!("s{:03}", i / ITEMS_PER_LOCATION),
                    item: format!("i{i:06}"),
                    occurred_at: (i64::from(FIRST) + day as i64) * DAY + 43_200_000_000,
                    quantity: *v as i64,
                    line_type: "SALE",
                })
        });
    let sale_lines = history_file(&path, lines).expect("history");
    let backfill_at = Instant::now();
    let zones = Default::default();
    let rows = daily_demand(&path, &zones).await.expect("aggregates");
    let seeded = seeds(&rows, &zones, None, Timestamp(0));
    let aggregate_secs = backfill_at.elapsed().as_secs_f64();
    let mut d = TestDriver::new(DemandFeatures::new(Settings::default()));
    d.pipe(seeded.into_iter().map(DemandInput::Seed));
    d.commit();
    let backfill_secs = backfill_at.elapsed().as_secs_f64();

    println!(
        "{}",
        serde_json::json!({
            "series": n,
            "days": DAYS,
            "models_auto_secs": models_secs,
            "models_auto_us_per_series": models_secs * 1e6 / n as f64,
            "seed_secs": seed_secs,
            "eod_secs": eod_secs,
            "eod_forecasts": forecasts,
            "features_eod_secs": features_eod_secs,
            "ledger_lines_per_sec_quiet": quiet,
            "ledger_lines_per_sec_during_eod": during,
            "features_lines_per_sec_quiet": features_quiet,
            "features_lines_per_sec_during_eod": features_during,
            "forecasting_state_bytes_median_max": forecasting_state,
            "features_state_bytes_median_max": features_state,
            "backfill_sale_lines": sale_lines,
            "backfill_aggregate_secs": aggregate_secs,
            "backfill_secs": backfill_secs,
            "backfill_lines_per_sec": sale_lines as f64 / backfill_secs,
        })
    );
}
