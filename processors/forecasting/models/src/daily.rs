//! The input of every model: one item-location's daily demand, oldest day
//! first, with the days whose demand is censored because stock ran out.

use std::borrow::Cow;

/// A daily demand series, oldest day first, with the days whose demand is censored (stock-out).
#[derive(Debug, Clone, Copy)]
pub struct Daily<'a> {
    /// Units demanded per day (gross sales), oldest first.
    pub demand: &'a [f64],
    /// `true` on days that closed with no stock; empty means no day is censored.
    pub censored: &'a [bool],
}

impl<'a> Daily<'a> {
    /// Wraps a demand series and its censored flags (empty flags: nothing censored).
    pub fn new(demand: &'a [f64], censored: &'a [bool]) -> Self {
        debug_assert!(
            censored.is_empty() || censored.len() == demand.len(),
            "censored flags must be empty or one per day"
        );
        Self { demand, censored }
    }

    /// Number of days in the series.
    pub fn len(&self) -> usize {
        self.demand.len()
    }

    /// Whether the series has no day at all.
    pub fn is_empty(&self) -> bool {
        self.demand.is_empty()
    }

    /// Whether day `i` is censored (days without a flag are not).
    pub fn is_censored(&self, i: usize) -> bool {
        self.censored.get(i).copied().unwrap_or(false)
    }

    /// Whether any day of the series is censored.
    pub fn any_censored(&self) -> bool {
        self.censored.iter().take(self.len()).any(|&c| c)
    }

    /// Number of uncensored days.
    pub fn uncensored_len(&self) -> usize {
        (0..self.len()).filter(|&i| !self.is_censored(i)).count()
    }

    /// The demand with censored days dropped (what non-seasonal models fit on).
    pub fn uncensored(&self) -> Vec<f64> {
        self.demand
            .iter()
            .enumerate()
            .filter(|&(i, _)| !self.is_censored(i))
            .map(|(_, &v)| v)
            .collect()
    }

    /// Like [`Daily::uncensored`], but borrows when no day is censored (the common case).
    pub fn uncensored_cow(&self) -> Cow<'a, [f64]> {
        if self.any_censored() {
            Cow::Owned(self.uncensored())
        } else {
            Cow::Borrowed(self.demand)
        }
    }

    /// The demand with each censored day replaced by the value `m` days earlier
    /// (what seasonal models fit on), so the weekly pattern keeps its phase.
    ///
    /// Replacement is recursive: an earlier censored day was already replaced.
    /// A censored day in the first `m` days, with nothing earlier, takes the next
    /// uncensored value on the same phase (`i + m`, `i + 2m`, …), else 0.
    pub fn imputed(&self, m: usize) -> Vec<f64> {
        let mut out = self.demand.to_vec();
        if m == 0 {
            return out;
        }
        for i in 0..out.len() {
            if !self.is_censored(i) {
                continue;
            }
            out[i] = if i >= m {
                out[i - m]
            } else {
                (i + m..self.len())
                    .step_by(m)
                    .find(|&j| !self.is_censored(j))
                    .map_or(0.0, |j| self.demand[j])
            };
        }
        out
    }

    /// Like [`Daily::imputed`], but borrows when no day is censored.
    pub fn imputed_cow(&self, m: usize) -> Cow<'a, [f64]> {
        if self.any_censored() {
            Cow::Owned(self.imputed(m))
        } else {
            Cow::Borrowed(self.demand)
        }
    }

    /// The first `n` days (for fitting on all but a holdout); the whole series if shorter.
    pub fn head(&self, n: usize) -> Daily<'a> {
        let n = n.min(self.len());
        Daily {
            demand: &self.demand[..n],
            // min: a mis-sized flag slice (only debug-asserted) must not panic here.
            censored: &self.censored[..n.min(self.censored.len())],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_flags_mean_nothing_censored() {
        let d = Daily::new(&[1.0, 2.0], &[]);
        assert!(!d.is_censored(1));
        assert_eq!(d.uncensored(), vec![1.0, 2.0]);
        assert_eq!(d.uncensored_len(), 2);
    }

    #[test]
    fn uncensored_drops_stockout_days() {
        let d = Daily::new(&[1.0, 0.0, 3.0], &[false, true, false]);
        assert_eq!(d.uncensored(), vec![1.0, 3.0]);
        assert_eq!(&*d.uncensored_cow(), &[1.0, 3.0]);
    }

    #[test]
    fn imputed_takes_same_weekday_recursively() {
        let y = [1.0, 2.0, 3.0, 0.0, 0.0, 6.0];
        let c = [false, false, false, true, true, false];
        // m = 2: day 3 ← day 1 (2), day 4 ← day 2 (3).
        assert_eq!(
            Daily::new(&y, &c).imputed(2),
            vec![1.0, 2.0, 3.0, 2.0, 3.0, 6.0]
        );
        // m = 1: day 3 ← day 2, day 4 ← imputed day 3.
        assert_eq!(
            Daily::new(&y, &c).imputed(1),
            vec![1.0, 2.0, 3.0, 3.0, 3.0, 6.0]
        );
    }

    #[test]
    fn imputed_first_week_looks_forward_then_zero() {
        let y = [0.0, 5.0, 7.0, 8.0];
        let c = [true, true, false, true];
        // m = 2: day 0 ← day 2 (7); day 1 has only day 3 ahead, censored too → 0; day 3 ← day 1 (0).
        assert_eq!(Daily::new(&y, &c).imputed(2), vec![7.0, 0.0, 7.0, 0.0]);
    }

    #[test]
    fn head_keeps_flags_aligned() {
        let d = Daily::new(&[1.0, 2.0, 3.0], &[false, true, false]);
        let h = d.head(2);
        assert_eq!(h.len(), 2);
        assert!(h.is_censored(1));
        assert_eq!(d.head(10).len(), 3);
    }

    #[test]
    fn short_flag_slice_reads_missing_flags_as_uncensored() {
        // Built directly: `new` would debug-assert on the mismatch.
        let d = Daily {
            demand: &[1.0, 2.0, 3.0],
            censored: &[true],
        };
        assert_eq!(d.head(2).len(), 2);
        assert_eq!(d.uncensored_len(), 2);
        assert!(!d.is_censored(2));
    }
}
