//! Composerp's stream runtime.
//!
//! - [`kafka`]: client configuration from settings, shared by every producer and consumer so that
//!   benchmarks and services run with the same client settings.
//! - [`lag`]: consumer lag of the owned partitions as a gauge.
//! - `outbox`: the engine's outputs queued to librdkafka on a thread of their own.
//! - [`local`]: a Kafka-protocol broker on loopback (Tansu, memory engine) for tests and the demo,
//!   started on a free port and stopped when dropped.
//! - [`publish`]: a batched producer that counts acknowledgements.
//! - [`processor`]: the [`Processor`](processor::Processor) trait a data engineer implements:
//!   typed inputs, keyed state, reference tables, typed outputs.
//! - [`fetch`]: the fetch rewind and gap re-fetch that keep consumption exact on Tansu.
//! - [`group`]: rejoining a consumer group that left a member without partitions.
//! - [`states`]: a partition's states by key, and the keys changed since the last commit.
//! - [`task`]: one partition's processing, shared by the broker engine and the test driver.
//! - [`order`]: the order a task applied its inputs in, logged so that a replay after a crash
//!   applies them in the same order and publishes the same content under the same ids.
//! - [`fence`]: a round's outputs leave only while its partition is still this process's.
//! - [`dedupe`]: input events remembered by id within a window of event time, to drop repeats.
//! - [`timer`]: event-time and wall-clock timers, stored with a partition's state.
//! - [`dlq`]: the headers of a dead letter.
//! - [`engine`]: runs a processor against a Kafka cluster, effectively once: restore, rounds,
//!   batches committed as outputs → state entries → marker, rebalances.
//! - [`parallel`]: a round's partitions handled on several threads.
//! - [`store`]: a partition's local state store (fjall), a checkpoint of state and progress.
//! - [`registry`]: the processors a binary runs by name, one line each.
//! - [`driver`]: [`TestDriver`](driver::TestDriver), processors in memory for unit tests.

pub mod dedupe;
pub mod dlq;
pub mod driver;
pub mod engine;
pub mod fence;
pub mod fetch;
pub mod group;
pub mod kafka;
pub mod lag;
pub mod local;
pub mod order;
mod outbox;
pub mod parallel;
pub mod processor;
pub mod publish;
pub mod registry;
pub mod states;
pub mod store;
pub mod task;
pub mod timer;

pub use kafka::KafkaSettings;
pub use local::{LocalBroker, LocalBrokerError};
pub use publish::{PublishError, Publisher};
