//! Composerp's Kafka layer, shared by the processor runtime, the sinks and the API: everything
//! that talks to a broker and knows nothing of processors, state or Postgres.
//!
//! - [`settings`]: client configuration from settings, shared by every producer and consumer so
//!   that benchmarks and services run with the same client settings.
//! - [`publish`]: a batched producer that counts acknowledgements.
//! - [`local`]: a Kafka-protocol broker on loopback (Tansu, memory engine) for tests and the
//!   demo, started on a free port and stopped when dropped.
//! - [`member`]: one consumer-group member, the loop the engine and the sinks share: assignment
//!   and revocation handed to a [`Member`](member::Member), stalled partitions fetched again, the
//!   group joined again when it forgot the member.
//! - [`group`]: the group's housekeeping: when to rejoin, which partitions stall, offset commits.
//! - [`lag`]: consumer lag of the owned partitions as a gauge.
//! - [`fetch`]: the fetch rewind and gap re-fetch that keep consumption exact on Tansu.
//! - [`dlq`]: the headers of a dead letter, and reading dead letters back.

pub mod dlq;
pub mod fetch;
pub mod group;
pub mod lag;
pub mod local;
pub mod member;
pub mod publish;
pub mod settings;

pub use local::{LocalBroker, LocalBrokerError};
pub use publish::{PublishError, Publisher};
pub use settings::KafkaSettings;
