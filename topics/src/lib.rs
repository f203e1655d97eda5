//! Composerp's topic catalog.
//!
//! [`TopicCatalog::embedded`] is `topics/catalog.toml`, compiled in: every topic with its
//! partitions, cleanup policy, key format, value schema and dead-letter topic. Code names topics
//! by their logical id (e.g. `pos.sales`) or finds them by value record; Kafka names live only in
//! the catalog file. [`admin`] creates what is missing and reports drift.

pub mod admin;

use std::{
    collections::{BTreeSet, HashMap},
    sync::LazyLock,
};

use composerp_events::{EncodedRecord, KeyParts, SchemaCatalog};
use serde::Deserialize;

/// Why a topic catalog is invalid or a key cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    /// The catalog file is not valid.
    #[error("topic catalog: {0}")]
    Catalog(String),
    /// The record lacks a field its topic key needs.
    #[error("record has no {part} for key format {format}")]
    MissingKeyPart {
        /// Missing part.
        part: &'static str,
        /// Key format of the topic.
        format: KeyFormat,
    },
    /// No topic with this id or name.
    #[error("no topic {0:?} in the catalog (see `composerp topics list`)")]
    Unknown(String),
}

/// Retention policy of a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cleanup {
    /// Events: deleted after the retention time.
    Delete,
    /// Master data and changelogs: the latest record per key is kept.
    Compact,
}

impl Cleanup {
    /// Kafka's `cleanup.policy` value.
    pub fn policy(&self) -> &'static str {
        match self {
            Cleanup::Delete => "delete",
            Cleanup::Compact => "compact",
        }
    }
}

/// What a record key is built from, in order, joined by `|`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum KeyFormat {
    /// `tenant|location`: every item-location of a store in one partition.
    #[serde(rename = "tenant|location")]
    TenantLocation,
    /// `tenant|item`.
    #[serde(rename = "tenant|item")]
    TenantItem,
    /// `tenant|supplier`.
    #[serde(rename = "tenant|supplier")]
    TenantSupplier,
    /// `tenant|supplier|item`.
    #[serde(rename = "tenant|supplier|item")]
    TenantSupplierItem,
    /// `tenant|location|item`.
    #[serde(rename = "tenant|location|item")]
    TenantLocationItem,
    /// `tenant`: one record per tenant (tenant-wide settings).
    #[serde(rename = "tenant")]
    Tenant,
    /// `tenant|category`: category-wide master data.
    #[serde(rename = "tenant|category")]
    TenantCategory,
    /// Raw key copied from the source record (dead-letter topics).
    #[serde(rename = "source")]
    Source,
}

impl std::fmt::Display for KeyFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyFormat::TenantLocation => "tenant|location",
            KeyFormat::TenantItem => "tenant|item",
            KeyFormat::TenantSupplier => "tenant|supplier",
            KeyFormat::TenantSupplierItem => "tenant|supplier|item",
            KeyFormat::TenantLocationItem => "tenant|location|item",
            KeyFormat::Tenant => "tenant",
            KeyFormat::TenantCategory => "tenant|category",
            KeyFormat::Source => "source",
        })
    }
}

impl KeyFormat {
    /// Builds the key of a record from its parts.
    pub fn key(&self, p: KeyParts<'_>) -> Result<String, TopicError> {
        let mut key = String::new();
        self.key_into(p, &mut key)?;
        Ok(key)
    }

    /// Appends the key of a record built from its parts to `key` (nothing on an error).
    pub fn key_into(&self, p: KeyParts<'_>, key: &mut String) -> Result<(), TopicError> {
        // Called once per output record, appending to a reused buffer: no allocation.
        fn need<'a>(
            v: Option<&'a str>,
            part: &'static str,
            f: KeyFormat,
        ) -> Result<&'a str, TopicError> {
            v.ok_or(TopicError::MissingKeyPart { part, format: f })
        }
        let f = *self;
        let (first, second) = match self {
            KeyFormat::Tenant => {
                key.push_str(p.tenant);
                return Ok(());
            }
            KeyFormat::TenantCategory => (need(p.category, "category", f)?, None),
            KeyFormat::TenantLocation => (need(p.location, "location", f)?, None),
            KeyFormat::TenantItem => (need(p.item, "item", f)?, None),
            KeyFormat::TenantSupplier => (need(p.supplier, "supplier", f)?, None),
            KeyFormat::TenantSupplierItem => (
                need(p.supplier, "supplier", f)?,
                Some(need(p.item, "item", f)?),
            ),
            KeyFormat::TenantLocationItem => (
                need(p.location, "location", f)?,
                Some(need(p.item, "item", f)?),
            ),
            KeyFormat::Source => {
                return Err(TopicError::MissingKeyPart {
                    part: "source key",
                    format: *self,
                });
            }
        };
        key.reserve(p.tenant.len() + 2 + first.len() + second.map_or(0, str::len));
        key.push_str(p.tenant);
        for s in std::iter::once(first).chain(second) {
            key.push('|');
            key.push_str(s);
        }
        Ok(())
    }

    /// Builds the key of an encoded record.
    pub fn key_of(&self, r: &EncodedRecord) -> Result<String, TopicError> {
        self.key(KeyParts {
            tenant: &r.tenant,
            location: r.location.as_deref(),
            item: r.item.as_deref(),
            supplier: r.supplier.as_deref(),
            category: r.category.as_deref(),
        })
    }
}

