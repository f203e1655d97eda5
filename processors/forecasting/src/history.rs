//! [`History`]: the bounded daily demand of one item-location, the stock updates needed to tell
//! which closed days were out of stock, and the series the features and models read.
//!
//! At most [`WINDOW_DAYS`] days are kept: older days fall off as new ones close, so the state of
//! an item-location stays the same size however long it has sold. Demand per day is stored as
//! an integer (postcard writes it as a varint, one byte for fewer than 128 units), censored days
//! as a short list of day numbers, so a year of a typical item-location takes a few hundred
//! bytes.

use composerp_events::Timestamp;
use serde::{Deserialize, Serialize};

/// Days of demand kept per item-location: enough for the 91-day window, weekly seasonality with
/// a holdout, and a half-year of history for the models.
pub const WINDOW_DAYS: usize = 182;

/// Stock updates kept while no day closes (an item-location that has stock but never sold).
const MAX_STOCK_UPDATES: usize = 32;

/// One item-location's recent daily demand.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Local day (days since 1970-01-01) of `demand[0]`.
    first: i32,
    /// Gross units sold per local day from `first` on, through the newest day with a sale.
    demand: Vec<u32>,
    /// Closed days that ended with nothing on hand, ascending; all within the window.
    censored: Vec<i32>,
    /// Newest closed day (None before the first close).
    closed: Option<i32>,
    /// The newest local day with a sale, kept beyond the window for days-since-last-sale.
    last_sale: Option<i32>,
    /// Stock updates (event time, on_hand) not yet behind a closed day, ascending by time; the
    /// newest one before the last closed day's end stays as the opening stock of the next day.
    stock: Vec<(i64, i64)>,
}

/// A sale line's effect: whether its day had already closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// The day is still open.
    Open,
    /// The day had closed: history changed after the fact (counted as `late`).
    Late,
    /// The day is older than the window: nothing kept.
    TooOld,
}

impl History {
    /// Adds `units` sold on local day `day`.
    pub fn add_sale(&mut self, day: i32, units: u32) -> Added {
        if self.demand.is_empty() {
            // The series starts on the first sale: history before it is unknown, not zero.
            self.first = day;
        }
        let late = self.closed.is_some_and(|c| day <= c);
        if day < self.first {
            let missing = (self.first - day) as usize;
            if self.demand.len() + missing > WINDOW_DAYS {
                return Added::TooOld;
            }
            self.demand.splice(0..0, std::iter::repeat_n(0, missing));
            self.first = day;
        }
        let i = (day - self.first) as usize;
        if i >= self.demand.len() {
            self.demand.resize(i + 1, 0);
        }
        self.demand[i] = self.demand[i].saturating_add(units);
        if units > 0 && self.last_sale.is_none_or(|d| d < day) {
            self.last_sale = Some(day);
        }
        self.trim();
        if late { Added::Late } else { Added::Open }
    }

    /// Records the on_hand of a stock update at event time `at`.
    pub fn add_stock(&mut self, at: Timestamp, on_hand: i64) {
        let i = self.stock.partition_point(|&(t, _)| t <= at.0);
        self.stock.insert(i, (at.0, on_hand));
        // Days close once a day, so only an item-location that never sold piles updates up:
        // its newest ones are all a first sale's day will need.
        if self.stock.len() > MAX_STOCK_UPDATES {
            self.stock.drain(..self.stock.len() - MAX_STOCK_UPDATES);
        }
    }

    /// Takes the location's newest closed day as this item-location's: a first sale on a day
    /// the location already closed is late.
    pub fn follow(&mut self, closed: i32) {
        if self.closed.is_none() {
            self.closed = Some(closed);
        }
    }

    /// Closes local day `day`, which ended at `end`: pads the series with zero demand through
    /// it, and marks it censored when the last stock update before its end left nothing on hand.
    pub fn close(&mut self, day: i32, end: Timestamp) {
        if self.demand.is_empty() && self.closed.is_none() {
            self.first = day;
        }
        let len = (day - self.first + 1).max(0) as usize;
        if self.demand.len() < len {
            self.demand.resize(len, 0);
        }
        let before = self.stock.partition_point(|&(t, _)| t < end.0);
        if let Some(&(_, on_hand)) = before.checked_sub(1).map(|i| &self.stock[i])
            && on_hand <= 0
            && self.censored.last().is_none_or(|&c| c < day)
        {
            self.censored.push(day);
        }
        // The newest update before the end opens the next day; older ones are spent.
        self.stock.drain(..before.saturating_sub(1));
        self.closed = Some(self.closed.map_or(day, |c| c.max(day)));
        self.trim();
    }

    /// Takes a backfilled history of closed days `first ..= as_of` (the newest
    /// [`WINDOW_DAYS`] of them are kept). Days after `as_of` already seen stay: a backfill meets
    /// the stream where it ends.
    pub fn seed(
        &mut self,
        first: i32,
        demand: &[u32],
        censored: &[i32],
        last_sale: Option<i32>,
        as_of: i32,
    ) {
        let later: Vec<(i32, u32)> = (as_of + 1..self.first + self.demand.len() as i32)
            .map(|d| (d, self.demand_on(d)))
            .filter(|&(_, u)| u > 0)
            .collect();
        let n = ((as_of - first + 1).max(0) as usize).min(demand.len());
        self.first = first;
        self.demand = demand[..n].to_vec();
        self.censored = censored
            .iter()
            .copied()
            .filter(|&d| d >= first && d <= as_of)
            .collect();
        self.censored.sort_unstable();
        self.censored.dedup();
        self.closed = Some(self.closed.map_or(as_of, |c| c.max(as_of)));
        self.last_sale = self.last_sale.max(last_sale);
        self.trim();
        for (d, u) in later {
            self.add_sale(d, u);
        }
    }

