//! [`Scores`]: the one-day-ahead forecasts of an item-location's recent days, and their rolling
//! accuracy against the actuals next to the seasonal naive baseline on the same days.
//!
//! Each end of day's forecast for the next day is remembered; when that day closes it joins the
//! window. A day is scored when it is uncensored (a stock-out's sales are not its demand) and
//! the baseline has a value for it: the demand of the same weekday a week earlier, itself
//! imputed from the week before when that day was censored. Both are scored on exactly the same
//! days, so the difference is the forecast value added.

use composerp_forecast_models::{
    daily::Daily,
    metrics::{Accuracy, accuracy, mase_scale, rmsse_scale},
};
use serde::{Deserialize, Serialize};

use crate::history::History;

/// Recent one-day-ahead forecasts of one item-location.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// (local day, forecast) of the days closed within the window, ascending. f32: the score is
    /// a summary, and half the bytes keep the state small.
    days: Vec<(i32, f32)>,
    /// The forecast for the day after the newest forecast run.
    next: Option<(i32, f32)>,
}

/// The rolling accuracy of a model and of its baseline, with the scales used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// The model's accuracy.
    pub model: Accuracy,
    /// Seasonal naive on the same days.
    pub baseline: Accuracy,
    /// Units sold on the scored days.
    pub actual: f64,
    /// Season of the MASE scale.
    pub mase_m: usize,
    /// Mean |y_t − y_{t−m}| in sample.
    pub mase_scale: Option<f64>,
    /// Mean (y_t − y_{t−1})² in sample.
    pub rmsse_scale: Option<f64>,
}

impl Scores {
    /// Remembers the forecast for `day`.
    pub fn expect(&mut self, day: i32, forecast: f64) {
        self.next = Some((day, forecast as f32));
    }

    /// `day` closed: its forecast, if one was made for it, joins the window of `window` days.
    pub fn close(&mut self, day: i32, window: usize) {
        if let Some((d, f)) = self.next
            && d == day
        {
            self.days.push((d, f));
            self.next = None;
        }
        let oldest = day - window as i32 + 1;
        self.days.retain(|&(d, _)| d >= oldest);
    }

    /// The accuracy over the window as of `as_of`; None before any day was scored.
    pub fn score(&self, history: &History, as_of: i32) -> Option<Scored> {
        let (first, demand, censored) = history.series(as_of);
        self.score_series(first, &demand, &censored)
    }

    /// The same over a series already read from the history (`History::series`).
    pub fn score_series(&self, first: i32, demand: &[f64], censored: &[bool]) -> Option<Scored> {
        let mut actual = Vec::with_capacity(self.days.len());
        let mut model = Vec::with_capacity(self.days.len());
        let mut naive = Vec::with_capacity(self.days.len());
        for &(d, f) in &self.days {
            let i = (d - first) as usize;
            if d < first || i >= demand.len() || censored[i] {
                continue;
            }
            let Some(b) = seasonal(demand, censored, i) else {
                continue;
            };
            actual.push(demand[i]);
            model.push(f64::from(f));
            naive.push(b);
        }
        if actual.is_empty() {
            return None;
        }
        let series = Daily::new(demand, censored);
        let m = if demand.len() >= 14 { 7 } else { 1 };
        Some(Scored {
            model: accuracy(&actual, &model),
            baseline: accuracy(&actual, &naive),
            actual: actual.iter().sum(),
            mase_m: m,
            mase_scale: mase_scale(&series, m),
            rmsse_scale: rmsse_scale(&series),
        })
    }
}

/// The seasonal naive one-day-ahead forecast of day `i`: day i − 7, or the week before it when
/// that one was censored.
fn seasonal(demand: &[f64], censored: &[bool], i: usize) -> Option<f64> {
    let mut j = i.checked_sub(7)?;
    while censored[j] {
        j = j.checked_sub(7)?;
    }
    Some(demand[j])
}

/// MAE / scale.
pub fn scaled(value: Option<f64>, scale: Option<f64>) -> Option<f64> {
    Some(value? / scale.filter(|s| *s > 0.0)?)
}

#[cfg(test)]
mod tests {
    use composerp_events::Timestamp;

    use super::*;

    #[test]
    fn only_uncensored_days_with_a_baseline_are_scored() {
        let mut h = History::default();
        for d in 0..20 {
            h.add_sale(d, 2 + (d % 7) as u32);
            if d == 16 {
                h.add_stock(Timestamp(i64::from(d) * 86_400_000_000 + 1), 0);
            }
            if d == 17 {
                h.add_stock(Timestamp(i64::from(d) * 86_400_000_000 + 1), 9);
            }
            h.close(d, Timestamp((i64::from(d) + 1) * 86_400_000_000));
        }
        let mut s = Scores::default();
        for d in 14..20 {
            s.expect(d, 4.0);
            s.close(d, 28);
        }
        let scored = s.score(&h, 19).expect("scored");
        // Days 14..=19 minus censored day 16: five days, each the same as a week earlier.
        assert_eq!(scored.model.days, 5);
        assert_eq!(scored.baseline.mae, Some(0.0));
        assert_eq!(scored.mase_m, 7);
    }
}