/// One topic of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Logical id used by the code, e.g. `pos.sales`.
    pub id: String,
    /// Kafka topic name.
    pub name: String,
    /// Partition count.
    pub partitions: i32,
    /// Cleanup policy.
    pub cleanup: Cleanup,
    /// Retention of a delete topic, in hours.
    pub retention_hours: Option<u64>,
    /// Key format.
    pub key: KeyFormat,
    /// Avro full name of the values; None for dead-letter topics (original bytes).
    pub value: Option<String>,
    /// Dead-letter topic name, for topics Composerp consumes.
    pub dlq: Option<String>,
    /// Written and read by Composerp only (repartitioning); never the topic of a record type.
    pub internal: bool,
}

impl TopicSpec {
    /// Kafka topic configuration entries (`cleanup.policy`, `retention.ms`).
    pub fn configs(&self) -> Vec<(&'static str, String)> {
        let mut c = vec![("cleanup.policy", self.cleanup.policy().to_owned())];
        if self.cleanup == Cleanup::Compact && self.internal {
            // A changelog entry newer than its last commit marker must not hide the committed
            // value of its key from a restore: keep recent records out of compaction for a week.
            c.push(("min.compaction.lag.ms", (7 * 24 * 3_600_000u64).to_string()));
        }
        if let (Cleanup::Delete, Some(h)) = (self.cleanup, self.retention_hours) {
            c.push(("retention.ms", (h * 3_600_000).to_string()));
        }
        c
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    defaults: Defaults,
    topic: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    partitions: i32,
    retention_hours: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    name: String,
    partitions: Option<i32>,
    cleanup: Cleanup,
    retention_hours: Option<u64>,
    key: KeyFormat,
    value: String,
    #[serde(default)]
    dlq: bool,
    #[serde(default)]
    internal: bool,
}

/// Every topic, with dead-letter topics derived from the consumed ones.
#[derive(Debug, Clone)]
pub struct TopicCatalog {
    topics: Vec<TopicSpec>,
    /// Index in `topics` of the topic carrying each record type (see [`Self::for_value`]);
    /// hashed with foldhash, as it is looked up for every output record.
    by_value: HashMap<String, usize, foldhash::fast::RandomState>,
}

static EMBEDDED: LazyLock<TopicCatalog> = LazyLock::new(|| {
    TopicCatalog::parse(include_str!("../catalog.toml"), SchemaCatalog::embedded())
        .expect("the embedded topic catalog is valid (checked by its tests)")
});

impl TopicCatalog {
    /// The catalog compiled into this binary.
    pub fn embedded() -> &'static TopicCatalog {
        &EMBEDDED
    }

    /// Parses a catalog and checks names, ids and value schemas.
    pub fn parse(text: &str, schemas: &SchemaCatalog) -> Result<TopicCatalog, TopicError> {
        let file: File = toml::from_str(text).map_err(|e| TopicError::Catalog(e.to_string()))?;
        let mut topics = Vec::new();
        for e in file.topic {
            if schemas.latest(&e.value).is_none() {
                return Err(TopicError::Catalog(format!(
                    "topic {}: no schema {}",
                    e.id, e.value
                )));
            }
            let partitions = e.partitions.unwrap_or(file.defaults.partitions);
            let dlq_name = e.dlq.then(|| format!("{}.dlq", e.name));
            if let Some(dlq) = &dlq_name {
                topics.push(TopicSpec {
                    id: format!("{}.dlq", e.id),
                    name: dlq.clone(),
                    partitions,
                    cleanup: Cleanup::Delete,
                    retention_hours: Some(file.defaults.retention_hours * 4),
                    key: KeyFormat::Source,
                    value: None,
                    dlq: None,
                    internal: false,
                });
            }
            topics.push(TopicSpec {
                id: e.id,
                name: e.name,
                partitions,
                cleanup: e.cleanup,
                retention_hours: match e.cleanup {
                    Cleanup::Delete => {
                        Some(e.retention_hours.unwrap_or(file.defaults.retention_hours))
                    }
                    Cleanup::Compact => None,
                },
                key: e.key,
                value: Some(e.value),
                dlq: dlq_name,
                internal: e.internal,
            });
        }
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        let mut ids = BTreeSet::new();
        let mut names = BTreeSet::new();
        let mut values = BTreeSet::new();
        for t in &topics {
            if !ids.insert(&t.id) || !names.insert(&t.name) {
                return Err(TopicError::Catalog(format!(
                    "topic {} ({}) is declared twice",
                    t.id, t.name
                )));
            }
            if t.partitions < 1 {
                return Err(TopicError::Catalog(format!(
                    "topic {} needs at least one partition",
                    t.id
                )));
            }
            if let Some(v) = &t.value
                && !t.internal
                && !values.insert(v)
            {
                return Err(TopicError::Catalog(format!(
                    "record {v} is the value of two topics"
                )));
            }
        }
        let mut by_value = HashMap::default();
        for (i, t) in topics.iter().enumerate() {
            if let Some(v) = &t.value
                && !t.internal
            {
                // Unique, as checked above: internal topics never carry a type for `for_value`.
                by_value.insert(v.clone(), i);
            }
        }
        Ok(TopicCatalog { topics, by_value })
    }

