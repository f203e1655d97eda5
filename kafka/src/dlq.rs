//! Dead letters: the headers every Composerp service puts on a record it cannot process, so an
//! operator can see why and replay it from its source, and reading them back for `composerp dlq`.

use std::time::{Duration, Instant};

use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
    error::KafkaError,
    message::{Header, Headers, OwnedHeaders},
};

use crate::settings::KafkaSettings;

/// Where a dead letter came from and why it could not be processed.
#[derive(Debug, Clone, Copy)]
pub struct DeadLetter<'a> {
    /// Bounded reason code (`composerp.reason`).
    pub reason: &'a str,
    /// Human-readable detail (`composerp.error`).
    pub error: &'a str,
    /// Source topic name.
    pub topic: &'a str,
    /// Source partition.
    pub partition: i32,
    /// Source offset.
    pub offset: i64,
    /// The processor or sink that gave up on it (`composerp.processor`).
    pub by: &'a str,
}

impl DeadLetter<'_> {
    /// The record headers.
    pub fn headers(&self) -> OwnedHeaders {
        let (p, o) = (self.partition.to_string(), self.offset.to_string());
        [
            ("composerp.reason", self.reason),
            ("composerp.error", self.error),
            ("composerp.source.topic", self.topic),
            ("composerp.source.partition", p.as_str()),
            ("composerp.source.offset", o.as_str()),
            ("composerp.processor", self.by),
        ]
        .into_iter()
        .fold(OwnedHeaders::new(), |h, (key, value)| {
            h.insert(Header {
                key,
                value: Some(value),
            })
        })
    }
}

/// Header naming the dead letter a replayed record came from (`<dlq topic>/<partition>/<offset>`),
/// so a re-driven record can be told from the original in the source topic.
pub const REPLAY_OF_HEADER: &str = "composerp.replay.of";

/// Header of a record re-driven on purpose past the processors' deduplication window (value
/// [`REDRIVE_BEYOND_WINDOW`]): the operator vouches it never applied, so it is applied even if
/// its id can no longer be checked.
pub const REDRIVE_HEADER: &str = "composerp.redrive";

/// The one value of [`REDRIVE_HEADER`] the processors act on.
pub const REDRIVE_BEYOND_WINDOW: &str = "beyond_dedupe_window";

/// Whether a record's headers ask for a re-drive past the deduplication window.
pub fn redriven(headers: Option<&rdkafka::message::BorrowedHeaders>) -> bool {
    headers.is_some_and(|h| {
        h.iter()
            .any(|h| h.key == REDRIVE_HEADER && h.value == Some(REDRIVE_BEYOND_WINDOW.as_bytes()))
    })
}

/// Why dead letters could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    /// The dead-letter topic is not on the cluster.
    #[error("topic {0} does not exist on the cluster (run `composerp topics apply`)")]
    NoTopic(String),
    /// The broker refused or failed a call.
    #[error("reading {topic}: {source}")]
    Kafka {
        /// The dead-letter topic.
        topic: String,
        /// The client's error.
        #[source]
        source: KafkaError,
    },
}

/// A dead letter as read back from its topic: where it sits, its bytes and its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDeadLetter {
    /// Partition of the dead-letter topic.
    pub partition: i32,
    /// Offset in that partition.
    pub offset: i64,
    /// Record timestamp, ms since the epoch, if the broker gave one.
    pub timestamp_ms: Option<i64>,
    /// The original record key.
    pub key: Option<Vec<u8>>,
    /// The original record bytes.
    pub payload: Option<Vec<u8>>,
    /// `composerp.reason`, or `unknown` when the header is missing.
    pub reason: String,
    /// `composerp.error`.
    pub error: String,
    /// `composerp.source.topic`.
    pub source_topic: Option<String>,
    /// `composerp.source.partition`.
    pub source_partition: Option<i32>,
    /// `composerp.source.offset`.
    pub source_offset: Option<i64>,
    /// `composerp.processor`: who gave up on it.
    pub by: String,
}

