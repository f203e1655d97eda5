//! The processors a binary can run by name; each is added with one line.

use std::sync::{Arc, atomic::AtomicBool};

use composerp_events::Codec;

use crate::{
    KafkaSettings,
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

fn run_one<P: Processor + Default>(a: RunArgs) -> Result<(), EngineError> {
    engine::run(P::default(), a.kafka, a.codec, a.config, a.stop)
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
