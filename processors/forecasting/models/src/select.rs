//! `auto` model choice per item-location (docs/domain.md §6, "Selection").
//!
//! - By class: the demand class over the last 91 uncensored days picks a
//!   fixed model: smooth → SES(0.2), erratic → SES(0.1), intermittent →
//!   SBA(0.1), lumpy → TSB(0.1, 0.1), no demand → SES(0.2) (which forecasts 0
//!   for an all-zero history and still gives an interval).
//! - By holdout: every candidate is fitted on all but the last `days` days and
//!   scored by MAE on those days (censored holdout days are not scored: their
//!   demand is unknown); the lowest MAE wins, ties go to the earlier
//!   candidate; the winner is refitted on the whole series. Candidates that
//!   cannot fit are skipped; if none can (a very short series), the choice
//!   falls back to by-class. The by-class models need one uncensored day, so
//!   an item with a single sale ever still gets a forecast; a series with no
//!   uncensored day at all cannot be forecast and returns the model's error.

use crate::classify::{Classification, DemandClass, classify};
use crate::daily::Daily;
use crate::model::{ForecastModel, ModelError, Prediction, Sba, Ses, Tsb};

/// `Choice::index` when the chosen model is a by-class model, not one of the candidates.
pub const NOT_A_CANDIDATE: usize = usize::MAX;

/// Days of history the class is computed over (docs/domain.md §5).
const CLASS_WINDOW: usize = 91;

static SES_SMOOTH: Ses = Ses { alpha: 0.2 };
static SES_ERRATIC: Ses = Ses { alpha: 0.1 };
static SBA_INTERMITTENT: Sba = Sba { alpha: 0.1 };
static TSB_LUMPY: Tsb = Tsb {
    alpha_d: 0.1,
    alpha_p: 0.1,
};

/// How `auto` chooses a model per item-location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// A fixed model per demand class.
    ByClass,
    /// Lowest MAE over the last `days` days among the candidates.
    Holdout {
        /// Days held out for scoring.
        days: usize,
    },
}

/// The chosen model, its prediction, and the holdout MAE of every candidate (None: could not fit).
#[derive(Debug)]
pub struct Choice<'m> {
    /// The model that produced `prediction`.
    pub model: &'m dyn ForecastModel,
    /// Its position in the candidates, or [`NOT_A_CANDIDATE`] for a by-class model.
    pub index: usize,
    /// The winner's forecast over the whole series.
    pub prediction: Prediction,
    /// Holdout MAE per candidate in candidate order (all None for by-class).
    pub holdout_mae: Vec<Option<f64>>,
    /// Demand class over the last 91 uncensored days.
    pub class: Classification,
}

/// The fixed model for a demand class.
pub fn class_model(class: DemandClass) -> &'static dyn ForecastModel {
    match class {
        DemandClass::Smooth | DemandClass::NoDemand => &SES_SMOOTH,
        DemandClass::Erratic => &SES_ERRATIC,
        DemandClass::Intermittent => &SBA_INTERMITTENT,
        DemandClass::Lumpy => &TSB_LUMPY,
    }
}

/// Class of the trailing 91 days with censored days left out.
fn recent_class(series: &Daily<'_>) -> Classification {
    let tail = series.len().saturating_sub(CLASS_WINDOW);
    let y: Vec<f64> = (tail..series.len())
        .filter(|&i| !series.is_censored(i))
        .map(|i| series.demand[i])
        .collect();
    classify(&y)
}

/// MAE of `forecast` over the uncensored days of `series` from `start`; None if none.
fn holdout_mae(series: &Daily<'_>, start: usize, forecast: &[f64]) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for (j, &f) in forecast.iter().enumerate() {
        let t = start + j;
        if !series.is_censored(t) {
            sum += (series.demand[t] - f).abs();
            n += 1;
        }
    }
    (n > 0).then(|| sum / n as f64)
}

