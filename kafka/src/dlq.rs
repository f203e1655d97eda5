//! Dead letters: the headers every Composerp service puts on a record it cannot process, so an
//! operator can see why and replay it from its source.

use rdkafka::message::{Header, OwnedHeaders};

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
