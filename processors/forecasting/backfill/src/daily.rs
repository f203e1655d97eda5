//! [`daily_demand`]: gross units per item-location and local day, aggregated by DataFusion.
//!
//! The file's columns: `tenant_id`, `location_id`, `item_id` (text), `occurred_at` (a
//! timestamp, or RFC 3339 text with an offset, in CSV), `quantity` (integer units), and
//! optionally `line_type` (`SALE` or `RETURN`; without it every line is a sale). Demand is the
//! sum of positive SALE quantities, returns not netted (docs/domain.md, Demand features). The
//! local day comes from `local_day`, a SQL function registered here that converts an instant to
//! the calendar date in a zone, the same conversion the stream processors make.

use std::{collections::HashMap, path::Path, sync::Arc};

use chrono_tz::Tz;
use datafusion::{
    arrow::{
        array::{Array, ArrayRef, AsArray, Date32Array, Int64Array, RecordBatch, StringArray},
        datatypes::{DataType, Date32Type, Int64Type},
    },
    common::cast::as_string_array,
    datasource::MemTable,
    error::DataFusionError,
    logical_expr::{ColumnarValue, Volatility, create_udf},
    prelude::{CsvReadOptions, ParquetReadOptions, SessionContext},
};

use crate::BackfillError;

/// Demand of one item-location on one local day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayRow {
    /// Tenant.
    pub tenant: String,
    /// Location.
    pub location: String,
    /// Item.
    pub item: String,
    /// Local day, days since 1970-01-01.
    pub day: i32,
    /// Gross units sold.
    pub units: i64,
    /// Sale lines counted.
    pub lines: i64,
}

/// Zones per (tenant, location); a location not listed is bucketed in UTC.
pub type Zones = HashMap<(String, String), Tz>;

/// `local_day(unix_seconds, zone)`: the local calendar day of an instant, as a date.
fn local_day_udf() -> datafusion::logical_expr::ScalarUDF {
    let fun = Arc::new(
        |args: &[ColumnarValue]| -> Result<ColumnarValue, DataFusionError> {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let secs = arrays[0].as_primitive::<Int64Type>();
            let zones = as_string_array(&arrays[1])?;
            let mut cache: Option<(String, Tz)> = None;
            let days: Date32Array = (0..secs.len())
                .map(|i| {
                    if secs.is_null(i) {
                        return None;
                    }
                    let name = if zones.is_null(i) {
                        "UTC"
                    } else {
                        zones.value(i)
                    };
                    let zone = match &cache {
                        Some((n, z)) if n == name => *z,
                        _ => {
                            let z = name.parse().unwrap_or(Tz::UTC);
                            cache = Some((name.to_owned(), z));
                            z
                        }
                    };
                    let at = composerp_events::Timestamp(secs.value(i).saturating_mul(1_000_000));
                    Some(composerp_forecasting::zone::day_of(zone, at))
                })
                .collect();
            Ok(ColumnarValue::Array(Arc::new(days) as ArrayRef))
        },
    );
    create_udf(
        "local_day",
        vec![DataType::Int64, DataType::Utf8],
        DataType::Date32,
        Volatility::Immutable,
        fun,
    )
}

/// Gross units per item-location and local day of the sales history at `path`, ordered by
/// tenant, location, item and day.
pub async fn daily_demand(path: &Path, zones: &Zones) -> Result<Vec<DayRow>, BackfillError> {
    let ctx = SessionContext::new();
    let name = path.to_string_lossy().to_string();
    match path.extension().and_then(|e| e.to_str()) {
        Some("parquet") => {
            ctx.register_parquet("sales", &name, ParquetReadOptions::default())
                .await?
        }
        Some("csv") => {
            ctx.register_csv("sales", &name, CsvReadOptions::new().has_header(true))
                .await?
        }
        _ => return Err(BackfillError::Format(name)),
    }
    let schema = ctx.table("sales").await?.schema().clone();
    for column in [
        "tenant_id",
        "location_id",
        "item_id",
        "occurred_at",
        "quantity",
    ] {
        if schema.field_with_unqualified_name(column).is_err() {
            return Err(BackfillError::Column(column));
        }
    }
    let sales_only = if schema.field_with_unqualified_name("line_type").is_ok() {
        "AND upper(arrow_cast(s.line_type, 'Utf8')) = 'SALE'"
    } else {
        ""
    };
    ctx.register_udf(local_day_udf());
    let (tenants, (locations, names)): (Vec<String>, (Vec<String>, Vec<String>)) = zones
        .iter()
        .map(|((t, l), z)| (t.clone(), (l.clone(), z.name().to_owned())))
        .unzip();
    let zone_batch = RecordBatch::try_from_iter([
        (
            "tenant_id",
            Arc::new(StringArray::from(tenants)) as ArrayRef,
        ),
        (
            "location_id",
            Arc::new(StringArray::from(locations)) as ArrayRef,
        ),
        ("timezone", Arc::new(StringArray::from(names)) as ArrayRef),
    ])?;
    ctx.register_table(
        "zones",
        Arc::new(MemTable::try_new(
            zone_batch.schema(),
            vec![vec![zone_batch]],
        )?),
    )?;
    let sql = format!(
        "SELECT arrow_cast(s.tenant_id, 'Utf8') AS tenant_id, \
                arrow_cast(s.location_id, 'Utf8') AS location_id, \
                arrow_cast(s.item_id, 'Utf8') AS item_id, \
                local_day(to_unixtime(s.occurred_at), \
                          arrow_cast(coalesce(z.timezone, 'UTC'), 'Utf8')) AS day, \
                arrow_cast(sum(s.quantity), 'Int64') AS units, \
                count(*) AS lines \
         FROM sales s LEFT JOIN zones z \
           ON z.tenant_id = arrow_cast(s.tenant_id, 'Utf8') \
          AND z.location_id = arrow_cast(s.location_id, 'Utf8') \
         WHERE s.quantity > 0 {sales_only} \
         GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    let mut rows = Vec::new();
    for b in &batches {
        let text = |i: usize| as_string_array(b.column(i)).cloned();
        let (tenant, location, item) = (text(0)?, text(1)?, text(2)?);
        let day = b.column(3).as_primitive::<Date32Type>();
        let units = b.column(4).as_primitive::<Int64Type>();
        let lines: &Int64Array = b.column(5).as_primitive::<Int64Type>();
        for r in 0..b.num_rows() {
            rows.push(DayRow {
                tenant: tenant.value(r).to_owned(),
                location: location.value(r).to_owned(),
                item: item.value(r).to_owned(),
                day: day.value(r),
                units: units.value(r),
                lines: lines.value(r),
            });
        }
    }
    Ok(rows)
}
