//! Rolling demand features as of the series' last day (docs/domain.md §5).
//!
//! Trailing 7/28/91-day windows include the last day and are truncated at the
//! series start; censored days are skipped, so `days_w` counts the rest and
//! mean = sum / days_w. The EWMA starts at the first uncensored value.
//! `days_since_last_sale` looks at every day, censored or not: a censored day
//! with a sale is still a sale. The weekday profile divides each weekday's
//! mean by the 91-day mean, 1.0 when the weekday has no day or the window
//! mean is missing or 0.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::classify::{Classification, classify};
use crate::daily::Daily;

/// Smoothing weight of the demand EWMA.
pub const EWMA_LAMBDA: f64 = 0.1;

/// Rolling demand features of one item-location as of its last day (docs/domain.md §5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Features {
    /// Uncensored days in the last 7.
    pub days_7: u32,
    /// Demand over those days.
    pub sum_7: f64,
    /// sum_7 / days_7; None with no uncensored day.
    pub mean_7: Option<f64>,
    /// Sample standard deviation over those days; None below 2 days.
    pub std_7: Option<f64>,
    /// Uncensored days in the last 28.
    pub days_28: u32,
    /// Demand over those days.
    pub sum_28: f64,
    /// sum_28 / days_28; None with no uncensored day.
    pub mean_28: Option<f64>,
    /// Sample standard deviation over those days; None below 2 days.
    pub std_28: Option<f64>,
    /// Uncensored days in the last 91.
    pub days_91: u32,
    /// Demand over those days.
    pub sum_91: f64,
    /// sum_91 / days_91; None with no uncensored day.
    pub mean_91: Option<f64>,
    /// Sample standard deviation over those days; None below 2 days.
    pub std_91: Option<f64>,
    /// Share of zero-demand days among the uncensored days of the last 28.
    pub zero_fraction_28: Option<f64>,
    /// EWMA (λ = [`EWMA_LAMBDA`]) over uncensored days; None with none.
    pub ewma: Option<f64>,
    /// Days since the last day with demand > 0 (0 = the last day); None if never.
    pub days_since_last_sale: Option<u32>,
    /// Weekday mean / window mean over the last 91 days, Monday first.
    pub dow_profile_91: [f64; 7],
    /// Demand class over the last 91 uncensored days.
    pub classification: Classification,
}

/// Sum, count, mean and sample std of one trailing window.
struct Window {
    days: u32,
    sum: f64,
    mean: Option<f64>,
    std: Option<f64>,
}

fn window(series: &Daily<'_>, w: usize) -> Window {
    let start = series.len().saturating_sub(w);
    let days = || (start..series.len()).filter(|&i| !series.is_censored(i));
    let (mut n, mut sum) = (0u32, 0.0);
    for i in days() {
        n += 1;
        sum += series.demand[i];
    }
    let mean = (n > 0).then(|| sum / f64::from(n));
    // Two passes (mean, then squares) to keep the variance accurate.
    let std = mean.filter(|_| n >= 2).map(|mu| {
        let ss: f64 = days().map(|i| (series.demand[i] - mu).powi(2)).sum();
        (ss / f64::from(n - 1)).sqrt()
    });
    Window {
        days: n,
        sum,
        mean,
        std,
    }
}

/// Features as of the series' last day; `first_day` is the calendar date of demand[0].
pub fn features(series: &Daily<'_>, first_day: NaiveDate) -> Features {
    let n = series.len();
    let (w7, w28, w91) = (window(series, 7), window(series, 28), window(series, 91));

    let zero_fraction_28 = (w28.days > 0).then(|| {
        let zeros = (n.saturating_sub(28)..n)
            .filter(|&i| !series.is_censored(i) && series.demand[i] == 0.0)
            .count();
        zeros as f64 / f64::from(w28.days)
    });

    let mut ewma: Option<f64> = None;
    for (i, &v) in series.demand.iter().enumerate() {
        if !series.is_censored(i) {
            ewma = Some(ewma.map_or(v, |e| EWMA_LAMBDA * v + (1.0 - EWMA_LAMBDA) * e));
        }
    }

    let days_since_last_sale = series
        .demand
        .iter()
        .rposition(|&v| v > 0.0)
        .map(|i| u32::try_from(n - 1 - i).unwrap_or(u32::MAX));

    let start91 = n.saturating_sub(91);
    let first_wd = first_day.weekday().num_days_from_monday() as usize;
    let (mut wd_sum, mut wd_n) = ([0.0f64; 7], [0u32; 7]);
    let mut y91 = Vec::with_capacity(n - start91);
    for i in (start91..n).filter(|&i| !series.is_censored(i)) {
        let wd = (first_wd + i) % 7;
        wd_sum[wd] += series.demand[i];
        wd_n[wd] += 1;
        y91.push(series.demand[i]);
    }
    let mut dow_profile_91 = [1.0; 7];
    if let Some(overall) = w91.mean.filter(|&m| m != 0.0) {
        for wd in 0..7 {
            if wd_n[wd] > 0 {
                dow_profile_91[wd] = (wd_sum[wd] / f64::from(wd_n[wd])) / overall;
            }
        }
    }

    Features {
        days_7: w7.days,
        sum_7: w7.sum,
        mean_7: w7.mean,
        std_7: w7.std,
        days_28: w28.days,
        sum_28: w28.sum,
        mean_28: w28.mean,
        std_28: w28.std,
        days_91: w91.days,
        sum_91: w91.sum,
        mean_91: w91.mean,
        std_91: w91.std,
        zero_fraction_28,
        ewma,
        days_since_last_sale,
        dow_profile_91,
        classification: classify(&y91),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::DemandClass;

    fn monday() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, 1).expect("valid date")
    }

    #[test]
    fn empty_series_has_no_estimates() {
        let f = features(&Daily::new(&[], &[]), monday());
        assert_eq!((f.days_7, f.mean_7, f.std_7, f.ewma), (0, None, None, None));
        assert_eq!(f.days_since_last_sale, None);
        assert_eq!(f.zero_fraction_28, None);
        assert_eq!(f.dow_profile_91, [1.0; 7]);
        assert_eq!(f.classification.class, DemandClass::NoDemand);
    }

    #[test]
    fn all_zeros_give_flat_profile_and_no_sale() {
        let y = [0.0; 30];
        let f = features(&Daily::new(&y, &[]), monday());
        assert_eq!(f.mean_28, Some(0.0));
        assert_eq!(f.zero_fraction_28, Some(1.0));
        assert_eq!(f.days_since_last_sale, None);
        assert_eq!(f.dow_profile_91, [1.0; 7]);
    }

    #[test]
    fn censored_days_are_skipped_but_sales_still_count() {
        let y = [4.0, 6.0, 2.0];
        let c = [false, false, true];
        let f = features(&Daily::new(&y, &c), monday());
        assert_eq!((f.days_7, f.sum_7, f.mean_7), (2, 10.0, Some(5.0)));
        assert_eq!(f.days_since_last_sale, Some(0));
        assert_eq!(f.ewma, Some(0.1 * 6.0 + 0.9 * 4.0));
        // Wednesday (censored) has no day: 1.0.
        assert_eq!(f.dow_profile_91, [0.8, 1.2, 1.0, 1.0, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn single_day_has_no_std() {
        let f = features(&Daily::new(&[3.0], &[]), monday());
        assert_eq!((f.mean_7, f.std_7), (Some(3.0), None));
        assert_eq!(f.days_since_last_sale, Some(0));
    }
}
