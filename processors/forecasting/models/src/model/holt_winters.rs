//! Additive Holt-Winters: level, trend and season (FPP3 component form).
//!
//! Seasonal, so censored days are imputed (the value m days earlier). The
//! trend weight is β* (it smooths level changes); the ETS β is α·β*.
//! Initialisation (classic, two seasons): ℓ₀ = mean of season 1,
//! b₀ = (mean of season 2 − ℓ₀)/m, sᵢ₋ₘ = yᵢ − ℓ₀ for season 1; the recursion
//! then runs over all days from day 1, so at least 2m days are needed.
//! ŷₙ₊ₕ = ℓₙ + h·bₙ + sₙ₊ₕ₋ₘ₍ₖ₊₁₎, k = ⌊(h−1)/m⌋.
//! Interval: σ² = mean squared one-step residual over all n days and the
//! ETS(A,A,A) class-1 variance of Hyndman et al. (2008) Table 6.1:
//! σₕ² = σ²[1 + (h−1){α² + αβh + β²h(2h−1)/6} + γk{2α + γ + βm(k+1)}].

use serde_json::json;

use super::{ForecastModel, ModelError, ModelKind, Prediction, interval, params};
use crate::daily::Daily;

/// Additive Holt-Winters with fixed smoothing weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HoltWinters {
    /// Season length in days (7 = weekly).
    pub season_length: usize,
    /// Level weight α.
    pub alpha: f64,
    /// Trend weight β* (component form; ETS β = α·β*).
    pub beta: f64,
    /// Season weight γ.
    pub gamma: f64,
}

impl Default for HoltWinters {
    fn default() -> Self {
        Self {
            season_length: 7,
            alpha: 0.2,
            beta: 0.05,
            gamma: 0.1,
        }
    }
}

impl HoltWinters {
    /// Reads `{"season_length", "alpha", "beta", "gamma"}` (defaults 7, 0.2, 0.05, 0.1).
    pub fn from_params(p: &serde_json::Value) -> Option<Self> {
        let map = params::object(p, &["season_length", "alpha", "beta", "gamma"])?;
        Some(Self {
            season_length: params::count(map, "season_length", 7)?,
            alpha: params::weight(map, "alpha", 0.2)?,
            beta: params::weight(map, "beta", 0.05)?,
            gamma: params::weight(map, "gamma", 0.1)?,
        })
    }

    /// σₕ / σ for 1-based horizon `h` (Hyndman et al. 2008, Table 6.1).
    fn width_factor(&self, h: usize) -> f64 {
        let (a, g) = (self.alpha, self.gamma);
        let b = self.alpha * self.beta;
        let m = self.season_length as f64;
        let hf = h as f64;
        let k = ((h - 1) / self.season_length) as f64;
        let var = 1.0
            + (hf - 1.0) * (a * a + a * b * hf + b * b * hf * (2.0 * hf - 1.0) / 6.0)
            + g * k * (2.0 * a + g + b * m * (k + 1.0));
        var.sqrt()
    }
}

impl ForecastModel for HoltWinters {
    fn name(&self) -> &'static str {
        "HoltWintersAdditive"
    }

    fn kind(&self) -> ModelKind {
        ModelKind::HoltWinters
    }

    fn version(&self) -> u32 {
        1
    }

    fn params(&self) -> String {
        json!({
            "season_length": self.season_length,
            "alpha": self.alpha,
            "beta": self.beta,
            "gamma": self.gamma,
        })
        .to_string()
    }

    fn forecast(
        &self,
        series: &Daily<'_>,
        horizon: usize,
        level: Option<f64>,
    ) -> Result<Prediction, ModelError> {
        let m = self.season_length;
        let n = series.len();
        if m == 0 || n < 2 * m {
            return Err(ModelError::TooShort {
                model: self.name(),
                need: 2 * m.max(1),
                have: n,
            });
        }
        let y = series.imputed_cow(m);
        let (a, b, g) = (self.alpha, self.beta, self.gamma);
        let mf = m as f64;
        let mean1 = y[..m].iter().sum::<f64>() / mf;
        let mean2 = y[m..2 * m].iter().sum::<f64>() / mf;
        let (mut lvl, mut trend) = (mean1, (mean2 - mean1) / mf);
        // season[t % m] holds s_{t+1-m} when day t (0-based) is processed.
        let mut season: Vec<f64> = y[..m].iter().map(|v| v - mean1).collect();
        let mut ss = 0.0;
        for (t, &v) in y.iter().enumerate() {
            let s_old = season[t % m];
            let r = v - (lvl + trend + s_old);
            ss += r * r;
            let new_level = a * (v - s_old) + (1.0 - a) * (lvl + trend);
            let new_trend = b * (new_level - lvl) + (1.0 - b) * trend;
            season[t % m] = g * (v - lvl - trend) + (1.0 - g) * s_old;
            lvl = new_level;
            trend = new_trend;
        }
        let mean: Vec<f64> = (1..=horizon)
            .map(|h| lvl + h as f64 * trend + season[(n + (h - 1) % m) % m])
            .collect();
        let sigma = Some((ss / n as f64).sqrt());
        let interval = level
            .zip(sigma)
            .map(|(lv, s)| interval::normal(&mean, lv, |h| s * self.width_factor(h)));
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
    fn needs_two_seasons() {
        let err = HoltWinters::default()
            .forecast(&Daily::new(&[1.0; 13], &[]), 7, None)
            .expect_err("13 days");
        assert_eq!(
            err,
            ModelError::TooShort {
                model: "HoltWintersAdditive",
                need: 14,
                have: 13
            }
        );
    }

    #[test]
    fn exact_weekly_pattern_is_reproduced() {
        let week = [1.0, 2.0, 3.0, 4.0, 5.0, 9.0, 7.0];
        let y: Vec<f64> = week.iter().cycle().take(28).copied().collect();
        let p = HoltWinters::default()
            .forecast(&Daily::new(&y, &[]), 14, Some(95.0))
            .expect("four weeks");
        for (h, v) in p.mean.iter().enumerate() {
            assert!((v - week[h % 7]).abs() < 1e-12, "h={h}: {v}");
        }
        assert!(p.sigma.expect("residuals") < 1e-12);
    }

    #[test]
    fn width_grows_with_horizon() {
        let hw = HoltWinters::default();
        assert_eq!(hw.width_factor(1), 1.0);
        assert!(hw.width_factor(8) > hw.width_factor(7));
        assert!(hw.width_factor(7) > hw.width_factor(2));
    }
}
