//! SES(α): simple exponential smoothing, flat forecast.
//!
//! Censored days are dropped first. The level starts at the first value
//! (ℓ₁ = y₁) and ℓₜ = αyₜ + (1−α)ℓₜ₋₁; the forecast is ℓₙ at every horizon.
//! The one-step fitted value of day t ≥ 2 is ℓₜ₋₁; σ² is the mean squared
//! residual over those n−1 days and σₕ = σ√(1 + (h−1)α²) (FPP3 §8.7).
//! One pass over the series computes the level and σ together.

use serde_json::json;

use super::{ForecastModel, ModelError, ModelKind, Prediction, interval, params};
use crate::daily::Daily;

/// Simple exponential smoothing with a fixed α.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ses {
    /// Level smoothing weight in (0, 1].
    pub alpha: f64,
}

impl Default for Ses {
    fn default() -> Self {
        Self { alpha: 0.2 }
    }
}

impl Ses {
    /// Reads `{"alpha": a}` (default 0.2); None on bad keys or values.
    pub fn from_params(p: &serde_json::Value) -> Option<Self> {
        let map = params::object(p, &["alpha"])?;
        Some(Self {
            alpha: params::weight(map, "alpha", 0.2)?,
        })
    }
}

/// Final level and sum of squared one-step residuals; `y` must not be empty.
fn fit(y: &[f64], alpha: f64) -> (f64, f64) {
    let mut level = y[0];
    let mut ss = 0.0;
    for &v in &y[1..] {
        let r = v - level;
        ss += r * r;
        level = alpha * v + (1.0 - alpha) * level;
    }
    (level, ss)
}

impl ForecastModel for Ses {
    fn name(&self) -> &'static str {
        "SES"
    }

    fn kind(&self) -> ModelKind {
        ModelKind::Ses
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
        let y = series.uncensored_cow();
        if y.is_empty() {
            return Err(ModelError::TooShort {
                model: self.name(),
                need: 1,
                have: 0,
            });
        }
        let (point, ss) = fit(&y, self.alpha);
        let sigma = (y.len() >= 2).then(|| (ss / (y.len() - 1) as f64).sqrt());
        let mean = vec![point; horizon];
        let a2 = self.alpha * self.alpha;
        let interval = level
            .zip(sigma)
            .map(|(lv, s)| interval::normal(&mean, lv, |h| s * (1.0 + (h - 1) as f64 * a2).sqrt()));
        Ok(Prediction {
            mean,
            interval,
            sigma,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_censored_is_too_short() {
        let err = Ses::default()
            .forecast(&Daily::new(&[0.0, 0.0], &[true, true]), 7, None)
            .expect_err("nothing uncensored");
        assert_eq!(
            err,
            ModelError::TooShort {
                model: "SES",
                need: 1,
                have: 0
            }
        );
    }

    #[test]
    fn single_sale_ever_is_forecast_without_interval() {
        let p = Ses::default()
            .forecast(&Daily::new(&[3.0], &[]), 2, Some(95.0))
            .expect("one day is enough");
        assert_eq!(p.mean, vec![3.0, 3.0]);
        assert_eq!((p.sigma, p.interval), (None, None));
    }

    #[test]
    fn all_zeros_forecast_zero_with_zero_width() {
        let p = Ses::default()
            .forecast(&Daily::new(&[0.0; 10], &[]), 3, Some(95.0))
            .expect("enough days");
        assert_eq!(p.mean, vec![0.0; 3]);
        let i = p.interval.expect("σ = 0 is defined");
        assert_eq!((i.lower, i.upper), (vec![0.0; 3], vec![0.0; 3]));
    }

    #[test]
    fn censored_days_are_skipped() {
        let y = [10.0, 0.0, 20.0];
        let c = [false, true, false];
        let p = Ses { alpha: 0.5 }
            .forecast(&Daily::new(&y, &c), 1, None)
            .expect("fits");
        assert_eq!(p.mean, vec![15.0]);
    }
}
