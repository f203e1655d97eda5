//! Access to a Confluent-compatible schema registry (through `schema_registry_converter`).
//!
//! Composerp uses exactly two endpoints: `POST /subjects/{subject}/versions` to register the
//! schemas it writes (the subject is the record's full name, Confluent's RecordNameStrategy) and
//! `GET /schemas/ids/{id}` to fetch the writer schema of a record it reads.

use std::time::Duration;

use schema_registry_converter::{
    async_impl::schema_registry::{SrSettings, get_schema_by_id, post_schema},
    error::SRCError,
    schema_registry_common::{SchemaType, SuppliedSchema},
};

/// Why a registry call failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry URL or client settings are unusable.
    #[error("schema registry settings: {0}")]
    Settings(String),
    /// The registry refused or failed a call.
    #[error("schema registry call failed: {0}")]
    Call(String),
    /// The registry returned a schema that is not Avro.
    #[error("schema id {id} is a {kind} schema, not Avro")]
    NotAvro {
        /// Schema id.
        id: u32,
        /// Type the registry reported.
        kind: String,
    },
}

impl From<SRCError> for RegistryError {
    fn from(e: SRCError) -> Self {
        RegistryError::Call(e.to_string())
    }
}

/// A client of one Confluent-compatible registry.
#[derive(Clone)]
pub struct RegistryClient {
    settings: SrSettings,
    url: String,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("url", &redact(&self.url))
            .finish()
    }
}

/// The URL with any `user:password@` removed, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(a)) if a > s => format!("{}***@{}", &url[..s + 3], &url[a + 1..]),
        _ => url.to_owned(),
    }
}

impl RegistryClient {
    /// A client for `url`; `user:password@` in the URL becomes basic authentication.
    pub fn new(url: &str) -> Result<Self, RegistryError> {
        let trimmed = url.trim_end_matches('/');
        let (base, auth) = split_auth(trimmed);
        let mut builder = SrSettings::new_builder(base);
        builder.set_timeout(Duration::from_secs(10)).no_proxy();
        if let Some((user, pass)) = auth {
            builder.set_basic_authorization(&user, Some(&pass));
        }
        let settings = builder
            .build()
            .map_err(|e| RegistryError::Settings(e.to_string()))?;
        Ok(Self {
            settings,
            url: trimmed.to_owned(),
        })
    }

    /// Registers `schema` under `subject` (idempotent) and returns its id.
    pub async fn register(&self, subject: &str, schema: &str) -> Result<u32, RegistryError> {
        let supplied = SuppliedSchema::new(
            Some(subject.to_owned()),
            SchemaType::Avro,
            schema.to_owned(),
        );
        Ok(post_schema(&self.settings, subject.to_owned(), supplied)
            .await?
            .id)
    }

    /// Fetches the Avro schema text with this id.
    pub async fn fetch(&self, id: u32) -> Result<String, RegistryError> {
        let s = get_schema_by_id(id, &self.settings).await?;
        match s.schema_type {
            SchemaType::Avro => Ok(s.schema),
            other => Err(RegistryError::NotAvro {
                id,
                kind: format!("{other:?}"),
            }),
        }
    }
}

fn split_auth(url: &str) -> (String, Option<(String, String)>) {
    if let (Some(s), Some(a)) = (url.find("://"), url.rfind('@'))
        && a > s
    {
        let creds = &url[s + 3..a];
        let (user, pass) = creds.split_once(':').unwrap_or((creds, ""));
        return (
            format!("{}{}", &url[..s + 3], &url[a + 1..]),
            Some((user.to_owned(), pass.to_owned())),
        );
    }
    (url.to_owned(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_split_off_and_redacted() {
        let (base, auth) = split_auth("https://u:p@sr.example:8081");
        assert_eq!(base, "https://sr.example:8081");
        assert_eq!(auth, Some(("u".to_owned(), "p".to_owned())));
        assert_eq!(redact("https://u:p@sr.example"), "https://***@sr.example");
        assert_eq!(redact("http://sr:8081"), "http://sr:8081");
    }
}
