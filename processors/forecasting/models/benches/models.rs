//! `auto` with holdout over all seven registry models, 365-day series,
//! horizon 28 with a 95% interval: the per-series cost behind the
//! 100,000-series target (compare with statsforecast on the same shapes).
#![allow(missing_docs)] // criterion_group! generates an undocumented public function.

use std::hint::black_box;

use composerp_forecast_models::{Daily, Selection, choose, registry};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SERIES: usize = 1_000;
const DAYS: usize = 365;
const HORIZON: usize = 28;

/// A mix of smooth weekly, intermittent and lumpy series with a few stock-outs.
fn series() -> Vec<(Vec<f64>, Vec<bool>)> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..SERIES)
        .map(|s| {
            let mut y = Vec::with_capacity(DAYS);
            let mut c = Vec::with_capacity(DAYS);
            for d in 0..DAYS {
                let u = next();
                let v = match s % 3 {
                    0 => (20.0 * (1.0 + 0.3 * ((d % 7) as f64 - 3.0) / 3.0) + 8.0 * u).round(),
                    1 => {
                        if u < 0.3 {
                            (1.0 + 6.0 * next()).round()
                        } else {
                            0.0
                        }
                    }
                    _ => {
                        if u < 0.1 {
                            (1.0 + 40.0 * next() * next()).round()
                        } else {
                            0.0
                        }
                    }
                };
                y.push(v);
                c.push(next() < 0.01);
            }
            (y, c)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let data = series();
    let candidates = registry();
    let mut g = c.benchmark_group("auto_holdout");
    g.throughput(Throughput::Elements(SERIES as u64));
    g.bench_function("7_models_365d_h28_95", |b| {
        b.iter(|| {
            for (y, cens) in &data {
                let d = Daily::new(y, cens);
                let choice = choose(
                    &candidates,
                    Selection::Holdout { days: HORIZON },
                    &d,
                    HORIZON,
                    Some(95.0),
                )
                .expect("365 days fit every model");
                black_box(choice.prediction.mean[0]);
            }
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
