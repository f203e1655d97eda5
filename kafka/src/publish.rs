//! A batched producer that counts deliveries, for tools that publish many records.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use rdkafka::{
    ClientContext,
    error::{KafkaError, RDKafkaErrorCode},
    message::{DeliveryResult, OwnedHeaders},
    producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer},
};

use crate::settings::KafkaSettings;

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The producer could not be created or the broker refused a record.
    #[error("Kafka producer: {0}")]
    Kafka(#[from] KafkaError),
    /// Some records were not acknowledged.
    #[error("{failed} records were not delivered; first error: {first}")]
    Undelivered {
        /// Count of failed deliveries.
        failed: u64,
        /// The first delivery error.
        first: String,
    },
}

#[derive(Default)]
struct Counts {
    delivered: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

struct Context(Arc<Counts>);

impl ClientContext for Context {}

impl ProducerContext for Context {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.0.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.0.failed.fetch_add(1, Ordering::Relaxed);
                let mut first = self.0.first_error.lock().unwrap_or_else(|p| p.into_inner());
                first.get_or_insert_with(|| e.to_string());
            }
        }
    }
}

/// Publishes records asynchronously in batches; [`Publisher::flush`] waits for every ack.
pub struct Publisher {
    producer: ThreadedProducer<Context>,
    counts: Arc<Counts>,
    sent: u64,
}

impl Publisher {
    /// A publisher with the settings' producer configuration.
    pub fn new(settings: &KafkaSettings) -> Result<Self, PublishError> {
        let counts = Arc::new(Counts::default());
        let producer = settings
            .producer()
            .create_with_context(Context(counts.clone()))?;
        Ok(Self {
            producer,
            counts,
            sent: 0,
        })
    }

    /// Queues one record, waiting while the local queue is full.
    pub fn send(
        &mut self,
        topic: &str,
        key: &[u8],
        payload: &[u8],
        headers: Option<OwnedHeaders>,
    ) -> Result<(), PublishError> {
        let mut record = BaseRecord::to(topic).key(key).payload(payload);
        if let Some(h) = headers {
            record = record.headers(h);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => {
                    self.sent += 1;
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
    }

    /// Records queued so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Records acknowledged so far.
    pub fn delivered(&self) -> u64 {
        self.counts.delivered.load(Ordering::Relaxed)
    }

    /// Waits until every queued record is acknowledged; fails if any was not.
    pub fn flush(&mut self) -> Result<u64, PublishError> {
        self.producer.flush(Duration::from_secs(120))?;
        let failed = self.counts.failed.load(Ordering::Relaxed);
        if failed > 0 {
            let first = self
                .counts
                .first_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .unwrap_or_default();
            return Err(PublishError::Undelivered { failed, first });
        }
        Ok(self.delivered())
    }
}
