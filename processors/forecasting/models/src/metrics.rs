//! Forecast accuracy against actuals (docs/domain.md §6).
//!
//! Errors are e = y − ŷ over the horizon. Bias is mean(ŷ − y), so positive
//! means over-forecast. WAPE is None when the actuals sum to 0. MASE and
//! RMSSE divide by in-sample naive scales computed over the training series
//! on pairs (yₜ, yₜ₋ₘ) with both days uncensored: a stock-out day's demand is
//! not real demand, so a difference touching it would distort the scale.

use serde::{Deserialize, Serialize};

use crate::daily::Daily;

/// Accuracy of a forecast against actuals (docs/domain.md §6), with the scales used.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Accuracy {
    /// Days compared.
    pub days: usize,
    /// Mean absolute error.
    pub mae: Option<f64>,
    /// Root mean squared error.
    pub rmse: Option<f64>,
    /// Mean of forecast − actual (positive = over-forecast).
    pub bias: Option<f64>,
    /// Σ|e| / Σ|y|; None when the actuals sum to 0.
    pub wape: Option<f64>,
}

impl Accuracy {
    /// MASE = MAE / `scale` (from [`mase_scale`]); None when either is missing.
    pub fn mase(&self, scale: Option<f64>) -> Option<f64> {
        self.mae.zip(scale).map(|(mae, s)| mae / s)
    }

    /// RMSSE = √(mean e² / `scale`) (scale from [`rmsse_scale`]); None when either is missing.
    pub fn rmsse(&self, scale: Option<f64>) -> Option<f64> {
        self.rmse
            .zip(scale)
            .map(|(rmse, s)| (rmse * rmse / s).sqrt())
    }
}

/// Accuracy of `forecast` against `actual` over their common length.
pub fn accuracy(actual: &[f64], forecast: &[f64]) -> Accuracy {
    let days = actual.len().min(forecast.len());
    if days == 0 {
        return Accuracy {
            days,
            mae: None,
            rmse: None,
            bias: None,
            wape: None,
        };
    }
    let (mut abs, mut sq, mut over, mut total) = (0.0, 0.0, 0.0, 0.0);
    for (&y, &f) in actual.iter().zip(forecast) {
        let e = y - f;
        abs += e.abs();
        sq += e * e;
        over += f - y;
        total += y.abs();
    }
    let n = days as f64;
    Accuracy {
        days,
        mae: Some(abs / n),
        rmse: Some((sq / n).sqrt()),
        bias: Some(over / n),
        wape: (total > 0.0).then(|| abs / total),
    }
}

/// Mean of `f(yₜ − yₜ₋ₘ)` over pairs with both days uncensored; None without pairs or when 0.
fn pair_scale(series: &Daily<'_>, m: usize, f: impl Fn(f64) -> f64) -> Option<f64> {
    if m == 0 {
        return None;
    }
    let y = series.demand;
    let (mut sum, mut pairs) = (0.0, 0usize);
    for t in m..y.len() {
        if !series.is_censored(t) && !series.is_censored(t - m) {
            sum += f(y[t] - y[t - m]);
            pairs += 1;
        }
    }
    (pairs > 0 && sum > 0.0).then(|| sum / pairs as f64)
}

/// mean |y_t − y_{t−m}| over in-sample pairs with both days uncensored; None without pairs or when 0.
pub fn mase_scale(series: &Daily<'_>, m: usize) -> Option<f64> {
    pair_scale(series, m, f64::abs)
}

/// mean (y_t − y_{t−1})² over in-sample pairs with both days uncensored; None without pairs or when 0.
pub fn rmsse_scale(series: &Daily<'_>) -> Option<f64> {
    pair_scale(series, 1, |d| d * d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_horizon_has_no_metrics() {
        let a = accuracy(&[], &[]);
        assert_eq!((a.days, a.mae, a.wape), (0, None, None));
    }

    #[test]
    fn all_zero_actuals_have_no_wape() {
        let a = accuracy(&[0.0, 0.0], &[1.0, 0.0]);
        assert_eq!((a.mae, a.bias, a.wape), (Some(0.5), Some(0.5), None));
    }

    #[test]
    fn scales_skip_pairs_touching_censored_days() {
        let y = [1.0, 5.0, 2.0, 4.0];
        let d = Daily::new(&y, &[false, true, false, false]);
        // Only the pair (2, 4) survives for m = 1.
        assert_eq!(mase_scale(&d, 1), Some(2.0));
        assert_eq!(rmsse_scale(&d), Some(4.0));
        // m = 2: pairs (1,2) and (5,4): the latter touches day 1.
        assert_eq!(mase_scale(&d, 2), Some(1.0));
    }

    #[test]
    fn constant_series_has_no_scale() {
        let d = Daily::new(&[3.0; 5], &[]);
        assert_eq!(mase_scale(&d, 1), None);
        assert_eq!(mase_scale(&Daily::new(&[3.0], &[]), 7), None);
        assert_eq!(accuracy(&[1.0], &[2.0]).mase(mase_scale(&d, 1)), None);
    }
}
