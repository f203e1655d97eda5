//! Batch backfill of the forecasting processors. Years of sale lines from a Parquet or CSV file
//! are aggregated per item-location and local day in SQL with DataFusion, each location's days
//! in its own IANA zone ([`daily_demand`]). The result becomes one `DemandHistorySeeded` per
//! item-location ([`seeds`]). Published to the internal `forecasting.demand-history` topic, it
//! lets the processors start from that history: they compute the same features and first
//! forecasts as if the sales had streamed through them, and continue with the stream.
//!
//! [`history_file`] writes such a file (used by `composerp generate --history-parquet`).

pub mod daily;
pub mod file;
pub mod seed;

pub use daily::{DayRow, daily_demand};
pub use file::{HistoryLine, history_file};
pub use seed::seeds;

/// Why a backfill cannot read its input.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// The file is neither `.parquet` nor `.csv`.
    #[error("{0}: the sales history must be a .parquet or .csv file")]
    Format(String),
    /// A required column is missing.
    #[error(
        "the sales history has no column {0}; it needs tenant_id, location_id, item_id, \
         occurred_at and quantity (line_type is optional)"
    )]
    Column(&'static str),
    /// DataFusion refused the file or the query.
    #[error(transparent)]
    Query(#[from] datafusion::error::DataFusionError),
    /// Arrow refused a batch.
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// Writing a history file failed.
    #[error(transparent)]
    Write(#[from] datafusion::parquet::errors::ParquetError),
    /// File system.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
