//! Checks every reference case in `fixtures/forecast_cases.json` (a verbatim
//! copy of the shared reference file, generated with statsforecast,
//! statsmodels, utilsforecast and pandas): forecasts, σ, 80/95 intervals,
//! metrics, classification, features, holdout selection and class edges.
//! Bucketing cases are time-zone rules, tested where days are bucketed.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use composerp_forecast_models::{
    Classification, Daily, DemandClass, ForecastModel, Selection, accuracy, by_name, choose,
    classify, features, mase_scale, rmsse_scale,
};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
    selection_cases: Vec<SelectionCase>,
    classification_cases: Vec<ClassificationCase>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    start_date: NaiveDate,
    series: Vec<f64>,
    censored_days: Vec<usize>,
    horizon: usize,
    model: String,
    params: Value,
    expected: Expected,
    actuals: Vec<f64>,
    metrics: Metrics,
    classification: Classification,
    features_at_end: FeaturesAtEnd,
}

#[derive(Deserialize)]
struct Expected {
    forecast: Vec<f64>,
    sigma: Option<f64>,
    intervals: Option<BTreeMap<String, Bounds>>,
}

#[derive(Deserialize)]
struct Bounds {
    lo: Vec<f64>,
    hi: Vec<f64>,
}

#[derive(Deserialize)]
struct Metrics {
    mae: f64,
    rmse: f64,
    bias: f64,
    wape: Option<f64>,
    scale_m1: f64,
    mase_m1: Option<f64>,
    scale_m7: f64,
    mase_m7: Option<f64>,
    rmsse_scale_m1: f64,
    rmsse_m1: Option<f64>,
}

#[derive(Deserialize)]
struct FeaturesAtEnd {
    ewma_alpha: f64,
    days_7: u32,
    sum_7: f64,
    mean_7: Option<f64>,
    std_7: Option<f64>,
    days_28: u32,
    sum_28: f64,
    mean_28: Option<f64>,
    std_28: Option<f64>,
    days_91: u32,
    sum_91: f64,
    mean_91: Option<f64>,
    std_91: Option<f64>,
    zero_fraction_28: Option<f64>,
    ewma: Option<f64>,
    days_since_last_sale: Option<u32>,
    dow_profile_91: [f64; 7],
    adi_91: Option<f64>,
    cv2_91: Option<f64>,
    class_91: DemandClass,
}

#[derive(Deserialize)]
struct SelectionCase {
    name: String,
    series: Vec<f64>,
    holdout: usize,
    horizon: usize,
    candidates: Vec<Candidate>,
    selected_index: usize,
    expected_forecast: Vec<f64>,
}

#[derive(Deserialize)]
struct Candidate {
    model: String,
    params: Value,
    holdout_mae: f64,
}

#[derive(Deserialize)]
struct ClassificationCase {
    name: String,
    series: Vec<f64>,
    expected: Classification,
}

fn fixture() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/forecast_cases.json"
    );
    let text = std::fs::read_to_string(path).expect("fixture is readable");
    serde_json::from_str(&text).expect("fixture parses")
}

/// Collects every mismatch so one run reports them all.
#[derive(Default)]
struct Check {
    failures: Vec<String>,
    compared: usize,
}

impl Check {
    fn num(&mut self, what: &str, ours: f64, expected: f64) {
        self.compared += 1;
        if (ours - expected).abs() > 1e-9 * expected.abs().max(1.0) || ours.is_nan() {
            self.failures
                .push(format!("{what}: ours {ours} expected {expected}"));
        }
    }

    fn opt(&mut self, what: &str, ours: Option<f64>, expected: Option<f64>) {
        match (ours, expected) {
            (Some(a), Some(b)) => self.num(what, a, b),
            (None, None) => self.compared += 1,
            _ => self
                .failures
                .push(format!("{what}: ours {ours:?} expected {expected:?}")),
        }
    }

