//! Kafka client configuration, one place for every producer, consumer and admin client.

use rdkafka::ClientConfig;

/// Why Kafka settings are invalid.
#[derive(Debug, thiserror::Error)]
pub enum KafkaSettingsError {
    /// `KAFKA_PROPERTIES` has an entry that is not `key=value`.
    #[error("KAFKA_PROPERTIES entry {0:?} is not key=value (entries are comma separated)")]
    BadProperty(String),
    /// No broker given.
    #[error("KAFKA_BROKERS is empty: give host:port[,host:port…]")]
    NoBrokers,
    /// A SASL mechanism Composerp does not configure.
    #[error("KAFKA_SASL_MECHANISM {0:?} is none of SCRAM-SHA-256, SCRAM-SHA-512, PLAIN")]
    SaslMechanism(String),
    /// A security protocol that does not carry SASL.
    #[error("KAFKA_SECURITY_PROTOCOL {0:?} is neither SASL_PLAINTEXT nor SASL_SSL")]
    SaslProtocol(String),
}

/// SASL credentials of Composerp's clients (SCRAM on the brokers' authenticated listener).
#[derive(Clone, PartialEq, Eq)]
pub struct Sasl {
    /// `SASL_PLAINTEXT` or `SASL_SSL`.
    pub protocol: String,
    /// `SCRAM-SHA-256`, `SCRAM-SHA-512` or `PLAIN`.
    pub mechanism: String,
    /// User name.
    pub username: String,
    /// Password (never printed).
    pub password: String,
}

impl Sasl {
    /// Checked credentials; `protocol` defaults to `SASL_PLAINTEXT`, `mechanism` to
    /// `SCRAM-SHA-512`.
    pub fn new(
        protocol: Option<&str>,
        mechanism: Option<&str>,
        username: &str,
        password: &str,
    ) -> Result<Self, KafkaSettingsError> {
        let protocol = protocol.unwrap_or("SASL_PLAINTEXT").to_ascii_uppercase();
        if !["SASL_PLAINTEXT", "SASL_SSL"].contains(&protocol.as_str()) {
            return Err(KafkaSettingsError::SaslProtocol(protocol));
        }
        let mechanism = mechanism.unwrap_or("SCRAM-SHA-512").to_ascii_uppercase();
        if !["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"].contains(&mechanism.as_str()) {
            return Err(KafkaSettingsError::SaslMechanism(mechanism));
        }
        Ok(Sasl {
            protocol,
            mechanism,
            username: username.to_owned(),
            password: password.to_owned(),
        })
    }
}

