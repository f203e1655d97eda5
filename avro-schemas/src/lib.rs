//! Composerp's event catalog.
//!
//! A tour, top-down:
//! - [`SchemaCatalog`]: every published `.avsc` under `avro-schemas/`, compiled in, with the
//!   Confluent ids of `ids.toml` and a BACKWARD-compatibility check between versions.
//! - The records, one Rust type per schema, grouped by bounded context: [`pos`],
//!   [`procurement`], [`inventory`], [`forecasting`], [`replenishment`] and the master data of
//!   [`catalog`]. Each implements [`Event`]; a test round-trips each against its `.avsc`.
//! - [`Codec`]: Confluent wire format (magic 0, big-endian schema id, Avro binary), from the
//!   embedded catalog or a Confluent-compatible registry ([`RegistryClient`]). Schemas are
//!   resolved once per id, never per record. Records are written by the schema-driven
//!   [`encode::DirectEncoder`] and read by the [`decode::DirectDecoder`], both walking a schema
//!   compiled once, with apache-avro as the fallback.
//! - [`Buckets`]: the stock buckets of an item-location and the arithmetic of the derived ones,
//!   the one definition the ledger, the generator's truth, the sinks and the API share.
//! - [`kinds`]: the record types by name, for tools that choose one at run time.
//! - [`scalar`]: ids, instants, days and exact money, readable in JSON and compact in Avro.

pub mod buckets;
pub mod catalog;
pub mod codec;
pub mod decode;
pub mod encode;
mod event;
pub mod forecasting;
pub mod inventory;
pub mod kinds;
pub mod pos;
pub mod procurement;
mod program;
pub mod registry;
pub mod replenishment;
pub mod samples;
pub mod scalar;
pub mod schemas;
pub mod wire;

pub use buckets::Buckets;
pub use codec::{Codec, DecodeError, EncodeError};
pub use event::{Event, KeyParts};
pub use kinds::{EncodedRecord, EventKind, KINDS, kind_of};
pub use registry::{RegistryClient, RegistryError};
pub use scalar::{Date, EventId, Money, Timestamp};
pub use schemas::{CatalogError, SchemaCatalog, SchemaEntry};
