//! WindowAverage(k): the mean of the last k uncensored days, flat.
//!
//! Censored days are dropped first. The one-step fitted value of day t > k is
//! the mean of the k days before it; σ² is the mean squared residual over
//! those days and the interval is ŷ ± z·σ at every horizon (the mean of k
//! days does not drift, so the width does not grow).

use serde_json::json;

use super::{ForecastModel, ModelError, ModelKind, Prediction, interval, params};
use crate::daily::Daily;

/// Mean of the last `window` uncensored days.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowAverage {
    /// Days averaged (k).
    pub window: usize,
}

impl Default for WindowAverage {
    fn default() -> Self {
        Self { window: 28 }
    }
}

impl WindowAverage {
    /// Reads `{"window": k}` (default 28); None on bad keys or values.
    pub fn from_params(p: &serde_json::Value) -> Option<Self> {
        let map = params::object(p, &["window"])?;
        Some(Self {
            window: params::count(map, "window", 28)?,
        })
    }
}

impl ForecastModel for WindowAverage {
    fn name(&self) -> &'static str {
        "WindowAverage"
    }

    fn kind(&self) -> ModelKind {
        ModelKind::MovingAverage
    }

    fn version(&self) -> u32 {
        1
    }

    fn params(&self) -> String {
        json!({ "window": self.window }).to_string()
    }

    fn forecast(
        &self,
        series: &Daily<'_>,
        horizon: usize,
        level: Option<f64>,
    ) -> Result<Prediction, ModelError> {
        let y = series.uncensored_cow();
        let (n, k) = (y.len(), self.window);
        if k == 0 || n < k {
            return Err(ModelError::TooShort {
                model: self.name(),
                need: k.max(1),
                have: n,
            });
        }
        let kf = k as f64;
        // Summed afresh (not from the rolling sum) so the point forecast carries no drift.
        let point = y[n - k..].iter().sum::<f64>() / kf;

        let sigma = (n > k).then(|| {
            let mut window_sum: f64 = y[..k].iter().sum();
            let mut ss = 0.0;
            for t in k..n {
                let r = y[t] - window_sum / kf;
                ss += r * r;
                window_sum += y[t] - y[t - k];
            }
            (ss / (n - k) as f64).sqrt()
        });

        let mean = vec![point; horizon];
        let interval = level
            .zip(sigma)
            .map(|(lv, s)| interval::normal(&mean, lv, |_| s));
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
    fn too_short_below_window() {
        let err = WindowAverage { window: 3 }
            .forecast(&Daily::new(&[1.0, 2.0], &[]), 2, None)
            .expect_err("two days for a window of three");
        assert_eq!(
            err,
            ModelError::TooShort {
                model: "WindowAverage",
                need: 3,
                have: 2
            }
        );
    }

    #[test]
    fn censored_days_do_not_count_toward_the_window() {
        let y = [2.0, 4.0, 0.0];
        let c = [false, false, true];
        let p = WindowAverage { window: 2 }
            .forecast(&Daily::new(&y, &c), 3, Some(95.0))
            .expect("two uncensored days");
        assert_eq!(p.mean, vec![3.0; 3]);
        // No day after the first window: no residual, no interval.
        assert_eq!((p.sigma, p.interval), (None, None));
    }

    #[test]
    fn sigma_from_one_step_residuals() {
        let p = WindowAverage { window: 1 }
            .forecast(&Daily::new(&[1.0, 3.0, 3.0], &[]), 1, Some(80.0))
            .expect("enough days");
        // residuals 2, 0 → σ = √2
        assert!((p.sigma.expect("residuals") - 2f64.sqrt()).abs() < 1e-15);
        assert!(p.interval.is_some());
    }
}
