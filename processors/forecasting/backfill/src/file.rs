//! [`history_file`]: writes sale lines as a Parquet sales history that [`crate::daily_demand`]
//! reads (the columns it documents, `occurred_at` as UTC microseconds).

use std::{fs::File, path::Path, sync::Arc};

use datafusion::{
    arrow::{
        array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray},
        datatypes::{DataType, Field, Schema, TimeUnit},
    },
    parquet::{arrow::ArrowWriter, basic::Compression, file::properties::WriterProperties},
};

use crate::BackfillError;

/// One sale line of a history file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryLine {
    /// Tenant.
    pub tenant: String,
    /// Location.
    pub location: String,
    /// Item.
    pub item: String,
    /// When it was sold, UTC microseconds.
    pub occurred_at: i64,
    /// Units.
    pub quantity: i64,
    /// SALE or RETURN.
    pub line_type: &'static str,
}

/// Lines per row group: large enough for columnar compression, small enough to stream.
const ROWS_PER_BATCH: usize = 65_536;

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("tenant_id", DataType::Utf8, false),
        Field::new("location_id", DataType::Utf8, false),
        Field::new("item_id", DataType::Utf8, false),
        Field::new(
            "occurred_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("quantity", DataType::Int64, false),
        Field::new("line_type", DataType::Utf8, false),
    ]))
}

fn batch(schema: &Arc<Schema>, lines: &[HistoryLine]) -> Result<RecordBatch, BackfillError> {
    let text = |f: fn(&HistoryLine) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(lines.iter().map(f)))
    };
    Ok(RecordBatch::try_new(
        schema.clone(),
        vec![
            text(|l| &l.tenant),
            text(|l| &l.location),
            text(|l| &l.item),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(lines.iter().map(|l| l.occurred_at))
                    .with_timezone("UTC"),
            ),
            Arc::new(Int64Array::from_iter_values(
                lines.iter().map(|l| l.quantity),
            )),
            text(|l| l.line_type),
        ],
    )?)
}

/// Writes `lines` to a new Parquet file at `path`; returns how many were written.
pub fn history_file(
    path: &Path,
    lines: impl IntoIterator<Item = HistoryLine>,
) -> Result<u64, BackfillError> {
    let schema = schema();
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer = ArrowWriter::try_new(File::create(path)?, schema.clone(), Some(props))?;
    let mut chunk = Vec::with_capacity(ROWS_PER_BATCH);
    let mut written = 0u64;
    for line in lines {
        chunk.push(line);
        if chunk.len() == ROWS_PER_BATCH {
            writer.write(&batch(&schema, &chunk)?)?;
            written += chunk.len() as u64;
            chunk.clear();
        }
    }
    if !chunk.is_empty() {
        writer.write(&batch(&schema, &chunk)?)?;
        written += chunk.len() as u64;
    }
    writer.close()?;
    Ok(written)
}
