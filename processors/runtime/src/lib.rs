//! Composerp's stream runtime.
//!
//! - [`kafka`]: client configuration from settings, shared by every producer and consumer so that
//!   benchmarks and services run with the same client settings.
//! - [`local`]: a Kafka-protocol broker on loopback (Tansu, memory engine) for tests and the demo,
//!   started on a free port and stopped when dropped.

pub mod kafka;
pub mod local;

pub use kafka::KafkaSettings;
pub use local::{LocalBroker, LocalBrokerError};