    /// Drops the days that fell out of the window.
    fn trim(&mut self) {
        if self.demand.len() > WINDOW_DAYS {
            let drop = self.demand.len() - WINDOW_DAYS;
            self.demand.drain(..drop);
            self.first += drop as i32;
            let first = self.first;
            self.censored.retain(|&d| d >= first);
        }
    }

    /// The closed days through `as_of`, oldest first: (first day, demand, censored flags).
    pub fn series(&self, as_of: i32) -> (i32, Vec<f64>, Vec<bool>) {
        let n = self.series_len(as_of);
        let demand: Vec<f64> = self.demand[..n].iter().map(|&u| f64::from(u)).collect();
        let mut censored = vec![false; n];
        for &d in &self.censored {
            let i = (d - self.first) as usize;
            if i < n {
                censored[i] = true;
            }
        }
        (self.first, demand, censored)
    }

    /// Days of the series through `as_of`.
    pub fn series_len(&self, as_of: i32) -> usize {
        ((as_of - self.first + 1).max(0) as usize).min(self.demand.len())
    }

    /// Units sold on `day` (0 outside the window).
    pub fn demand_on(&self, day: i32) -> u32 {
        usize::try_from(day - self.first)
            .ok()
            .and_then(|i| self.demand.get(i).copied())
            .unwrap_or(0)
    }

    /// Whether `day` closed out of stock.
    pub fn is_censored(&self, day: i32) -> bool {
        self.censored.binary_search(&day).is_ok()
    }

    /// The newest closed day.
    pub fn closed(&self) -> Option<i32> {
        self.closed
    }

    /// The newest local day with a sale.
    pub fn last_sale(&self) -> Option<i32> {
        self.last_sale
    }

    /// Whether anything sold within the window ending on `day`: an item-location that has not
    /// sold for [`WINDOW_DAYS`] is no longer forecast and its state is dropped.
    pub fn active(&self, day: i32) -> bool {
        self.last_sale.is_some_and(|s| day - s < WINDOW_DAYS as i32)
    }

    /// Days held.
    pub fn len(&self) -> usize {
        self.demand.len()
    }

    /// Whether no day is held.
    pub fn is_empty(&self) -> bool {
        self.demand.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;
    const DAY: i64 = 24 * HOUR;

    fn end(day: i32) -> Timestamp {
        Timestamp((i64::from(day) + 1) * DAY)
    }

    #[test]
    fn days_without_sales_close_as_zero_and_stock_outs_are_censored() {
        let mut h = History::default();
        h.add_sale(10, 3);
        h.add_stock(Timestamp(10 * DAY + 5 * HOUR), 2);
        h.close(10, end(10));
        h.add_stock(Timestamp(11 * DAY + 9 * HOUR), 0);
        h.close(11, end(11));
        h.add_stock(Timestamp(12 * DAY + HOUR), 5);
        h.close(12, end(12));
        let (first, demand, censored) = h.series(12);
        assert_eq!(first, 10);
        assert_eq!(demand, vec![3.0, 0.0, 0.0]);
        assert_eq!(censored, vec![false, true, false]);
    }

    #[test]
    fn a_stock_update_after_the_day_end_does_not_decide_that_day() {
        let mut h = History::default();
        h.add_sale(10, 1);
        h.add_stock(Timestamp(10 * DAY + HOUR), 0);
        // Restocked just after midnight, seen before day 10 closes (within the lateness).
        h.add_stock(Timestamp(11 * DAY + HOUR / 2), 8);
        h.close(10, end(10));
        assert!(h.is_censored(10));
        h.close(11, end(11));
        assert!(!h.is_censored(11));
    }

    #[test]
    fn a_sale_for_a_closed_day_is_late_and_still_counts() {
        let mut h = History::default();
        h.add_sale(10, 1);
        h.close(10, end(10));
        assert_eq!(h.add_sale(10, 2), Added::Late);
        assert_eq!(h.add_sale(11, 2), Added::Open);
        assert_eq!(h.demand_on(10), 3);
    }

    #[test]
    fn the_window_stays_bounded_and_keeps_the_last_sale() {
        let mut h = History::default();
        h.add_sale(0, 5);
        for d in 0..400 {
            h.close(d, end(d));
        }
        assert_eq!(h.len(), WINDOW_DAYS);
        assert_eq!(h.series(399).0, 400 - WINDOW_DAYS as i32);
        assert_eq!(h.last_sale(), Some(0));
        assert!(!h.active(399));
        assert_eq!(h.add_sale(100, 1), Added::TooOld);
        let bytes = postcard::to_allocvec(&h).expect("serializes");
        assert!(bytes.len() < 250, "{} bytes", bytes.len());
    }
}