    fn vec(&mut self, what: &str, ours: &[f64], expected: &[f64]) {
        if ours.len() != expected.len() {
            self.failures.push(format!(
                "{what}: length {} vs {}",
                ours.len(),
                expected.len()
            ));
            return;
        }
        for (i, (&a, &b)) in ours.iter().zip(expected).enumerate() {
            self.num(&format!("{what}[{i}]"), a, b);
        }
    }

    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, ours: T, expected: T) {
        self.compared += 1;
        if ours != expected {
            self.failures
                .push(format!("{what}: ours {ours:?} expected {expected:?}"));
        }
    }

    fn class(&mut self, what: &str, ours: &Classification, expected: &Classification) {
        self.eq(&format!("{what}.n"), ours.n, expected.n);
        self.eq(&format!("{what}.nonzero"), ours.nonzero, expected.nonzero);
        self.opt(&format!("{what}.adi"), ours.adi, expected.adi);
        self.opt(&format!("{what}.cv2"), ours.cv2, expected.cv2);
        self.eq(&format!("{what}.class"), ours.class, expected.class);
    }

    fn finish(self, group: &str) {
        assert!(self.compared > 0, "{group}: nothing compared");
        assert!(
            self.failures.is_empty(),
            "{group}: {} of {} values differ:\n{}",
            self.failures.len(),
            self.compared,
            self.failures.join("\n")
        );
    }
}

/// The reference writes a scale of 0 when there are no pairs; the API says None.
fn scale(expected: f64) -> Option<f64> {
    (expected > 0.0).then_some(expected)
}

fn censored_flags(case: &Case) -> Vec<bool> {
    let mut flags = vec![false; case.series.len()];
    for &i in &case.censored_days {
        flags[i] = true;
    }
    flags
}

fn model(name: &str, params: &Value) -> Box<dyn ForecastModel> {
    by_name(name, params).unwrap_or_else(|| panic!("unknown model {name} {params}"))
}

#[test]
fn forecasts_sigma_and_intervals() {
    let fx = fixture();
    let mut c = Check::default();
    for case in &fx.cases {
        let flags = censored_flags(case);
        let daily = Daily::new(&case.series, &flags);
        let m = model(&case.model, &case.params);
        let n = &case.name;
        let point = m.forecast(&daily, case.horizon, None).expect("case fits");
        c.vec(
            &format!("{n} forecast"),
            &point.mean,
            &case.expected.forecast,
        );
        if let Some(sigma) = case.expected.sigma {
            c.opt(&format!("{n} sigma"), point.sigma, Some(sigma));
        }
        for (level, bounds) in case.expected.intervals.iter().flatten() {
            let lv: f64 = level.parse().expect("level is a number");
            let p = m
                .forecast(&daily, case.horizon, Some(lv))
                .expect("case fits");
            let Some(int) = p.interval else {
                c.failures.push(format!("{n} {level}: no interval"));
                continue;
            };
            c.eq(&format!("{n} {level} level"), int.level, lv);
            c.vec(&format!("{n} {level} lo"), &int.lower, &bounds.lo);
            c.vec(&format!("{n} {level} hi"), &int.upper, &bounds.hi);
        }
    }
    c.finish("forecasts");
}

#[test]
fn metrics_against_actuals() {
    let fx = fixture();
    let mut c = Check::default();
    for case in &fx.cases {
        let flags = censored_flags(case);
        let daily = Daily::new(&case.series, &flags);
        let fc = model(&case.model, &case.params)
            .forecast(&daily, case.horizon, None)
            .expect("case fits")
            .mean;
        let (n, e) = (&case.name, &case.metrics);
        let a = accuracy(&case.actuals, &fc);
        c.eq(&format!("{n} days"), a.days, case.horizon);
        c.opt(&format!("{n} mae"), a.mae, Some(e.mae));
        c.opt(&format!("{n} rmse"), a.rmse, Some(e.rmse));
        c.opt(&format!("{n} bias"), a.bias, Some(e.bias));
        c.opt(&format!("{n} wape"), a.wape, e.wape);
        let (s1, s7, sq) = (
            mase_scale(&daily, 1),
            mase_scale(&daily, 7),
            rmsse_scale(&daily),
        );
        c.opt(&format!("{n} scale_m1"), s1, scale(e.scale_m1));
        c.opt(&format!("{n} mase_m1"), a.mase(s1), e.mase_m1);
        c.opt(&format!("{n} scale_m7"), s7, scale(e.scale_m7));
        c.opt(&format!("{n} mase_m7"), a.mase(s7), e.mase_m7);
        c.opt(&format!("{n} rmsse_scale_m1"), sq, scale(e.rmsse_scale_m1));
        c.opt(&format!("{n} rmsse_m1"), a.rmsse(sq), e.rmsse_m1);
    }
    c.finish("metrics");
}

