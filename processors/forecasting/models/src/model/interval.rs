//! Interval arithmetic shared by the models.
//!
//! Normal intervals (SES, WindowAverage, SeasonalNaive, Holt-Winters) are
//! ŷₕ ± z·σₕ with z = Φ⁻¹(0.5 + level/200) and a model-specific σₕ.
//! Intermittent models (Croston, SBA, TSB) have no usable error distribution
//! in closed form, so they use empirical quantiles of holdout errors: refit on
//! all but the last H = min(horizon, n/3) days, take e = y − ŷ on those days,
//! and add the (1 ∓ level/100)/2 quantiles of e to the forecast.

use super::Interval;
use crate::normal::z_for_level;

/// ŷₕ ± z·σₕ for every horizon day; `sigma_h` gets the 1-based horizon h.
pub fn normal(mean: &[f64], level: f64, sigma_h: impl Fn(usize) -> f64) -> Interval {
    let z = z_for_level(level);
    let (mut lower, mut upper) = (
        Vec::with_capacity(mean.len()),
        Vec::with_capacity(mean.len()),
    );
    for (i, &m) in mean.iter().enumerate() {
        let half = z * sigma_h(i + 1);
        lower.push(m - half);
        upper.push(m + half);
    }
    Interval {
        level,
        lower,
        upper,
    }
}

/// The q-quantile of sorted values, interpolating linearly between order
/// statistics (numpy's default); `sorted` must not be empty.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    // pos is within [0, len-1], so truncation is the floor and stays in bounds.
    let lo = pos as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Holdout errors and interval for a flat intermittent forecast.
///
/// `point` fits uncensored days and returns the flat forecast; `full` is its
/// value on all of `y`. Returns the interval (None below 2 errors) and the
/// root mean squared holdout error as the model's σ.
pub fn holdout_empirical(
    y: &[f64],
    horizon: usize,
    level: f64,
    full: f64,
    point: impl Fn(&[f64]) -> f64,
) -> (Option<Interval>, Option<f64>) {
    let h_out = horizon.min(y.len() / 3);
    if h_out < 2 {
        return (None, None);
    }
    let (fit, hold) = y.split_at(y.len() - h_out);
    let f = point(fit);
    let mut errors: Vec<f64> = hold.iter().map(|&v| v - f).collect();
    let sigma = (errors.iter().map(|e| e * e).sum::<f64>() / errors.len() as f64).sqrt();
    errors.sort_unstable_by(f64::total_cmp);
    let lo = full + quantile_sorted(&errors, (1.0 - level / 100.0) / 2.0);
    let hi = full + quantile_sorted(&errors, (1.0 + level / 100.0) / 2.0);
    let interval = Interval {
        level,
        lower: vec![lo; horizon],
        upper: vec![hi; horizon],
    };
    (Some(interval), Some(sigma))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates_like_numpy() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&s, 0.0), 1.0);
        assert_eq!(quantile_sorted(&s, 1.0), 4.0);
        assert_eq!(quantile_sorted(&s, 0.5), 2.5);
        // numpy.quantile([1,2,3,4], 0.1) = 1.3
        assert!((quantile_sorted(&s, 0.1) - 1.3).abs() < 1e-12);
        assert_eq!(quantile_sorted(&[7.0], 0.9), 7.0);
    }

    #[test]
    fn empirical_needs_two_errors() {
        let (i, s) = holdout_empirical(&[1.0, 0.0, 2.0, 0.0, 0.0], 7, 95.0, 0.5, |_| 0.5);
        assert!(i.is_none() && s.is_none());
    }

    #[test]
    fn empirical_adds_error_quantiles() {
        let y = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 3.0, 0.0, 1.0];
        let (i, s) = holdout_empirical(&y, 5, 80.0, 0.5, |_| 0.5);
        let i = i.expect("three holdout errors");
        // errors 2.5, -0.5, 0.5 → sorted -0.5, 0.5, 2.5; q0.1 = -0.3, q0.9 = 2.1
        assert!((i.lower[0] - 0.2).abs() < 1e-12 && (i.upper[4] - 2.6).abs() < 1e-12);
        assert_eq!(i.lower.len(), 5);
        assert!(s.is_some());
    }
}
