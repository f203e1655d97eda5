//! The demand features and forecast models of docs/domain.md §5–6, as pure
//! functions over one item-location's daily demand series: no I/O, no clocks.
//!
//! A tour, bottom up:
//! - [`daily`]: the input, a [`Daily`] series with its censored (stock-out) days.
//! - [`normal`]: the inverse normal CDF used for interval widths.
//! - [`classify`]: the Syntetos–Boylan–Croston demand class (ADI, CV²).
//! - [`features`]: rolling 7/28/91-day features, EWMA, weekday profile.
//! - [`model`]: the [`ForecastModel`] trait, one module per model, and the registry.
//! - [`select`]: `auto` model choice, by class or by holdout MAE.
//! - [`metrics`]: accuracy of a forecast against actuals (MAE, RMSE, bias, WAPE, scales).

pub mod classify;
pub mod daily;
pub mod features;
pub mod metrics;
pub mod model;
pub mod normal;
pub mod select;

pub use classify::{Classification, DemandClass, classify};
pub use daily::Daily;
pub use features::{EWMA_LAMBDA, Features, features};
pub use metrics::{Accuracy, accuracy, mase_scale, rmsse_scale};
pub use model::{ForecastModel, Interval, ModelError, ModelKind, Prediction, by_name, registry};
pub use select::{Choice, Selection, choose};
