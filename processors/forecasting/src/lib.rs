//! The Forecasting service: two processors on the runtime that read sales and the ledger's
//! stock updates, bucket demand by each location's local day, and at each location's local end
//! of day publish
//! - [`DemandFeatures`] (`demand-features`): rolling demand features per item-location;
//! - [`Forecasting`] (`forecasting`): a forecast with intervals per item-location, chosen by
//!   `auto` among the models of `composerp-forecast-models`, its rolling accuracy next to
//!   seasonal naive, and revisions when late sales move it.
//!
//! The rules are in docs/domain.md (Demand features, Forecasts). Modules, bottom up:
//! [`zone`] (local days across daylight saving), [`tables`] (each location's zone),
//! [`history`] (the bounded daily series of an item-location), [`intake`] (inputs, state and
//! day closing, shared), [`accuracy`] (rolling scores), [`settings`], and the two processors.

pub mod accuracy;
pub mod features;
pub mod forecast;
pub mod history;
pub mod intake;
pub mod settings;
pub mod tables;
pub mod zone;

pub use features::DemandFeatures;
pub use forecast::Forecasting;

/// How long (by topic timestamps) a sale's event id is remembered to drop a repeat: as long as
/// the ledger's, since both read the same tills.
pub const DEDUPE_WINDOW: i64 = 7 * 24 * 3_600 * 1_000_000;

#[cfg(test)]
pub(crate) mod testkit;