    /// Every topic, sorted by name.
    pub fn topics(&self) -> &[TopicSpec] {
        &self.topics
    }

    /// The topic with this logical id or Kafka name.
    pub fn get(&self, id_or_name: &str) -> Result<&TopicSpec, TopicError> {
        self.topics
            .iter()
            .find(|t| t.id == id_or_name || t.name == id_or_name)
            .ok_or_else(|| TopicError::Unknown(id_or_name.to_owned()))
    }

    /// The changelog topic of a processor's state store (compacted, one partition per task).
    pub fn changelog(&self, processor: &str, partitions: i32) -> TopicSpec {
        TopicSpec {
            id: format!("{processor}.changelog"),
            name: format!("composerp.{processor}.changelog.v1"),
            partitions,
            cleanup: Cleanup::Compact,
            retention_hours: None,
            key: KeyFormat::Source,
            value: None,
            dlq: None,
            internal: true,
        }
    }

    /// The topic carrying records of this Avro full name.
    pub fn for_value(&self, full_name: &str) -> Option<&TopicSpec> {
        // Looked up for every output record, so indexed rather than scanned.
        self.by_value.get(full_name).map(|&i| &self.topics[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalog_covers_every_record_once() {
        let c = TopicCatalog::embedded();
        for k in composerp_events::KINDS {
            assert!(
                c.for_value(k.full_name).is_some(),
                "{} has no topic",
                k.full_name
            );
        }
        let sales = c.get("pos.sales").expect("sales");
        assert_eq!(sales.name, "composerp.pos.sales.v1");
        assert_eq!(sales.dlq.as_deref(), Some("composerp.pos.sales.v1.dlq"));
        assert!(c.get("composerp.pos.sales.v1.dlq").is_ok());
        assert_eq!(
            c.get("catalog.items").expect("items").cleanup,
            Cleanup::Compact
        );
    }

    #[test]
    fn keys_follow_the_format() {
        let p = KeyParts {
            tenant: "t1",
            location: Some("s1"),
            item: Some("i9"),
            supplier: None,
            category: Some("dairy"),
        };
        assert_eq!(KeyFormat::Tenant.key(p).expect("key"), "t1");
        assert_eq!(KeyFormat::TenantCategory.key(p).expect("key"), "t1|dairy");
        assert_eq!(KeyFormat::TenantLocation.key(p).expect("key"), "t1|s1");
        assert_eq!(
            KeyFormat::TenantLocationItem.key(p).expect("key"),
            "t1|s1|i9"
        );
        assert!(matches!(
            KeyFormat::TenantSupplier.key(p),
            Err(TopicError::MissingKeyPart {
                part: "supplier",
                ..
            })
        ));
    }

    #[test]
    fn configs_name_policy_and_retention() {
        let c = TopicCatalog::embedded();
        let sales = c.get("pos.sales").expect("sales");
        assert_eq!(
            sales.configs(),
            vec![
                ("cleanup.policy", "delete".into()),
                ("retention.ms", "604800000".into())
            ]
        );
        assert_eq!(
            c.get("catalog.items").expect("items").configs(),
            vec![("cleanup.policy", "compact".into())]
        );
    }

    #[test]
    fn duplicates_and_unknown_schemas_are_refused() {
        let s = SchemaCatalog::embedded();
        let one = "[[topic]]\nid = \"a\"\nname = \"a\"\ncleanup = \"delete\"\nkey = \"tenant|item\"\nvalue = \"composerp.catalog.v1.Item\"\n";
        let twice = format!(
            "[defaults]\npartitions = 1\nretention_hours = 1\n{one}{}",
            one.replace("id = \"a\"", "id = \"b\"")
        );
        assert!(TopicCatalog::parse(&twice, s).is_err());
        let bad = "[defaults]\npartitions = 1\nretention_hours = 1\n[[topic]]\nid = \"a\"\nname = \"a\"\ncleanup = \"delete\"\nkey = \"tenant|item\"\nvalue = \"x.Nope\"\n";
        assert!(TopicCatalog::parse(bad, s).is_err());
    }
}
