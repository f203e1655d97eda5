//! The Inventory Ledger.
//!
//! - [`movement`]: the ledger's inputs ([`LedgerInput`]) reduced to validated [`Movement`]s, one
//!   per document line; one bad line rejects the whole event.
//! - [`reject`]: [`Reject`], every reason an input is refused; its code is the dead-letter reason.
//! - [`position`]: one [`Position`] per tenant, item and location: the counters behind its
//!   [`Buckets`](composerp_events::Buckets) (docs/domain.md, Stock buckets), kept per document
//!   so arrival order does not change them; the cycle-count cut-off, moving-average valuation,
//!   and the low-stock alert's hysteresis.
//! - [`tables`]: [`LedgerTables`], the master data the ledger reads (location types, known
//!   items, reorder points).
//! - [`processor`]: [`InventoryLedger`], the stream processor: movements applied to positions,
//!   stock ledger entries, coalesced position updates and low-stock alerts.
//!
//! Tests run the reference cases (`tests/fixtures/ledger_cases.json`, computed by an independent
//! implementation) through this code and compare every bucket, counter and alert.

pub mod movement;
pub mod position;
pub mod processor;
pub mod reject;
pub mod tables;

pub use movement::{LedgerInput, Movement, MovementKind, Movements};
pub use position::{Entry, Position};
pub use processor::{InventoryLedger, LedgerState, PositionState};
pub use reject::Reject;
pub use tables::LedgerTables;
