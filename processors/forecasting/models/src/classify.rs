//! Syntetos, Boylan & Croston (2005) demand classes from ADI and CV².
//!
//! ADI = days / demand days; CV² = (sample std / mean)² of the non-zero sizes,
//! 0 with a single size. Cut-offs: ADI 1.32 and CV² 0.49, each boundary
//! belonging to the upper class. The ADI test is done in integers
//! (25·n ≥ 33·nonzero) so an ADI of exactly 33/25 is never misread through
//! rounding; CV² within 1e-12 of 0.49 counts as reaching it for the same reason.

use serde::{Deserialize, Serialize};

/// ADI cut-off between frequent and intermittent demand, as the fraction 33/25.
pub const ADI_CUTOFF: f64 = 1.32;
/// CV² cut-off between steady and variable demand sizes.
pub const CV2_CUTOFF: f64 = 0.49;

/// Syntetos–Boylan–Croston demand class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DemandClass {
    /// Frequent demand of steady size.
    Smooth,
    /// Frequent demand of variable size.
    Erratic,
    /// Infrequent demand of steady size.
    Intermittent,
    /// Infrequent demand of variable size.
    Lumpy,
    /// No day with demand.
    NoDemand,
}

/// The inputs and result of a demand classification.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// Days classified (censored days already left out).
    pub n: usize,
    /// Days with demand > 0.
    pub nonzero: usize,
    /// Average inter-demand interval n / nonzero; None without demand.
    pub adi: Option<f64>,
    /// Squared coefficient of variation of non-zero sizes; None without demand.
    pub cv2: Option<f64>,
    /// The resulting class.
    pub class: DemandClass,
}

/// Classifies uncensored daily demand `y` (censored days must already be removed).
pub fn classify(y: &[f64]) -> Classification {
    let n = y.len();
    let (mut nonzero, mut sum) = (0usize, 0.0);
    for &v in y.iter().filter(|&&v| v > 0.0) {
        nonzero += 1;
        sum += v;
    }
    if nonzero == 0 {
        return Classification {
            n,
            nonzero,
            adi: None,
            cv2: None,
            class: DemandClass::NoDemand,
        };
    }
    let mean = sum / nonzero as f64;
    let cv2 = if nonzero < 2 {
        0.0
    } else {
        let ss: f64 = y
            .iter()
            .filter(|&&v| v > 0.0)
            .map(|&v| (v - mean) * (v - mean))
            .sum();
        let sd = (ss / (nonzero - 1) as f64).sqrt();
        (sd / mean) * (sd / mean)
    };
    // 25·n < 33·nonzero ⇔ n/nonzero < 1.32, exactly.
    let frequent = 25 * n < 33 * nonzero;
    let steady = cv2 < CV2_CUTOFF - 1e-12;
    let class = match (frequent, steady) {
        (true, true) => DemandClass::Smooth,
        (true, false) => DemandClass::Erratic,
        (false, true) => DemandClass::Intermittent,
        (false, false) => DemandClass::Lumpy,
    };
    Classification {
        n,
        nonzero,
        adi: Some(n as f64 / nonzero as f64),
        cv2: Some(cv2),
        class,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_series_is_no_demand() {
        let c = classify(&[]);
        assert_eq!(c.class, DemandClass::NoDemand);
        assert_eq!((c.n, c.adi, c.cv2), (0, None, None));
    }

    #[test]
    fn adi_exactly_at_cutoff_is_intermittent() {
        // 33 days, 25 with demand: ADI = 1.32.
        let y: Vec<f64> = (0..33)
            .map(|i| if i % 4 == 3 && i < 32 { 0.0 } else { 4.0 })
            .collect();
        let c = classify(&y);
        assert_eq!((c.n, c.nonzero), (33, 25));
        assert_eq!(c.class, DemandClass::Intermittent);
    }

    #[test]
    fn variable_sizes_every_day_are_erratic() {
        assert_eq!(classify(&[1.0, 1.0, 1.0, 30.0]).class, DemandClass::Erratic);
    }

    #[test]
    fn sparse_variable_sizes_are_lumpy() {
        assert_eq!(
            classify(&[0.0, 1.0, 0.0, 0.0, 40.0, 0.0]).class,
            DemandClass::Lumpy
        );
    }

    #[test]
    fn class_serializes_snake_case() {
        let s = serde_json::to_string(&DemandClass::NoDemand).expect("serializes");
        assert_eq!(s, "\"no_demand\"");
    }
}
