//! Confidence intervals over simulation replications: mean ± t·s/√n, with
//! the Student t quantile for n − 1 degrees of freedom, and the test a
//! service target is judged by.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};
use thiserror::Error;

/// A two-sided confidence interval for a mean over `n` replications.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// The sample mean.
    pub mean: f64,
    /// t(1 − α/2, n − 1) · s / √n.
    pub half_width: f64,
    /// The number of replications.
    pub n: usize,
}

/// Why an interval could not be formed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum StatsError {
    /// Fewer than two replications leave no spread to estimate.
    #[error("an interval needs at least 2 samples, got {0}")]
    TooFewSamples(usize),
    /// A sample is NaN or infinite.
    #[error("sample {index} is not finite ({value})")]
    NotFinite {
        /// Its position.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// A confidence level outside (0, 1).
    #[error("confidence level {0} is outside (0, 1)")]
    InvalidConfidence(f64),
    /// A probability outside (0, 1) or degrees of freedom not > 0.
    #[error("no t quantile for p = {p} with {df} degrees of freedom")]
    InvalidQuantile {
        /// The probability asked for.
        p: f64,
        /// The degrees of freedom asked for.
        df: f64,
    },
}

impl Interval {
    /// The 95 % interval mean ± t(0.975, n − 1)·s/√n of the samples.
    pub fn from_samples(samples: &[f64]) -> Result<Interval, StatsError> {
        Interval::with_confidence(samples, 0.95)
    }

    /// The interval at another two-sided confidence level (0.9, 0.99, …).
    pub fn with_confidence(samples: &[f64], confidence: f64) -> Result<Interval, StatsError> {
        if !(confidence > 0.0 && confidence < 1.0) {
            return Err(StatsError::InvalidConfidence(confidence));
        }
        let n = samples.len();
        if n < 2 {
            return Err(StatsError::TooFewSamples(n));
        }
        if let Some((index, &value)) = samples.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(StatsError::NotFinite { index, value });
        }
        let count = n as f64;
        let mean = samples.iter().sum::<f64>() / count;
        // Bessel's n − 1: the spread is estimated from the same samples as the mean.
        let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (count - 1.0);
        let t = student_t_quantile(0.5 + confidence / 2.0, count - 1.0)?;
        Ok(Interval {
            mean,
            half_width: t * var.sqrt() / count.sqrt(),
            n,
        })
    }

    /// mean − half_width.
    pub fn lower(&self) -> f64 {
        self.mean - self.half_width
    }

    /// mean + half_width.
    pub fn upper(&self) -> f64 {
        self.mean + self.half_width
    }

    /// Whether the target is met: the interval is not wholly below it.
    pub fn contains_or_above(&self, target: f64) -> bool {
        // Only an interval whose upper end is below the target is evidence
        // that the target is missed; anything else is consistent with it.
        self.upper() >= target
    }
}

/// The Student t quantile t(p, df): P(T ≤ t) = p.
pub fn student_t_quantile(p: f64, df: f64) -> Result<f64, StatsError> {
    if !(p > 0.0 && p < 1.0) {
        return Err(StatsError::InvalidQuantile { p, df });
    }
    let dist = StudentsT::new(0.0, 1.0, df).map_err(|_| StatsError::InvalidQuantile { p, df })?;
    Ok(dist.inverse_cdf(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn t_quantiles_match_known_values() {
        for (df, want) in [
            (29.0, 2.045229642132703),
            (9.0, 2.2621571627409915),
            (1.0, 12.706204736174698),
        ] {
            let got = student_t_quantile(0.975, df).expect("valid");
            assert!(close(got, want), "t(0.975, {df}) = {got}, want {want}");
        }
        let lower = student_t_quantile(0.025, 9.0).expect("valid");
        assert!(close(lower, -2.2621571627409915), "{lower}");
        assert!(student_t_quantile(1.0, 9.0).is_err());
        assert!(student_t_quantile(0.5, 0.0).is_err());
    }

    #[test]
    fn interval_of_ten_replications() {
        // Mean 0.95 and Σ(x − 0.95)² = 0.003 for these samples, so s² = 0.003 / 9.
        let xs = [0.93, 0.97, 0.95, 0.96, 0.94, 0.92, 0.98, 0.95, 0.96, 0.94];
        let iv = Interval::from_samples(&xs).expect("valid");
        let s = (0.003f64 / 9.0).sqrt();
        assert_eq!(iv.n, 10);
        assert!(close(iv.mean, 0.95));
        assert!(close(iv.half_width, 2.2621571627409915 * s / 10f64.sqrt()));
        assert!(iv.contains_or_above(0.95));
        assert!(iv.contains_or_above(iv.upper()));
        assert!(!iv.contains_or_above(iv.upper() + 1e-9));
        assert!(iv.lower() < iv.mean);
    }

    #[test]
    fn degenerate_inputs_are_errors() {
        assert_eq!(
            Interval::from_samples(&[1.0]),
            Err(StatsError::TooFewSamples(1))
        );
        assert!(matches!(
            Interval::from_samples(&[1.0, f64::NAN]),
            Err(StatsError::NotFinite { index: 1, .. })
        ));
        assert!(Interval::with_confidence(&[1.0, 2.0], 1.0).is_err());
        let flat = Interval::from_samples(&[0.9, 0.9, 0.9]).expect("valid");
        assert_eq!(flat.half_width, 0.0);
    }
}
