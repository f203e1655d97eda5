//! Consumer lag as a gauge: how far each owned partition is behind its high watermark.

use std::{
    collections::BTreeSet,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::settings::KafkaSettings;

/// Which gauge the lag goes to: `metric{<label>, topic, partition}`.
#[derive(Debug, Clone)]
pub struct Lag {
    /// Gauge name, e.g. `composerp_sink_consumer_lag_records`.
    pub metric: &'static str,
    /// The one bounded label naming the consumer, e.g. ("sink", "postgres").
    pub label: (&'static str, String),
}

impl Lag {
    /// Every 5 s until `stop`, sets the gauge of every (topic, partition, next offset) that
    /// `positions` lists to high watermark minus next offset; a partition no longer listed drops
    /// to zero. Blocks: run it on a thread of its own.
    pub fn report(
        &self,
        kafka: &KafkaSettings,
        positions: impl Fn() -> Vec<(String, i32, i64)>,
        stop: &AtomicBool,
    ) {
        let Ok(consumer) = kafka
            .consumer(&format!("composerp-lag-{}", self.label.1))
            .create::<BaseConsumer>()
        else {
            return;
        };
        let gauge = |topic: &str, p: i32| {
            metrics::gauge!(
                self.metric,
                self.label.0 => self.label.1.clone(),
                "topic" => topic.to_owned(),
                "partition" => p.to_string()
            )
        };
        let mut owned: BTreeSet<(String, i32)> = BTreeSet::new();
        let mut last = Instant::now() - Duration::from_secs(60);
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            if last.elapsed() < Duration::from_secs(5) {
                continue;
            }
            last = Instant::now();
            let now = positions();
            let current: BTreeSet<(String, i32)> =
                now.iter().map(|(t, p, _)| (t.clone(), *p)).collect();
            for (t, p) in owned.difference(&current) {
                gauge(t, *p).set(0.0);
            }
            owned = current;
            for (t, p, next) in &now {
                if let Ok((_, high)) = consumer.fetch_watermarks(t, *p, Duration::from_secs(2)) {
                    gauge(t, *p).set((high - next).max(0) as f64);
                }
            }
        }
    }
}