impl StoredDeadLetter {
    /// Reads a consumed record's coordinates, bytes and dead-letter headers.
    pub fn from_message(m: &impl Message) -> Self {
        let header = |name: &str| -> Option<String> {
            m.headers()?
                .iter()
                .filter(|h| h.key == name)
                .find_map(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        Self {
            partition: m.partition(),
            offset: m.offset(),
            timestamp_ms: m.timestamp().to_millis(),
            key: m.key().map(<[u8]>::to_vec),
            payload: m.payload().map(<[u8]>::to_vec),
            reason: header("composerp.reason").unwrap_or_else(|| "unknown".into()),
            error: header("composerp.error").unwrap_or_default(),
            source_topic: header("composerp.source.topic"),
            source_partition: header("composerp.source.partition").and_then(|p| p.parse().ok()),
            source_offset: header("composerp.source.offset").and_then(|o| o.parse().ok()),
            by: header("composerp.processor").unwrap_or_default(),
        }
    }

    /// Where this dead letter sits: `<dlq topic>/<partition>/<offset>`, as the audit log and
    /// the replay header name it.
    pub fn coordinates(&self, dlq_topic: &str) -> String {
        format!("{dlq_topic}/{}/{}", self.partition, self.offset)
    }
}

/// Reads the dead letters of `topic` (written at or after `since_ms`, if given) up to the end of
/// each partition at the time of the call. Blocks: at most about `timeout` once the last record
/// has arrived.
pub fn read_all(
    settings: &KafkaSettings,
    topic: &str,
    since_ms: Option<i64>,
    timeout: Duration,
) -> Result<Vec<StoredDeadLetter>, DlqError> {
    let err = |source| DlqError::Kafka {
        topic: topic.to_owned(),
        source,
    };
    let mut config = settings.consumer(&format!("composerp-dlq-{}", std::process::id()));
    config.set("enable.partition.eof", "true");
    let consumer: BaseConsumer = config.create().map_err(err)?;
    let md = consumer.fetch_metadata(Some(topic), timeout).map_err(err)?;
    let partitions = md
        .topics()
        .first()
        .filter(|t| t.error().is_none())
        .map_or(0, |t| t.partitions().len() as i32);
    if partitions == 0 {
        return Err(DlqError::NoTopic(topic.to_owned()));
    }
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        // Offset 0 rather than "beginning" (as `tail` does): an offset that no longer exists
        // resets to the earliest record.
        let start = since_ms.map_or(Offset::Offset(0), Offset::Offset);
        tpl.add_partition_offset(topic, p, start).map_err(err)?;
    }
    if since_ms.is_some() {
        tpl = consumer.offsets_for_times(tpl, timeout).map_err(err)?;
        // A partition with nothing newer than `since` answers End: nothing to read there.
        for e in tpl.clone().elements() {
            if e.offset() == Offset::Invalid {
                tpl.set_partition_offset(topic, e.partition(), Offset::End)
                    .map_err(err)?;
            }
        }
    }
    consumer.assign(&tpl).map_err(err)?;
    let mut at_end: std::collections::BTreeSet<i32> = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    let mut last = Instant::now();
    // Every partition has reported its end, and nothing arrived for a moment: Tansu can report
    // an end a little early (its high watermark reads low), so the quiet moment is kept too.
    while !(at_end.len() == partitions as usize && last.elapsed() > Duration::from_millis(500))
        && last.elapsed() < timeout
    {
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(e)) => return Err(err(e)),
            Some(Ok(m)) => {
                last = Instant::now();
                let d = StoredDeadLetter::from_message(&m);
                if since_ms.is_none_or(|s| d.timestamp_ms.is_none_or(|t| t >= s)) {
                    out.push(d);
                }
            }
        }
    }
    out.sort_by_key(|d| (d.partition, d.offset));
    out.dedup_by_key(|d| (d.partition, d.offset));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use rdkafka::message::{OwnedMessage, Timestamp};

    use super::*;

    #[test]
    fn headers_written_are_read_back() {
        let letter = DeadLetter {
            reason: "beyond_dedupe_window",
            error: "older than the window",
            topic: "composerp.pos.sales.v1",
            partition: 3,
            offset: 42,
            by: "inventory_ledger",
        };
        let m = OwnedMessage::new(
            Some(b"payload".to_vec()),
            Some(b"t|s1".to_vec()),
            "composerp.pos.sales.v1.dlq".into(),
            Timestamp::CreateTime(1_000),
            1,
            7,
            Some(letter.headers()),
        );
        let back = StoredDeadLetter::from_message(&m);
        assert_eq!(back.reason, "beyond_dedupe_window");
        assert_eq!(back.error, "older than the window");
        assert_eq!(back.source_topic.as_deref(), Some("composerp.pos.sales.v1"));
        assert_eq!(
            (back.source_partition, back.source_offset),
            (Some(3), Some(42))
        );
        assert_eq!(back.by, "inventory_ledger");
        assert_eq!(
            (back.partition, back.offset, back.timestamp_ms),
            (1, 7, Some(1_000))
        );
        assert_eq!(back.key.as_deref(), Some(&b"t|s1"[..]));
        assert_eq!(
            back.coordinates("composerp.pos.sales.v1.dlq"),
            "composerp.pos.sales.v1.dlq/1/7"
        );
    }

    #[test]
    fn a_record_without_headers_has_an_unknown_reason() {
        let m = OwnedMessage::new(
            None,
            None,
            "x.dlq".into(),
            Timestamp::NotAvailable,
            0,
            0,
            None,
        );
        let back = StoredDeadLetter::from_message(&m);
        assert_eq!(back.reason, "unknown");
        assert_eq!(back.source_topic, None);
    }
}
