//! Deterministic retail data with a known truth.
//!
//! [`Generator`] simulates each tenant's stores and distribution centre day by day: demand with
//! weekly seasonality, trend, promotions and intermittent slow movers; sales capped by stock
//! (lost sales are not sold); returns, some damaged; damaged stock written off; shrink;
//! replenishment by purchase orders with partial and over-receipts, and DC-to-store transfers
//! with short receipts. It keeps every item-location's buckets by the rules of docs/domain.md
//! (Stock buckets, Movements), so [`Generator::truth`] is what a correct ledger must end with
//! whatever the arrival order. Each day's events come out in event-time order, except a few
//! flagged late arrivals and duplicates (same event id and payload).
//!
//! A tour, top-down:
//! - `config`: [`Config`], what to generate.
//! - `sim`: [`Generator`], the simulation's state and its day loop.
//! - `master`: tenants, locations and items from the seed, their master-data events and the
//!   planning levels (reorder point, order quantity) derived from demand.
//! - `demand`: each store's daily sales and the returns that follow.
//! - `supply`: purchase orders, receipts, transfers and the deliveries scheduled for later days.
//! - `truth`: each item-location's stock and the expected final buckets, [`TruthRow`].
//! - `generated`: [`Generated`], the events emitted, and [`Stats`], what was counted.

mod config;
mod demand;
mod generated;
mod master;
mod sim;
mod supply;
mod truth;

pub use config::Config;
pub use generated::{Generated, Stats};
pub use sim::Generator;
pub use truth::{TruthError, TruthRow};
