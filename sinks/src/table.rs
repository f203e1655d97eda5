//! How a topic becomes a table: the [`Table`] a sink module implements (topic, columns, key,
//! which version wins), and why a record cannot become a row.

use composerp_events::Event;

use crate::copy::{RowError, Rows};

/// Which stored row a new event may replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// Rows are facts with unique keys (event ids): a key seen again changes nothing.
    InsertOnly,
    /// A row is replaced by an event whose `column` is greater, or equal when `ties_replace`,
    /// so an older version never overwrites a newer one, whatever the arrival order.
    Newer {
        /// Version column, e.g. `sequence` or `occurred_at`.
        column: &'static str,
        /// Whether an equal version replaces the row (timestamps may tie; sequences do not).
        ties_replace: bool,
    },
}

/// A table a topic is materialized into. Implement it in the module of the table family and
/// add one line to [`crate::tables`].
pub trait Table: Send + 'static {
    /// Topic id in topics/catalog.toml.
    const TOPIC: &'static str;
    /// Schema-qualified table name.
    const TABLE: &'static str;
    /// Columns in the order [`Table::rows`] writes them. A topic that fills only some columns
    /// of a table other topics also write lists only its own: an upsert sets only these.
    const COLUMNS: &'static [&'static str];
    /// Primary key columns: tenant first.
    const KEY: &'static [&'static str];
    /// Replacement rule.
    const VERSION: Version;
    /// Columns left out when a row arriving again is compared with the stored one: values two
    /// deliveries of one event may differ in. None yet: no table stores `produced_at`.
    const UNCOMPARED: &'static [&'static str] = &[];
    /// The topic's record type.
    type Event: Event;

    /// Writes the rows of one event: one for most tables, one per line for a table of an
    /// event's lines.
    fn rows(e: &Self::Event, out: &mut Rows<'_>) -> Result<(), RowError>;
}

/// Why a record cannot become a row; it goes to the dead-letter topic with this reason.
#[derive(Debug, thiserror::Error)]
pub enum Rejected {
    /// The payload is not a record of the topic's schema.
    #[error("undecodable record: {0}")]
    Decode(String),
    /// A value cannot be stored.
    #[error(transparent)]
    Row(#[from] RowError),
}

impl Rejected {
    /// A bounded reason code for the DLQ header.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejected::Decode(_) => "decode",
            Rejected::Row(RowError::Nul(_)) => "nul_character",
            Rejected::Row(RowError::Json { .. }) => "invalid_json",
        }
    }
}
