//! The processors a binary can run by name; each is added with one line.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use composerp_events::Codec;
use composerp_kafka::KafkaSettings;

use crate::{
    engine::{self, EngineConfig, EngineError},
    processor::Processor,
};

/// What a processor run needs.
#[derive(Clone)]
pub struct RunArgs {
    /// Kafka connection.
    pub kafka: KafkaSettings,
    /// Codec (embedded or registry).
    pub codec: Codec,
    /// Batching and state directory.
    pub config: EngineConfig,
    /// Set to stop.
    pub stop: Arc<AtomicBool>,
}

type RunFn = fn(RunArgs) -> Result<(), EngineError>;

/// Processors by name.
#[derive(Default)]
pub struct Registry {
    entries: Vec<(&'static str, RunFn)>,
}

/// Runs `P` until it stops; an engine that found another process writing to one of its
/// partitions' changelogs ([`EngineError::Superseded`]) has published nothing since, and starts
/// over from the changelog.
fn run_one<P: Processor + Default>(a: RunArgs) -> Result<(), EngineError> {
    loop {
        let run = engine::run(
            P::default(),
            a.kafka.clone(),
            a.codec.clone(),
            a.config.clone(),
            a.stop.clone(),
        );
        match run {
            Err(e @ EngineError::Superseded { .. }) if !a.stop.load(Ordering::Relaxed) => {
                tracing::warn!(processor = P::NAME, error = %e, "Superseded: starting over from the changelog.");
            }
            other => return other,
        }
    }
}

impl Registry {
    /// Registers a processor under its `NAME`.
    pub fn add<P: Processor + Default>(&mut self) -> &mut Self {
        self.entries.push((P::NAME, run_one::<P>));
        self
    }

    /// Registered names.
    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.0).collect()
    }

    /// The runner of `name`.
    pub fn get(&self, name: &str) -> Option<RunFn> {
        self.entries.iter().find(|e| e.0 == name).map(|e| e.1)
    }
}