impl std::fmt::Debug for Sasl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sasl")
            .field("protocol", &self.protocol)
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Where the brokers are and any extra librdkafka properties (security, tuning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaSettings {
    /// Bootstrap servers, `host:port[,host:port…]`.
    pub brokers: String,
    /// Extra librdkafka properties, applied last (e.g. `security.protocol=SASL_SSL`).
    pub properties: Vec<(String, String)>,
    /// SASL credentials, applied before the extra properties.
    pub sasl: Option<Sasl>,
}

impl KafkaSettings {
    /// Settings for `brokers` with extra properties parsed from `k=v,k=v` text; a piece without
    /// `=` continues the previous value (`debug=fetch,cgrp,acks=1` sets debug to `fetch,cgrp`).
    pub fn new(brokers: &str, properties: Option<&str>) -> Result<Self, KafkaSettingsError> {
        if brokers.trim().is_empty() {
            return Err(KafkaSettingsError::NoBrokers);
        }
        let mut props: Vec<(String, String)> = Vec::new();
        for entry in properties
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            match (entry.split_once('='), props.last_mut()) {
                (Some((k, v)), _) => props.push((k.trim().to_owned(), v.trim().to_owned())),
                // No `=`: the value of the previous entry goes on after a comma, as in
                // `debug=fetch,cgrp`.
                (None, Some((_, v))) => {
                    v.push(',');
                    v.push_str(entry);
                }
                (None, None) => return Err(KafkaSettingsError::BadProperty(entry.to_owned())),
            }
        }
        Ok(Self {
            brokers: brokers.trim().to_owned(),
            properties: props,
            sasl: None,
        })
    }

    /// The same settings authenticating with `sasl`.
    pub fn with_sasl(mut self, sasl: Sasl) -> Self {
        self.sasl = Some(sasl);
        self
    }

    fn base(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers)
            .set("client.id", "composerp");
        c
    }

    fn finish(&self, mut c: ClientConfig) -> ClientConfig {
        if let Some(s) = &self.sasl {
            c.set("security.protocol", &s.protocol)
                .set("sasl.mechanism", &s.mechanism)
                .set("sasl.username", &s.username)
                .set("sasl.password", &s.password);
        }
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        c
    }

    /// Configuration for admin clients and metadata look-ups.
    pub fn admin(&self) -> ClientConfig {
        self.finish(self.base())
    }

    /// Configuration for high-throughput producers: batched, acknowledged by all replicas.
    pub fn producer(&self) -> ClientConfig {
        let mut c = self.base();
        // murmur2 is the Java client's partitioner: records keyed by Composerp and by other
        // producers land in the same partition, so co-partitioned topics stay co-partitioned.
        c.set("partitioner", "murmur2_random")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("batch.num.messages", "10000")
            .set("batch.size", "1000000")
            .set("queue.buffering.max.messages", "1000000")
            .set("queue.buffering.max.kbytes", "1048576")
            .set("message.timeout.ms", "60000");
        self.finish(c)
    }

    /// Configuration for a consumer of `group`; offsets are stored and committed explicitly.
    pub fn consumer(&self, group: &str) -> ClientConfig {
        let mut c = self.base();
        c.set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("session.timeout.ms", "10000")
            .set("fetch.min.bytes", "1")
            .set("fetch.wait.max.ms", "100")
            .set("queued.min.messages", "100000");
        self.finish(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_properties_apply_last() {
        let s = KafkaSettings::new("b:9092", Some("acks=1, security.protocol=SSL")).expect("valid");
        let p = s.producer();
        assert_eq!(p.get("acks"), Some("1"));
        assert_eq!(p.get("security.protocol"), Some("SSL"));
        assert_eq!(p.get("bootstrap.servers"), Some("b:9092"));
    }

    #[test]
    fn a_value_with_commas_continues_after_them() {
        let s = KafkaSettings::new("b:1", Some("debug=fetch,cgrp, acks=1")).expect("valid");
        let c = s.consumer("g");
        assert_eq!(c.get("debug"), Some("fetch,cgrp"));
        assert_eq!(c.get("acks"), Some("1"));
    }

    #[test]
    fn malformed_settings_are_refused() {
        assert!(matches!(
            KafkaSettings::new(" ", None),
            Err(KafkaSettingsError::NoBrokers)
        ));
        assert!(matches!(
            KafkaSettings::new("b:1", Some("acks")),
            Err(KafkaSettingsError::BadProperty(_))
        ));
    }

    #[test]
    fn sasl_credentials_configure_every_client_and_are_never_printed() {
        let sasl = Sasl::new(None, Some("scram-sha-256"), "composerp", "s3cret").expect("valid");
        let s = KafkaSettings::new("b:9094", None)
            .expect("valid")
            .with_sasl(sasl);
        for c in [s.admin(), s.producer(), s.consumer("g")] {
            assert_eq!(c.get("security.protocol"), Some("SASL_PLAINTEXT"));
            assert_eq!(c.get("sasl.mechanism"), Some("SCRAM-SHA-256"));
            assert_eq!(c.get("sasl.username"), Some("composerp"));
            assert_eq!(c.get("sasl.password"), Some("s3cret"));
        }
        assert!(!format!("{s:?}").contains("s3cret"));
        assert!(matches!(
            Sasl::new(Some("PLAINTEXT"), None, "u", "p"),
            Err(KafkaSettingsError::SaslProtocol(_))
        ));
        assert!(matches!(
            Sasl::new(None, Some("GSSAPI"), "u", "p"),
            Err(KafkaSettingsError::SaslMechanism(_))
        ));
    }
}
