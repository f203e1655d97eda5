//! The demand features and forecast models of docs/domain.md §5–6, as pure
//! functions over one item-location's daily demand series: no I/O, no clocks.
//!
//! A tour, bottom up:
//! - [`daily`]: the input, a [`Daily`] series with its censored (stock-out) days.
//! - [`normal`]: the inverse normal CDF used for interval widths.
//! - [`classify`]: the Syntetos–Boylan–Croston demand class (ADI, CV²).
//! - [`features`]: rolling 7/28/91-day features, EWMA, weekday profile.

pub mod classify;
pub mod daily;
pub mod features;
pub mod normal;

pub use classify::{Classification, DemandClass, classify};
pub use daily::Daily;
pub use features::{EWMA_LAMBDA, Features, features};
