//! Composerp's stream runtime: what a processor is, and the engine that runs it effectively
//! once. Everything that talks to a broker without knowing processors is in `composerp_kafka`.
//!
//! What a data engineer uses:
//! - [`processor`]: the [`Processor`](processor::Processor) trait: typed inputs, keyed state,
//!   reference tables, typed outputs, and the check of its topics against the catalog.
//! - [`timer`]: event-time and wall-clock timers, stored with a partition's state.
//! - [`driver`]: [`TestDriver`](driver::TestDriver), processors in memory for unit tests,
//!   crashes and redeliveries included.
//! - [`registry`]: the processors a binary runs by name, one line each.
//!
//! How a partition is processed:
//! - [`task`]: one partition's processing, shared by the broker engine and the test driver.
//! - [`states`]: a partition's states by key, and the keys changed since the last commit.
//! - [`dedupe`]: input events remembered by id within a window of event time, to drop repeats.
//! - [`order`]: the order a task applied its inputs in, logged so that a replay after a crash
//!   applies them in the same order and publishes the same content under the same ids.
//!
//! How the engine runs it on a cluster:
//! - [`engine`]: restore, rounds, batches committed as outputs → state entries → marker,
//!   rebalances; each of its modules tells its part of the protocol.
//! - [`parallel`]: a round's partitions handled on several threads.
//! - `outbox`: the engine's outputs queued to librdkafka on a thread of their own.
//! - [`fence`]: a round's outputs leave only while its partition is still this process's.
//! - [`store`]: a partition's local state store (fjall), a checkpoint of state and progress.

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
