//! The engine's Prometheus metrics: one handle per label set, made once.

use std::collections::HashMap;

use metrics::{Counter, Gauge, Histogram};

use composerp_topics::TopicSpec;

/// The engine's Prometheus metrics (names in the README), with handles made once per label set.
pub(super) struct Meters {
    processor: &'static str,
    topics: Vec<String>,
    pub(super) records_in: Vec<Counter>,
    /// Per input, at 0 from the start, so an alert on an increase fires at the first one.
    pub(super) dead_letters: Vec<Counter>,
    /// By input index and reason, made at the first dead letter of each.
    by_reason: HashMap<(usize, &'static str), Counter>,
    pub(super) duplicates: Vec<Counter>,
    pub(super) batches: Counter,
    pub(super) commit_seconds: Histogram,
    pub(super) batch_records: Histogram,
    pub(super) round_records: Histogram,
    pub(super) shared_rounds: Counter,
    pub(super) order_logs: Counter,
    pub(super) restored: Counter,
    pub(super) keys: Gauge,
    pub(super) dedupe_ids: Gauge,
    pub(super) timers: Gauge,
    pub(super) store_bytes: Gauge,
}

impl Meters {
    /// Handles for `processor` reading `inputs`.
    pub(super) fn new(processor: &'static str, inputs: &[TopicSpec]) -> Self {
        let per_input = |name: &'static str| {
            inputs
                .iter()
                .map(|t| metrics::counter!(name, "processor" => processor, "topic" => t.name.clone()))
                .collect()
        };
        Meters {
            processor,
            topics: inputs.iter().map(|t| t.name.clone()).collect(),
            records_in: per_input("composerp_processor_records_in_total"),
            dead_letters: per_input("composerp_processor_dead_letters_total"),
            by_reason: HashMap::new(),
            duplicates: per_input("composerp_processor_duplicates_total"),
            batches: metrics::counter!("composerp_processor_batches_total", "processor" => processor),
            commit_seconds: metrics::histogram!("composerp_processor_commit_seconds", "processor" => processor),
            batch_records: metrics::histogram!("composerp_processor_batch_records", "processor" => processor),
            round_records: metrics::histogram!("composerp_processor_round_records", "processor" => processor),
            shared_rounds: metrics::counter!("composerp_processor_shared_rounds_total", "processor" => processor),
            order_logs: metrics::counter!("composerp_processor_order_logs_total", "processor" => processor),
            restored: metrics::counter!("composerp_processor_restored_records_total", "processor" => processor),
            keys: metrics::gauge!("composerp_processor_state_keys", "processor" => processor),
            dedupe_ids: metrics::gauge!("composerp_processor_dedupe_ids", "processor" => processor),
            timers: metrics::gauge!("composerp_processor_timers", "processor" => processor),
            store_bytes: metrics::gauge!("composerp_processor_store_bytes", "processor" => processor),
        }
    }

    /// Counts a dead letter of input `index`, by its reason (a bounded code).
    pub(super) fn dead_letter(&mut self, index: usize, reason: &'static str) {
        self.dead_letters[index].increment(1);
        let (processor, topic) = (self.processor, &self.topics[index]);
        self.by_reason
            .entry((index, reason))
            .or_insert_with(|| {
                metrics::counter!("composerp_processor_dead_letters_by_reason_total", "processor" => processor, "topic" => topic.clone(), "reason" => reason)
            })
            .increment(1);
    }
}
