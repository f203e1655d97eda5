//! Every record type by full name, for tools that pick the type at run time (`produce`, `tail`).

use apache_avro::types::Value;

use crate::{
    Codec, DecodeError, EncodeError, Event, EventId, Timestamp, catalog::*, forecasting::*,
    inventory::*, pos::*, procurement::*, replenishment::*,
};

/// An encoded record with the fields its topic key is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedRecord {
    /// Confluent-framed Avro bytes.
    pub payload: Vec<u8>,
    /// Event id.
    pub event_id: EventId,
    /// Business time.
    pub occurred_at: Timestamp,
    /// Tenant.
    pub tenant: String,
    /// Location, when the record has one.
    pub location: Option<String>,
    /// Item, when the record has one.
    pub item: Option<String>,
    /// Supplier, when the record has one.
    pub supplier: Option<String>,
    /// Category, for category-wide master data.
    pub category: Option<String>,
}

impl EncodedRecord {
    /// Encodes a typed event and keeps its key fields.
    pub fn of<T: Event>(codec: &Codec, event: &T) -> Result<Self, EncodeError> {
        let k = event.key_parts();
        Ok(EncodedRecord {
            payload: codec.encode(event)?,
            event_id: event.event_id(),
            occurred_at: event.occurred_at(),
            tenant: k.tenant.to_owned(),
            location: k.location.map(str::to_owned),
            item: k.item.map(str::to_owned),
            supplier: k.supplier.map(str::to_owned),
            category: k.category.map(str::to_owned),
        })
    }
}

/// Why a JSON line cannot become a record.
#[derive(Debug, thiserror::Error)]
pub enum JsonRecordError {
    /// The JSON does not match the record's schema (missing or mistyped field, bad enum symbol…).
    #[error("does not match {record}: {source}")]
    Json {
        /// Record full name.
        record: &'static str,
        /// serde_json's error, with the column.
        source: serde_json::Error,
    },
    /// The value could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// Run-time handle of one record type.
#[derive(Debug, Clone, Copy)]
pub struct EventKind {
    /// Avro full name.
    pub full_name: &'static str,
    from_json: fn(&Codec, &str) -> Result<EncodedRecord, JsonRecordError>,
    to_json: fn(&Codec, &[u8]) -> Result<serde_json::Value, DecodeError>,
}

impl EventKind {
    /// Parses one JSON object as this record and encodes it.
    pub fn json_to_record(
        &self,
        codec: &Codec,
        json: &str,
    ) -> Result<EncodedRecord, JsonRecordError> {
        (self.from_json)(codec, json)
    }

    /// Decodes a framed record of this type into its JSON form.
    pub fn record_to_json(
        &self,
        codec: &Codec,
        bytes: &[u8],
    ) -> Result<serde_json::Value, DecodeError> {
        (self.to_json)(codec, bytes)
    }
}

const fn kind<T: Event>() -> EventKind {
    EventKind {
        full_name: T::FULL_NAME,
        from_json: |codec, json| {
            let v: T = serde_json::from_str(json).map_err(|source| JsonRecordError::Json {
                record: T::FULL_NAME,
                source,
            })?;
            Ok(EncodedRecord::of(codec, &v)?)
        },
        to_json: |codec, bytes| {
            let v: T = codec.decode(bytes)?;
            Ok(serde_json::to_value(&v).unwrap_or(serde_json::Value::Null))
        },
    }
}

/// Every record type of the catalog.
pub static KINDS: &[EventKind] = &[
    kind::<SaleCompleted>(),
    kind::<DailyItemSales>(),
    kind::<PurchaseOrderReceived>(),
    kind::<InventoryAdjusted>(),
    kind::<TransferShipped>(),
    kind::<TransferReceived>(),
    kind::<InventoryTransactionCreated>(),
    kind::<InventoryUpdated>(),
    kind::<InventoryLowStock>(),
    kind::<ForecastGenerated>(),
    kind::<ForecastUpdated>(),
    kind::<DemandFeaturesUpdated>(),
    kind::<ForecastAccuracyUpdated>(),
    kind::<DemandHistorySeeded>(),
    kind::<ReplenishmentTriggered>(),
    kind::<PurchaseOrderCreated>(),
    kind::<PurchaseOrderApproved>(),
    kind::<PurchaseOrderCancelled>(),
    kind::<ReplenishmentRule>(),
    kind::<ReplenishmentDefaultRule>(),
    kind::<AutoApprovalRule>(),
    kind::<PurchaseOrderCommand>(),
    kind::<PurchaseOrderCommandRejected>(),
    kind::<PurchaseOrderStatusChanged>(),
    kind::<Item>(),
    kind::<Location>(),
    kind::<Supplier>(),
    kind::<SupplierItem>(),
];

/// The record type with this Avro full name.
pub fn kind_of(full_name: &str) -> Option<&'static EventKind> {
    KINDS.iter().find(|k| k.full_name == full_name)
}

/// Converts a generic Avro value to JSON, for records this build has no type for.
pub fn value_to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Boolean(b) => J::Bool(*b),
        Value::Int(i) | Value::Date(i) | Value::TimeMillis(i) => J::from(*i),
        Value::Long(i)
        | Value::TimeMicros(i)
        | Value::TimestampMillis(i)
        | Value::TimestampMicros(i)
        | Value::TimestampNanos(i)
        | Value::LocalTimestampMillis(i)
        | Value::LocalTimestampMicros(i)
        | Value::LocalTimestampNanos(i) => J::from(*i),
        Value::Float(f) => J::from(*f),
        Value::Double(f) => J::from(*f),
        Value::Bytes(b) | Value::Fixed(_, b) => J::Array(b.iter().map(|x| J::from(*x)).collect()),
        Value::String(s) | Value::Enum(_, s) => J::String(s.clone()),
        Value::Uuid(u) => J::String(u.to_string()),
        Value::Union(_, inner) => value_to_json(inner),
        Value::Array(items) => J::Array(items.iter().map(value_to_json).collect()),
        Value::Map(m) => J::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), value_to_json(v)))
                .collect(),
        ),
        Value::Record(fields) => J::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), value_to_json(v)))
                .collect(),
        ),
        other => J::String(format!("{other:?}")),
    }
}
