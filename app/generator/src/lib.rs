//! Deterministic retail data with a known truth.
//!
//! [`Generator`] simulates each tenant's stores and distribution centre day by day: demand with
//! weekly seasonality, trend, promotions and intermittent slow movers; sales capped by stock
//! (lost sales are not sold); returns, some damaged; damaged stock written off; shrink;
//! replenishment by purchase orders with partial and over-receipts, and DC-to-store transfers
//! with short receipts. It keeps every item-location's buckets by the rules of docs/domain.md
//! (Stock buckets, Movements), so [`Generator::truth`] is what a correct ledger must end with
//! whatever the arrival order. Each day's events come out in event-time order, except a few flagged late arrivals and
//! duplicates (same event id and payload).

mod sim;

pub use sim::{Config, Generated, Generator, Stats, TruthError, TruthRow};
