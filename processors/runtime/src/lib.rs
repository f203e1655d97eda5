//! Composerp's stream runtime.
//!
//! - [`kafka`]: client configuration from settings, shared by every producer and consumer so that
//!   benchmarks and services run with the same client settings.
//! - [`local`]: a Kafka-protocol broker on loopback (Tansu, memory engine) for tests and the demo,
//!   started on a free port and stopped when dropped.
//! - [`publish`]: a batched producer that counts acknowledgements.

pub mod kafka;
pub mod local;
pub mod publish;

pub use kafka::KafkaSettings;
pub use local::{LocalBroker, LocalBrokerError};
pub use publish::{PublishError, Publisher};
