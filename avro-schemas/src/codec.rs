//! Encoding and decoding of Confluent-framed Avro records, with schemas resolved once.
//!
//! The writer schema of every id is parsed once and kept; for each (writer id, Rust type) pair a
//! decode plan is built once. When the writer schema is the one the Rust type mirrors, records
//! decode straight into the type (no intermediate tree), through the schema-driven
//! [`DirectDecoder`] with apache-avro as the fallback; other versions go through Avro schema
//! resolution into the newest schema, so older and compatible newer writers both decode.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use apache_avro::{
    Schema, reader::datum::GenericDatumReader, types::Value, writer::datum::GenericDatumWriter,
};

use crate::{
    Event, SchemaCatalog,
    decode::DirectDecoder,
    encode::DirectEncoder,
    registry::{RegistryClient, RegistryError},
    wire::{self, FrameError},
};

/// Why a record cannot be decoded; [`DecodeError::reason`] is the bounded code for DLQ headers.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not Confluent-framed.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The schema id is neither embedded nor known to the registry.
    #[error("unknown schema id {0}")]
    UnknownSchemaId(u32),
    /// The schema id names another record than the one expected on this topic.
    #[error("schema id {id} is {found}, expected {expected}")]
    WrongRecord {
        /// Schema id.
        id: u32,
        /// Record expected.
        expected: &'static str,
        /// Record of the id.
        found: String,
    },
    /// The body does not decode with the writer schema.
    #[error("Avro body does not match schema id {id}: {source}")]
    Avro {
        /// Schema id.
        id: u32,
        /// Decoder error.
        source: apache_avro::Error,
    },
    /// Bytes were left after the record.
    #[error("{0} bytes left after the record: not written with its schema id")]
    Trailing(usize),
    /// The registry could not be asked.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The registry returned a schema that does not parse.
    #[error("registry schema id {id} does not parse: {source}")]
    BadRegistrySchema {
        /// Schema id.
        id: u32,
        /// Parser error.
        source: apache_avro::Error,
    },
}

impl DecodeError {
    /// A short, bounded code naming the kind of failure (for metrics and DLQ headers).
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Frame(_) => "not_confluent_framed",
            DecodeError::UnknownSchemaId(_) => "unknown_schema_id",
            DecodeError::WrongRecord { .. } => "wrong_record_type",
            DecodeError::Avro { .. } | DecodeError::Trailing(_) => "avro_decode",
            DecodeError::Registry(_) | DecodeError::BadRegistrySchema { .. } => "schema_registry",
        }
    }
}

/// Why a record cannot be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The record's type has no schema in the catalog.
    #[error("no schema for {0} in the catalog")]
    NoSchema(&'static str),
    /// The value does not fit its schema.
    #[error("{record} does not fit its schema: {source}")]
    Avro {
        /// Record full name.
        record: &'static str,
        /// Encoder error.
        source: apache_avro::Error,
    },
}