#[test]
fn classification_of_training_series() {
    let fx = fixture();
    let mut c = Check::default();
    for case in &fx.cases {
        let flags = censored_flags(case);
        let y = Daily::new(&case.series, &flags).uncensored();
        c.class(&case.name, &classify(&y), &case.classification);
    }
    c.finish("classification");
}

#[test]
fn features_at_end() {
    let fx = fixture();
    let mut c = Check::default();
    for case in &fx.cases {
        let flags = censored_flags(case);
        let f = features(&Daily::new(&case.series, &flags), case.start_date);
        let (n, e) = (&case.name, &case.features_at_end);
        c.num(
            &format!("{n} ewma_alpha"),
            composerp_forecast_models::EWMA_LAMBDA,
            e.ewma_alpha,
        );
        c.eq(&format!("{n} days_7"), f.days_7, e.days_7);
        c.num(&format!("{n} sum_7"), f.sum_7, e.sum_7);
        c.opt(&format!("{n} mean_7"), f.mean_7, e.mean_7);
        c.opt(&format!("{n} std_7"), f.std_7, e.std_7);
        c.eq(&format!("{n} days_28"), f.days_28, e.days_28);
        c.num(&format!("{n} sum_28"), f.sum_28, e.sum_28);
        c.opt(&format!("{n} mean_28"), f.mean_28, e.mean_28);
        c.opt(&format!("{n} std_28"), f.std_28, e.std_28);
        c.eq(&format!("{n} days_91"), f.days_91, e.days_91);
        c.num(&format!("{n} sum_91"), f.sum_91, e.sum_91);
        c.opt(&format!("{n} mean_91"), f.mean_91, e.mean_91);
        c.opt(&format!("{n} std_91"), f.std_91, e.std_91);
        c.opt(
            &format!("{n} zero_fraction_28"),
            f.zero_fraction_28,
            e.zero_fraction_28,
        );
        c.opt(&format!("{n} ewma"), f.ewma, e.ewma);
        c.eq(
            &format!("{n} days_since_last_sale"),
            f.days_since_last_sale,
            e.days_since_last_sale,
        );
        c.vec(
            &format!("{n} dow_profile_91"),
            &f.dow_profile_91,
            &e.dow_profile_91,
        );
        c.opt(&format!("{n} adi_91"), f.classification.adi, e.adi_91);
        c.opt(&format!("{n} cv2_91"), f.classification.cv2, e.cv2_91);
        c.eq(&format!("{n} class_91"), f.classification.class, e.class_91);
    }
    c.finish("features");
}

#[test]
fn holdout_selection() {
    let fx = fixture();
    let mut c = Check::default();
    for case in &fx.selection_cases {
        let candidates: Vec<_> = case
            .candidates
            .iter()
            .map(|k| model(&k.model, &k.params))
            .collect();
        let daily = Daily::new(&case.series, &[]);
        let choice = choose(
            &candidates,
            Selection::Holdout { days: case.holdout },
            &daily,
            case.horizon,
            None,
        )
        .expect("selection fits");
        let n = &case.name;
        for (i, k) in case.candidates.iter().enumerate() {
            c.opt(
                &format!("{n} holdout_mae[{i}] {}", k.model),
                choice.holdout_mae[i],
                Some(k.holdout_mae),
            );
        }
        c.eq(
            &format!("{n} selected_index"),
            choice.index,
            case.selected_index,
        );
        c.vec(
            &format!("{n} expected_forecast"),
            &choice.prediction.mean,
            &case.expected_forecast,
        );
    }
    c.finish("selection");
}

#[test]
fn classification_edge_cases() {
    let fx = fixture();
    let mut c = Check::default();
    for case in &fx.classification_cases {
        c.class(&case.name, &classify(&case.series), &case.expected);
    }
    c.finish("classification_cases");
}
