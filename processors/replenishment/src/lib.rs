//! The Replenishment & Ordering service as a stream processor.
//!
//! - [`tables`]: master data joined as tables (items, locations, suppliers, supplier-items,
//!   item-location rules, category defaults, the tenant's auto-approval rule).
//! - [`state`]: what is kept per item-location, purchase order and location.
//! - [`evaluate`]: one rule evaluation, from the rule and supplier to the published trigger.
//! - [`orders`]: the day's purchase orders and their lifecycle (commands, receipts).
//! - [`processor`]: [`Replenishment`], the processor that ties them to its inputs.
//!
//! The policies, safety stock and rounding are pure functions in
//! `composerp-replenishment-policy`; docs/domain.md states the rules.

pub mod evaluate;
pub mod orders;
pub mod processor;
pub mod state;
pub mod tables;

pub use processor::{Replenishment, ReplenishmentInput};

#[cfg(test)]
mod tests;