enum Plan {
    /// Writer schema equals the type's schema: decode straight into the type, with the direct
    /// decoder when the schema compiles for it, else (and whenever it declines) apache-avro.
    Direct(Option<DirectDecoder>, GenericDatumReader<'static>),
    /// Another version: decode, resolve into the type's schema, then deserialize.
    Resolve(GenericDatumReader<'static>),
}

struct Writer {
    id: u32,
    /// The schema compiled for the direct encoder; None when it uses something it cannot write.
    direct: Option<DirectEncoder>,
    /// apache-avro's serializer: the reference, used whenever the direct encoder declines.
    writer: GenericDatumWriter<'static>,
    /// The largest record written so far: [`Codec::encode`] allocates that much up front, so a
    /// record's buffer is not grown (and copied) while it is written.
    size_hint: std::sync::atomic::AtomicUsize,
}

struct Inner {
    catalog: &'static SchemaCatalog,
    registry: Option<RegistryClient>,
    /// By record name, hashed with foldhash: looked up for every record encoded.
    writers: HashMap<&'static str, Writer, foldhash::fast::RandomState>,
    schemas: RwLock<HashMap<u32, &'static Schema>>,
    /// Decode plans by writer id and Rust type name: a handful, so a list is searched faster
    /// than a map hashes the name.
    plans: RwLock<Vec<(u32, &'static str, Arc<Plan>)>>,
}

/// Encodes and decodes records; cheap to clone and share between threads.
#[derive(Clone)]
pub struct Codec {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec")
            .field("registry", &self.inner.registry)
            .finish()
    }
}

impl Codec {
    /// A codec over the embedded catalog and its checked-in ids; needs nothing running.
    pub fn embedded() -> Self {
        let catalog = SchemaCatalog::embedded();
        let ids = catalog
            .entries()
            .iter()
            .map(|e| (e.full_name.as_str(), e.id));
        Self::build(catalog, None, ids.collect())
    }

    /// A codec that registers the catalog's newest schemas in a registry and resolves unknown
    /// ids there.
    pub async fn with_registry(client: RegistryClient) -> Result<Self, RegistryError> {
        let catalog = SchemaCatalog::embedded();
        let mut ids = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for e in catalog.entries().iter().rev() {
            if seen.insert(e.full_name.as_str()) {
                let id = client.register(&e.full_name, &e.text).await?;
                ids.push((e.full_name.as_str(), id));
            }
        }
        Ok(Self::build(catalog, Some(client), ids))
    }

    /// Embedded when `registry_url` is None, else through the registry.
    pub async fn from_settings(registry_url: Option<&str>) -> Result<Self, RegistryError> {
        match registry_url {
            None => Ok(Self::embedded()),
            Some(url) => Self::with_registry(RegistryClient::new(url)?).await,
        }
    }

    fn build(
        catalog: &'static SchemaCatalog,
        registry: Option<RegistryClient>,
        ids: Vec<(&'static str, u32)>,
    ) -> Self {
        let mut schemas = HashMap::new();
        if registry.is_none() {
            for e in catalog.entries() {
                schemas.insert(e.id, e.schema);
            }
        }
        let mut writers = HashMap::default();
        for (name, id) in ids {
            let Some(latest) = catalog.latest(name) else {
                continue;
            };
            if registry.is_some() || latest.id == id {
                schemas.insert(id, latest.schema);
                if let Ok(writer) = GenericDatumWriter::builder(latest.schema)
                    .validate(false)
                    .build()
                {
                    let direct = DirectEncoder::compile(latest.schema)
                        .inspect_err(|e| {
                            tracing::debug!(record = name, error = %e, "Avro encoding through apache-avro only");
                        })
                        .ok();
                    writers.insert(
                        name,
                        Writer {
                            id,
                            direct,
                            writer,
                            size_hint: std::sync::atomic::AtomicUsize::new(64),
                        },
                    );
                }
            }
        }
        Self {
            inner: Arc::new(Inner {
                catalog,
                registry,
                writers,
                schemas: RwLock::new(schemas),
                plans: RwLock::new(Vec::new()),
            }),
        }
    }

    /// The schema catalog this codec reads its types' schemas from.
    pub fn catalog(&self) -> &'static SchemaCatalog {
        self.inner.catalog
    }

    /// The id this codec writes records of `full_name` with.
    pub fn writer_id(&self, full_name: &str) -> Option<u32> {
        self.inner.writers.get(full_name).map(|w| w.id)
    }

    /// Encodes `value` as a framed record.
    pub fn encode<T: Event>(&self, value: &T) -> Result<Vec<u8>, EncodeError> {
        use std::sync::atomic::Ordering::Relaxed;
        let w = self.writer::<T>()?;
        let mut out = Vec::with_capacity(w.size_hint.load(Relaxed));
        Self::write(w, value, &mut out)?;
        w.size_hint.fetch_max(out.len(), Relaxed);
        Ok(out)
    }

    fn writer<T: Event>(&self) -> Result<&Writer, EncodeError> {
        self.inner
            .writers
            .get(T::FULL_NAME)
            .ok_or(EncodeError::NoSchema(T::FULL_NAME))
    }

    /// Appends `value` as a framed record to `out` (reuse `out` to avoid allocations).
    ///
    /// Written by the schema-driven [`DirectEncoder`]; a value it declines (e.g. struct fields
    /// not in schema order) goes through apache-avro's `write_ser`, which writes the same bytes.
    pub fn encode_into<T: Event>(&self, value: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        Self::write(self.writer::<T>()?, value, out)
    }

    fn write<T: Event>(w: &Writer, value: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let start = out.len();
        wire::write_header(out, w.id);
        if let Some(direct) = &w.direct {
            match direct.encode(value, out) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::trace!(record = T::FULL_NAME, error = %e, "direct Avro encoder declined; using apache-avro");
                }
            }
        }
        w.writer.write_ser(out, value).map_err(|source| {
            out.truncate(start);
            EncodeError::Avro {
                record: T::FULL_NAME,
                source,
            }
        })?;
        Ok(())
    }

