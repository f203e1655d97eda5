//! The Inventory Ledger.
//!
//! - [`movement`]: every input reduced to validated [`Movement`]s, one per document line; a
//!   movement that breaks a rule of the domain reference is a [`Reject`] with a bounded reason.
//! - [`position`]: one [`Position`] per tenant, item and location: the buckets of
//!   `shared/DOMAIN.md` kept as per-document counters (so arrival order does not change them),
//!   the cycle-count cut-off, moving-average valuation, and the low-stock alert's hysteresis.
//!
//! - [`processor`]: [`InventoryLedger`], the stream processor: inputs to movements, dedupe by
//!   event id, stock ledger entries, coalesced position updates and low-stock alerts.
//!
//! Tests run the reference cases (`tests/fixtures/ledger_cases.json`, computed by an independent
//! implementation) through this code and compare every bucket, counter and alert.

pub mod movement;
pub mod position;
pub mod processor;

pub use movement::{Movement, MovementKind, Reject};
pub use position::{Buckets, Entry, Position};
pub use processor::{InventoryLedger, LedgerInput, LedgerState, LedgerTables, PositionState};
