//! Croston and SBA: separate smoothing of demand sizes and intervals.
//!
//! Censored days are dropped first. SES (same α) runs on the non-zero sizes
//! and on the intervals between demands, each started at its own first
//! element; the first interval is the 1-based day of the first demand, so
//! leading zero days count. Forecast z/p, flat; no demand at all gives 0.
//! SBA (Syntetos & Boylan 2005) multiplies by (1 − α/2) to remove Croston's
//! upward bias. Intervals: empirical holdout-error quantiles (see
//! [`super::interval`]). One pass computes both smoothed series.

use serde_json::json;

use super::{ForecastModel, ModelError, ModelKind, Prediction, interval, params};
use crate::daily::Daily;

/// Croston's z/p over `y`; 0 when `y` has no demand.
pub fn croston_point(y: &[f64], alpha: f64) -> f64 {
    let mut state: Option<(f64, f64)> = None;
    let mut last = 0usize;
    for (i, &v) in y.iter().enumerate() {
        if v == 0.0 {
            continue;
        }
        let gap = (i + 1 - last) as f64;
        last = i + 1;
        state = Some(match state {
            None => (v, gap),
            Some((z, p)) => (
                alpha * v + (1.0 - alpha) * z,
                alpha * gap + (1.0 - alpha) * p,
            ),
        });
    }
    // p ≥ 1 always: every interval is at least one day.
    state.map_or(0.0, |(z, p)| z / p)
}

/// Shared fit-and-predict of the Croston family; `factor` scales the point forecast.
fn forecast_flat(
    name: &'static str,
    alpha: f64,
    factor: f64,
    series: &Daily<'_>,
    horizon: usize,
    level: Option<f64>,
) -> Result<Prediction, ModelError> {
    let y = series.uncensored_cow();
    if y.is_empty() {
        return Err(ModelError::TooShort {
            model: name,
            need: 1,
            have: 0,
        });
    }
    let point = factor * croston_point(&y, alpha);
    let (interval, sigma) = match level {
        Some(lv) => interval::holdout_empirical(&y, horizon, lv, point, |head| {
            factor * croston_point(head, alpha)
        }),
        None => (None, None),
    };
    Ok(Prediction {
        mean: vec![point; horizon],
        interval,
        sigma,
    })
}

/// Croston's method with a fixed α.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Croston {
    /// Weight for both sizes and intervals.
    pub alpha: f64,
}

impl Default for Croston {
    fn default() -> Self {
        Self { alpha: 0.1 }
    }
}

impl Croston {
    /// Reads `{"alpha": a}` (default 0.1); None on bad keys or values.
    pub fn from_params(p: &serde_json::Value) -> Option<Self> {
        let map = params::object(p, &["alpha"])?;
        Some(Self {
            alpha: params::weight(map, "alpha", 0.1)?,
        })
    }
}

impl ForecastModel for Croston {
    fn name(&self) -> &'static str {
        "Croston"
    }

    fn kind(&self) -> ModelKind {
        ModelKind::Croston
    }

    fn version(&self) -> u32 {
        1
    }

    fn params(&self) -> String {
        json!({ "alpha": self.alpha }).to_string()
    }

    fn forecast(
        &self,
        series: &Daily<'_>,
        horizon: usize,
        level: Option<f64>,
    ) -> Result<Prediction, ModelError> {
        forecast_flat(self.name(), self.alpha, 1.0, series, horizon, level)
    }
}

/// The Syntetos–Boylan approximation: Croston × (1 − α/2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sba {
    /// Weight for both sizes and intervals.
    pub alpha: f64,
}

impl Default for Sba {
    fn default() -> Self {
        Self { alpha: 0.1 }
    }
}

impl Sba {
    /// Reads `{"alpha": a}` (default 0.1); None on bad keys or values.
    pub fn from_params(p: &serde_json::Value) -> Option<Self> {
        let map = params::object(p, &["alpha"])?;
        Some(Self {
            alpha: params::weight(map, "alpha", 0.1)?,
        })
    }
}

impl ForecastModel for Sba {
    fn name(&self) -> &'static str {
        "SBA"
    }

    fn kind(&self) -> ModelKind {
        ModelKind::Sba
    }

    fn version(&self) -> u32 {
        1
    }

    fn params(&self) -> String {
        json!({ "alpha": self.alpha }).to_string()
    }

    fn forecast(
        &self,
        series: &Daily<'_>,
        horizon: usize,
        level: Option<f64>,
    ) -> Result<Prediction, ModelError> {
        forecast_flat(
            self.name(),
            self.alpha,
            1.0 - self.alpha / 2.0,
            series,
            horizon,
            level,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_zeros_count_in_first_interval() {
        // Demand 6 on day 3 only: z = 6, p = 3.
        assert_eq!(croston_point(&[0.0, 0.0, 6.0, 0.0], 0.1), 2.0);
    }

    #[test]
    fn all_zeros_forecast_zero() {
        let p = Croston::default()
            .forecast(&Daily::new(&[0.0; 30], &[]), 5, Some(95.0))
            .expect("fits");
        assert_eq!(p.mean, vec![0.0; 5]);
        let i = p.interval.expect("5 holdout errors");
        assert_eq!(i.upper, vec![0.0; 5]);
    }

    #[test]
    fn sba_scales_croston() {
        let y = [0.0, 4.0, 0.0, 0.0, 2.0, 0.0, 3.0];
        let d = Daily::new(&y, &[]);
        let c = Croston { alpha: 0.2 }
            .forecast(&d, 1, None)
            .expect("fits")
            .mean[0];
        let s = Sba { alpha: 0.2 }.forecast(&d, 1, None).expect("fits").mean[0];
        assert!((s - 0.9 * c).abs() < 1e-15);
    }

    #[test]
    fn empty_or_all_censored_is_too_short() {
        let err = Sba::default()
            .forecast(&Daily::new(&[1.0], &[true]), 1, None)
            .expect_err("nothing uncensored");
        assert_eq!(
            err,
            ModelError::TooShort {
                model: "SBA",
                need: 1,
                have: 0
            }
        );
    }

    #[test]
    fn short_series_has_no_interval() {
        let p = Croston::default()
            .forecast(&Daily::new(&[0.0, 5.0, 0.0, 0.0, 0.0], &[]), 7, Some(90.0))
            .expect("fits");
        assert_eq!((p.interval, p.sigma), (None, None));
        assert_eq!(p.mean, vec![2.5; 7]);
    }
}
