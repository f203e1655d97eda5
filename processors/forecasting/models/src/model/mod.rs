//! The forecast models of docs/domain.md §6 behind one trait.
//!
//! Adding a model: write one module implementing [`ForecastModel`], then add
//! one line to [`registry`] (and one arm to [`by_name`] for configuration).
//! Shared arithmetic (normal and empirical intervals, parameter parsing)
//! lives in [`interval`] and [`params`].

pub mod croston;
pub mod holt_winters;
pub mod interval;
pub mod moving_average;
pub mod params;
pub mod seasonal_naive;
pub mod ses;
pub mod tsb;

use crate::daily::Daily;

pub use croston::{Croston, Sba};
pub use holt_winters::HoltWinters;
pub use moving_average::WindowAverage;
pub use seasonal_naive::SeasonalNaive;
pub use ses::Ses;
pub use tsb::Tsb;

/// Which family a model belongs to (the published event's `model` enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelKind {
    /// Mean of the last k days.
    MovingAverage,
    /// Simple exponential smoothing.
    Ses,
    /// Same weekday last week.
    SeasonalNaive,
    /// Additive Holt-Winters (level, trend, weekly season).
    HoltWinters,
    /// Croston's method for intermittent demand.
    Croston,
    /// Syntetos–Boylan approximation (bias-corrected Croston).
    Sba,
    /// Teunter–Syntetos–Babai (decaying demand probability).
    Tsb,
}

/// A point forecast per horizon day with an optional interval (unclamped; callers floor the lower bound at 0 when publishing).
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Point forecast for horizon days 1..=h.
    pub mean: Vec<f64>,
    /// Central interval at the requested level, when asked for and defined.
    pub interval: Option<Interval>,
    /// One-step residual standard deviation the interval was built from, when defined.
    pub sigma: Option<f64>,
}

/// A central prediction interval per horizon day.
#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    /// Coverage in percent, e.g. 95.0.
    pub level: f64,
    /// Lower bound per horizon day (may be negative).
    pub lower: Vec<f64>,
    /// Upper bound per horizon day.
    pub upper: Vec<f64>,
}

/// Why a model cannot forecast a series.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// The series (after dropping censored days) is shorter than the model needs.
    #[error("{model} needs at least {need} days of history, it has {have}")]
    TooShort {
        /// The model's name.
        model: &'static str,
        /// Days it needs.
        need: usize,
        /// Days it got.
        have: usize,
    },
}

/// A forecast model: fits a daily series and predicts a horizon with an interval.
pub trait ForecastModel: Send + Sync + std::fmt::Debug {
    /// The model's name as published, e.g. "SES" or "HoltWintersAdditive".
    fn name(&self) -> &'static str;
    /// The family the model belongs to.
    fn kind(&self) -> ModelKind;
    /// Version of the model's arithmetic, bumped when results change.
    fn version(&self) -> u32;
    /// Parameters as JSON object text with a stable key order, e.g. `{"alpha":0.2}`.
    fn params(&self) -> String;
    /// Fits on `series` (handling censored days as docs say: non-seasonal drop them, seasonal impute) and predicts `horizon` days; `level` (e.g. 95.0) asks for an interval.
    fn forecast(
        &self,
        series: &Daily<'_>,
        horizon: usize,
        level: Option<f64>,
    ) -> Result<Prediction, ModelError>;
}

/// Every model with its default parameters, in candidate order for holdout selection.
pub fn registry() -> Vec<Box<dyn ForecastModel>> {
    vec![
        Box::new(WindowAverage::default()),
        Box::new(Ses::default()),
        Box::new(SeasonalNaive::default()),
        Box::new(HoltWinters::default()),
        Box::new(Croston::default()),
        Box::new(Sba::default()),
        Box::new(Tsb::default()),
    ]
}

/// A model by name with parameters from a JSON object (for configuration); None when unknown.
///
/// Missing parameters take their defaults; unknown keys or out-of-range values give None,
/// so a typo in configuration fails at start instead of silently using a default.
pub fn by_name(name: &str, params: &serde_json::Value) -> Option<Box<dyn ForecastModel>> {
    let model: Box<dyn ForecastModel> = match name {
        "WindowAverage" => Box::new(WindowAverage::from_params(params)?),
        "SES" => Box::new(Ses::from_params(params)?),
        "SeasonalNaive" => Box::new(SeasonalNaive::from_params(params)?),
        "HoltWintersAdditive" => Box::new(HoltWinters::from_params(params)?),
        "Croston" => Box::new(Croston::from_params(params)?),
        "SBA" => Box::new(Sba::from_params(params)?),
        "TSB" => Box::new(Tsb::from_params(params)?),
        _ => return None,
    };
    Some(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn registry_order_is_the_candidate_order() {
        let names: Vec<_> = registry().iter().map(|m| m.name()).collect();
        assert_eq!(
            names,
            [
                "WindowAverage",
                "SES",
                "SeasonalNaive",
                "HoltWintersAdditive",
                "Croston",
                "SBA",
                "TSB"
            ]
        );
    }

    #[test]
    fn by_name_round_trips_params() {
        for m in registry() {
            let params: serde_json::Value =
                serde_json::from_str(&m.params()).expect("params are JSON");
            let again = by_name(m.name(), &params).expect("known model");
            assert_eq!(again.params(), m.params());
            assert_eq!(again.kind(), m.kind());
        }
    }

    #[test]
    fn by_name_rejects_unknowns() {
        assert!(by_name("Prophet", &json!({})).is_none());
        assert!(by_name("SES", &json!({"alpah": 0.2})).is_none());
        assert!(by_name("SES", &json!({"alpha": 1.5})).is_none());
        assert!(by_name("WindowAverage", &json!({"window": 0})).is_none());
    }

    #[test]
    fn defaults_when_params_missing() {
        let m = by_name("SES", &json!({})).expect("known model");
        assert_eq!(m.params(), r#"{"alpha":0.2}"#);
    }
}
