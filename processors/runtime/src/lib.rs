//! Composerp's stream runtime.
//!
//! - `outbox`: the engine's outputs queued to librdkafka on a thread of their own.
//! - [`processor`]: the [`Processor`](processor::Processor) trait a data engineer implements:
//!   typed inputs, keyed state, reference tables, typed outputs.
//! - [`states`]: a partition's states by key, and the keys changed since the last commit.
//! - [`task`]: one partition's processing, shared by the broker engine and the test driver.
//! - [`order`]: the order a task applied its inputs in, logged so that a replay after a crash
//!   applies them in the same order and publishes the same content under the same ids.
//! - [`fence`]: a round's outputs leave only while its partition is still this process's.
//! - [`dedupe`]: input events remembered by id within a window of event time, to drop repeats.
//! - [`timer`]: event-time and wall-clock timers, stored with a partition's state.
//! - [`engine`]: runs a processor against a Kafka cluster, effectively once: restore, rounds,
//!   batches committed as outputs → state entries → marker, rebalances.
//! - [`parallel`]: a round's partitions handled on several threads.
//! - [`store`]: a partition's local state store (fjall), a checkpoint of state and progress.
//! - [`registry`]: the processors a binary runs by name, one line each.
//! - [`driver`]: [`TestDriver`](driver::TestDriver), processors in memory for unit tests.

pub mod dedupe;
pub mod driver;
pub mod engine;
pub mod fence;
pub mod order;
mod outbox;
pub mod parallel;
pub mod processor;
pub mod registry;
pub mod states;
pub mod store;
pub mod task;
pub mod timer;
