//! The [`Event`] trait every record implements, and the macro that declares records.

use serde::{Serialize, de::DeserializeOwned};

use crate::scalar::{EventId, Timestamp};

/// The parts of an event a topic key can be built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyParts<'a> {
    /// Tenant; every key starts with it.
    pub tenant: &'a str,
    /// Location, for location-scoped streams.
    pub location: Option<&'a str>,
    /// Item, for item-scoped master data.
    pub item: Option<&'a str>,
    /// Supplier, for supplier master data.
    pub supplier: Option<&'a str>,
    /// Item category, for category-wide master data.
    pub category: Option<&'a str>,
}

/// A record of the catalog: a Rust type mirroring one Avro schema.
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Avro full name of the record, e.g. `composerp.pos.v1.SaleCompleted`.
    const FULL_NAME: &'static str;
    /// Unique id of this event.
    fn event_id(&self) -> EventId;
    /// Tenant owning this event.
    fn tenant_id(&self) -> &str;
    /// Business time of the event.
    fn occurred_at(&self) -> Timestamp;
    /// The fields a topic key can be built from.
    fn key_parts(&self) -> KeyParts<'_>;
}

/// Declares an event record: the shared envelope fields, then the listed ones, plus [`Event`].
macro_rules! event {
    (
        $(#[$meta:meta])*
        $name:ident = $full:literal, key($($part:ident = $field:ident),*) {
            $($(#[$fmeta:meta])* $f:ident : $t:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// Unique id of this event; consumers deduplicate on (tenant_id, event_id).
            pub event_id: $crate::EventId,
            /// Tenant that owns the event; part of every key.
            pub tenant_id: String,
            /// When the business fact happened (event time, UTC).
            pub occurred_at: $crate::Timestamp,
            /// When the producer wrote the event (UTC).
            pub produced_at: $crate::Timestamp,
            /// System or process that produced the event.
            pub source: String,
            $($(#[$fmeta])* pub $f: $t,)*
        }

        impl $crate::Event for $name {
            const FULL_NAME: &'static str = $full;
            fn event_id(&self) -> $crate::EventId {
                self.event_id
            }
            fn tenant_id(&self) -> &str {
                &self.tenant_id
            }
            fn occurred_at(&self) -> $crate::Timestamp {
                self.occurred_at
            }
            fn key_parts(&self) -> $crate::KeyParts<'_> {
                #[allow(unused_mut)]
                let mut k = $crate::KeyParts { tenant: &self.tenant_id, ..Default::default() };
                $(k.$part = Some(&self.$field);)*
                k
            }
        }
    };
}
pub(crate) use event;

/// Declares an Avro enum as a Rust enum whose variants are the schema's symbols.
macro_rules! avro_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        pub enum $name {
            $($(#[$vmeta])* #[doc = concat!("Schema symbol `", stringify!($variant), "`.")] $variant,)+
        }

        impl $name {
            /// The schema symbol of this value.
            pub fn symbol(&self) -> &'static str {
                match self {
                    $(Self::$variant => stringify!($variant),)+
                }
            }
        }
    };
}
pub(crate) use avro_enum;
