//! SeasonalNaive(m): the same weekday's value from the last observed week.
//!
//! Seasonal, so censored days are imputed (the value m days earlier), not
//! dropped, to keep weekdays aligned. ŷₙ₊ₕ = yₙ₊ₕ₋ₘ₍⌊(h−1)/m⌋+1₎. The fitted
//! value of day t > m is yₜ₋ₘ; σ² is the mean squared residual over those
//! days and σₕ = σ√(⌊(h−1)/m⌋ + 1) (FPP3 §5.5).

use serde_json::json;

use super::{ForecastModel, ModelError, ModelKind, Prediction, interval, params};
use crate::daily::Daily;

/// Repeats the last season.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeasonalNaive {
    /// Season length in days (7 = weekly).
    pub season_length: usize,
}

impl Default for SeasonalNaive {
    fn default() -> Self {
        Self { season_length: 7 }
    }
}

impl SeasonalNaive {
    /// Reads `{"season_length": m}` (default 7); None on bad keys or values.
    pub fn from_params(p: &serde_json::Value) -> Option<Self> {
        let map = params::object(p, &["season_length"])?;
        Some(Self {
            season_length: params::count(map, "season_length", 7)?,
        })
    }
}

impl ForecastModel for SeasonalNaive {
    fn name(&self) -> &'static str {
        "SeasonalNaive"
    }

    fn kind(&self) -> ModelKind {
        ModelKind::SeasonalNaive
    }

    fn version(&self) -> u32 {
        1
    }

    fn params(&self) -> String {
        json!({ "season_length": self.season_length }).to_string()
    }

    fn forecast(
        &self,
        series: &Daily<'_>,
        horizon: usize,
        level: Option<f64>,
    ) -> Result<Prediction, ModelError> {
        let m = self.season_length;
        let n = series.len();
        if m == 0 || n < m {
            return Err(ModelError::TooShort {
                model: self.name(),
                need: m.max(1),
                have: n,
            });
        }
        let y = series.imputed_cow(m);
        let mean: Vec<f64> = (0..horizon).map(|j| y[n - m + j % m]).collect();
        let sigma = (n > m).then(|| {
            let ss: f64 = (m..n).map(|t| (y[t] - y[t - m]).powi(2)).sum();
            (ss / (n - m) as f64).sqrt()
        });
        let interval = level
            .zip(sigma)
            .map(|(lv, s)| interval::normal(&mean, lv, |h| s * (((h - 1) / m + 1) as f64).sqrt()));
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
    fn shorter_than_a_season_is_too_short() {
        let err = SeasonalNaive::default()
            .forecast(&Daily::new(&[1.0; 6], &[]), 7, None)
            .expect_err("six days");
        assert_eq!(
            err,
            ModelError::TooShort {
                model: "SeasonalNaive",
                need: 7,
                have: 6
            }
        );
    }

    #[test]
    fn repeats_last_week_and_widens_each_week() {
        let y: Vec<f64> = (0..14)
            .map(|i| f64::from(i % 7) + if i >= 7 { 1.0 } else { 0.0 })
            .collect();
        let p = SeasonalNaive::default()
            .forecast(&Daily::new(&y, &[]), 8, Some(95.0))
            .expect("two weeks");
        assert_eq!(p.mean, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 1.0]);
        assert_eq!(p.sigma, Some(1.0));
        let i = p.interval.expect("σ defined");
        let w1 = i.upper[0] - p.mean[0];
        let w8 = i.upper[7] - p.mean[7];
        assert!((w8 / w1 - 2f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn censored_day_takes_last_weeks_value() {
        let mut y = vec![5.0; 14];
        y[10] = 0.0;
        let mut c = vec![false; 14];
        c[10] = true;
        let p = SeasonalNaive::default()
            .forecast(&Daily::new(&y, &c), 7, None)
            .expect("two weeks");
        assert_eq!(p.mean, vec![5.0; 7]);
    }
}