/// Chooses among `candidates` (registry order) for `series`, then refits the winner on all of it.
pub fn choose<'m>(
    candidates: &'m [Box<dyn ForecastModel>],
    selection: Selection,
    series: &Daily<'_>,
    horizon: usize,
    level: Option<f64>,
) -> Result<Choice<'m>, ModelError> {
    let class = recent_class(series);
    let mut maes = vec![None; candidates.len()];
    if let Selection::Holdout { days } = selection {
        let n = series.len();
        if days > 0 && days < n {
            let head = series.head(n - days);
            for (slot, model) in maes.iter_mut().zip(candidates) {
                if let Ok(p) = model.forecast(&head, days, None) {
                    *slot = holdout_mae(series, n - days, &p.mean);
                }
            }
        }
        let mut best: Option<(usize, f64)> = None;
        for (i, mae) in maes.iter().enumerate() {
            if let Some(m) = *mae {
                // Strictly lower only, so ties keep the earlier candidate.
                if best.is_none_or(|(_, b)| m < b) {
                    best = Some((i, m));
                }
            }
        }
        if let Some((index, _)) = best {
            let model = candidates[index].as_ref();
            let prediction = model.forecast(series, horizon, level)?;
            return Ok(Choice {
                model,
                index,
                prediction,
                holdout_mae: maes,
                class,
            });
        }
    }
    let model = class_model(class.class);
    let prediction = model.forecast(series, horizon, level)?;
    Ok(Choice {
        model,
        index: NOT_A_CANDIDATE,
        prediction,
        holdout_mae: maes,
        class,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::registry;

    #[test]
    fn by_class_picks_sba_for_intermittent() {
        let y: Vec<f64> = (0..60)
            .map(|i| if i % 5 == 0 { 3.0 } else { 0.0 })
            .collect();
        let c = registry();
        let ch = choose(&c, Selection::ByClass, &Daily::new(&y, &[]), 7, Some(95.0)).expect("fits");
        assert_eq!(ch.class.class, DemandClass::Intermittent);
        assert_eq!((ch.model.name(), ch.index), ("SBA", NOT_A_CANDIDATE));
        assert!(ch.holdout_mae.iter().all(Option::is_none));
    }

    #[test]
    fn single_sale_ever_falls_back_to_class_model() {
        let c = registry();
        let ch = choose(
            &c,
            Selection::Holdout { days: 28 },
            &Daily::new(&[2.0], &[]),
            7,
            None,
        )
        .expect("one day is enough for by-class");
        assert_eq!(ch.model.name(), "SES");
        assert_eq!(ch.prediction.mean, vec![2.0; 7]);
    }

    #[test]
    fn all_zero_history_forecasts_zero() {
        let c = registry();
        let ch = choose(
            &c,
            Selection::ByClass,
            &Daily::new(&[0.0; 20], &[]),
            3,
            Some(80.0),
        )
        .expect("fits");
        assert_eq!(ch.class.class, DemandClass::NoDemand);
        assert_eq!(ch.prediction.mean, vec![0.0; 3]);
    }

    #[test]
    fn all_censored_history_cannot_be_forecast() {
        let c = registry();
        let r = choose(
            &c,
            Selection::ByClass,
            &Daily::new(&[0.0; 3], &[true; 3]),
            3,
            None,
        );
        assert!(r.is_err());
    }

    #[test]
    fn short_series_skips_models_that_cannot_fit() {
        let y: Vec<f64> = (0..20).map(|i| f64::from(i % 3)).collect();
        let c = registry();
        let ch = choose(
            &c,
            Selection::Holdout { days: 7 },
            &Daily::new(&y, &[]),
            7,
            None,
        )
        .expect("fits");
        // 13 training days: WindowAverage(28) and Holt-Winters (14) cannot fit.
        assert_eq!((ch.holdout_mae[0], ch.holdout_mae[3]), (None, None));
        assert!(ch.holdout_mae[1].is_some());
        assert_ne!(ch.index, NOT_A_CANDIDATE);
    }
}