    /// Decodes a framed record as `T`; ids not yet known fail with `UnknownSchemaId`
    /// (use [`Codec::decode_async`] to look them up in the registry).
    pub fn decode<T: Event>(&self, bytes: &[u8]) -> Result<T, DecodeError> {
        let (id, mut body) = wire::split(bytes)?;
        let plan = self.plan(id, T::FULL_NAME)?;
        let value = match &*plan {
            Plan::Direct(direct, r) => {
                let whole = body;
                match direct.as_ref().map(|d| d.decode::<T>(&mut body)) {
                    Some(Ok(value)) => Ok(value),
                    declined => {
                        if let Some(Err(e)) = declined {
                            tracing::trace!(record = T::FULL_NAME, error = %e, "direct Avro decoder declined; using apache-avro");
                        }
                        body = whole;
                        r.read_deser::<T>(&mut body)
                    }
                }
            }
            Plan::Resolve(r) => r
                .read_value(&mut body)
                .and_then(|v| apache_avro::from_value::<T>(&v)),
        }
        .map_err(|source| DecodeError::Avro { id, source })?;
        if !body.is_empty() {
            return Err(DecodeError::Trailing(body.len()));
        }
        Ok(value)
    }

    /// Like [`Codec::decode`], first fetching an unknown writer schema from the registry.
    pub async fn decode_async<T: Event>(&self, bytes: &[u8]) -> Result<T, DecodeError> {
        let (id, _) = wire::split(bytes)?;
        self.ensure_schema(id).await?;
        self.decode(bytes)
    }

    /// The writer schema of a framed record, fetched from the registry if needed.
    pub async fn writer_schema(&self, bytes: &[u8]) -> Result<(u32, &'static Schema), DecodeError> {
        let (id, _) = wire::split(bytes)?;
        self.ensure_schema(id).await?;
        self.schema(id).map(|s| (id, s))
    }

    /// Decodes a framed record with its writer schema into a generic Avro value.
    pub async fn decode_generic(&self, bytes: &[u8]) -> Result<(u32, Value), DecodeError> {
        let (id, schema) = self.writer_schema(bytes).await?;
        let (_, mut body) = wire::split(bytes)?;
        let r = GenericDatumReader::builder(schema)
            .build()
            .map_err(|source| DecodeError::Avro { id, source })?;
        let v = r
            .read_value(&mut body)
            .map_err(|source| DecodeError::Avro { id, source })?;
        Ok((id, v))
    }

    async fn ensure_schema(&self, id: u32) -> Result<(), DecodeError> {
        if self.schema(id).is_ok() {
            return Ok(());
        }
        let Some(registry) = &self.inner.registry else {
            return Err(DecodeError::UnknownSchemaId(id));
        };
        let text = registry.fetch(id).await?;
        let schema = Schema::parse_str(&text)
            .map_err(|source| DecodeError::BadRegistrySchema { id, source })?;
        let leaked: &'static Schema = Box::leak(Box::new(schema));
        self.inner
            .schemas
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id)
            .or_insert(leaked);
        Ok(())
    }

    fn schema(&self, id: u32) -> Result<&'static Schema, DecodeError> {
        let schemas = self.inner.schemas.read().unwrap_or_else(|p| p.into_inner());
        schemas
            .get(&id)
            .copied()
            .ok_or(DecodeError::UnknownSchemaId(id))
    }

    fn plan(&self, id: u32, full_name: &'static str) -> Result<Arc<Plan>, DecodeError> {
        if let Some((_, _, p)) = self
            .inner
            .plans
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(i, name, _)| *i == id && *name == full_name)
        {
            return Ok(p.clone());
        }
        let writer = self.schema(id)?;
        let found = record_name(writer);
        if found != full_name {
            return Err(DecodeError::WrongRecord {
                id,
                expected: full_name,
                found,
            });
        }
        let reader = self
            .inner
            .catalog
            .latest(full_name)
            .map(|e| e.schema)
            .unwrap_or(writer);
        let avro = |source| DecodeError::Avro { id, source };
        let plan = if std::ptr::eq(writer, reader)
            || writer.canonical_form() == reader.canonical_form()
        {
            let direct = DirectDecoder::compile(writer)
                    .inspect_err(|e| {
                        tracing::debug!(record = full_name, error = %e, "Avro decoding through apache-avro only");
                    })
                    .ok();
            Plan::Direct(
                direct,
                GenericDatumReader::builder(writer).build().map_err(avro)?,
            )
        } else {
            Plan::Resolve(
                GenericDatumReader::builder(writer)
                    .reader_schema(reader)
                    .build()
                    .map_err(avro)?,
            )
        };
        let mut plans = self.inner.plans.write().unwrap_or_else(|p| p.into_inner());
        // Another thread may have built the same plan meanwhile: keep the list free of repeats.
        if let Some((_, _, p)) = plans
            .iter()
            .find(|(i, name, _)| *i == id && *name == full_name)
        {
            return Ok(p.clone());
        }
        let plan = Arc::new(plan);
        plans.push((id, full_name, plan.clone()));
        Ok(plan)
    }
}

/// The full name of a record schema ("" for other schemas).
pub fn record_name(schema: &Schema) -> String {
    match schema {
        Schema::Record(r) => r.name.fullname(None),
        _ => String::new(),
    }
}
