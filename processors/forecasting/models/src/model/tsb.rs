//! TSB (Teunter, Syntetos & Babai 2011): demand probability times size.
//!
//! Censored days are dropped first. SES(α_p) runs over every day on the 0/1
//! demand indicator, started at day 1's indicator; SES(α_d) runs on the
//! non-zero sizes, started at the first size. Forecast p·z, flat; unlike
//! Croston it decays toward 0 during a run of zero days (obsolescence). No
//! demand at all gives 0. Intervals: empirical holdout-error quantiles (see
//! [`super::interval`]). One pass computes both.

use serde_json::json;

use super::{ForecastModel, ModelError, ModelKind, Prediction, interval, params};
use crate::daily::Daily;

/// TSB's p·z over `y`; 0 when `y` has no demand or is empty.
pub fn tsb_point(y: &[f64], alpha_d: f64, alpha_p: f64) -> f64 {
    let Some(&first) = y.first() else {
        return 0.0;
    };
    let mut p = if first != 0.0 { 1.0 } else { 0.0 };
    let mut z: Option<f64> = (first != 0.0).then_some(first);
    for &v in &y[1..] {
        if v != 0.0 {
            p = alpha_p + (1.0 - alpha_p) * p;
            z = Some(z.map_or(v, |z| alpha_d * v + (1.0 - alpha_d) * z));
        } else {
            p *= 1.0 - alpha_p;
        }
    }
    z.map_or(0.0, |z| p * z)
}

/// Teunter–Syntetos–Babai with fixed weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tsb {
    /// Size weight α_d.
    pub alpha_d: f64,
    /// Probability weight α_p.
    pub alpha_p: f64,
}

impl Default for Tsb {
    fn default() -> Self {
        Self {
            alpha_d: 0.1,
            alpha_p: 0.1,
        }
    }
}

impl Tsb {
    /// Reads `{"alpha_d": a, "alpha_p": b}` (defaults 0.1, 0.1); None on bad keys or values.
    pub fn from_params(p: &serde_json::Value) -> Option<Self> {
        let map = params::object(p, &["alpha_d", "alpha_p"])?;
        Some(Self {
            alpha_d: params::weight(map, "alpha_d", 0.1)?,
            alpha_p: params::weight(map, "alpha_p", 0.1)?,
        })
    }
}

impl ForecastModel for Tsb {
    fn name(&self) -> &'static str {
        "TSB"
    }

    fn kind(&self) -> ModelKind {
        ModelKind::Tsb
    }

    fn version(&self) -> u32 {
        1
    }

    fn params(&self) -> String {
        json!({ "alpha_d": self.alpha_d, "alpha_p": self.alpha_p }).to_string()
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
        let (ad, ap) = (self.alpha_d, self.alpha_p);
        let point = tsb_point(&y, ad, ap);
        let (interval, sigma) = match level {
            Some(lv) => {
                interval::holdout_empirical(&y, horizon, lv, point, |head| tsb_point(head, ad, ap))
            }
            None => (None, None),
        };
        Ok(Prediction {
            mean: vec![point; horizon],
            interval,
            sigma,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probability_starts_at_first_days_indicator() {
        // p: 0 → 0.5 → 0.25; z = 4.
        assert_eq!(tsb_point(&[0.0, 4.0, 0.0], 0.5, 0.5), 1.0);
    }

    #[test]
    fn decays_over_trailing_zeros() {
        let a = tsb_point(&[3.0, 3.0, 0.0], 0.1, 0.2);
        let b = tsb_point(&[3.0, 3.0, 0.0, 0.0], 0.1, 0.2);
        assert!(b < a);
    }

    #[test]
    fn single_sale_ever_still_forecasts() {
        let p = Tsb::default()
            .forecast(&Daily::new(&[0.0, 0.0, 5.0, 0.0], &[]), 2, Some(95.0))
            .expect("fits");
        assert!(p.mean[0] > 0.0);
        assert_eq!(tsb_point(&[0.0; 4], 0.1, 0.1), 0.0);
    }
}
