//! Writes go to the event log, not to the tables: a validated write becomes an event on its
//! topic, and the sinks materialize it like any other.

use std::time::Duration;

use composerp_events::{Codec, Event};
use composerp_kafka::KafkaSettings;
use composerp_topics::TopicCatalog;
use rdkafka::{
    error::KafkaError,
    producer::{FutureProducer, FutureRecord},
};

use crate::problem::Problem;

/// Publishes the API's events and waits for the broker's acknowledgement.
pub struct Events {
    producer: FutureProducer,
    codec: Codec,
}

impl Events {
    /// A producer with the settings' configuration.
    pub fn new(kafka: &KafkaSettings, codec: Codec) -> Result<Self, KafkaError> {
        Ok(Events {
            producer: kafka.producer().create()?,
            codec,
        })
    }

    /// Publishes `event` to topic `topic` (an id of topics/catalog.toml), keyed by the topic's
    /// key format; 503 when the broker does not acknowledge it in time.
    pub async fn publish<E: Event>(&self, topic: &str, event: &E) -> Result<(), Problem> {
        let spec = TopicCatalog::embedded().get(topic).map_err(|e| {
            tracing::error!(error = %e, topic, "Topic missing from the catalog.");
            Problem::internal()
        })?;
        let key = spec.key.key(event.key_parts()).map_err(|e| {
            tracing::error!(error = %e, topic, "Event does not fit the topic key.");
            Problem::internal()
        })?;
        let payload = self.codec.encode(event).map_err(|e| {
            tracing::error!(error = %e, topic, "Event does not encode.");
            Problem::internal()
        })?;
        self.producer
            .send(
                FutureRecord::to(&spec.name).key(&key).payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| {
                tracing::warn!(error = %e, topic, "Publishing a write failed.");
                Problem::unavailable("the event log is unavailable; retry shortly")
            })?;
        Ok(())
    }
}
