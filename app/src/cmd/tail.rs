//! `composerp tail`: a topic's records as JSON lines.

use std::{
    io::Write,
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::Context;
use composerp_events::{Codec, codec::record_name, kind_of, kinds::value_to_json};
use composerp_topics::TopicCatalog;
use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
    message::{BorrowedMessage, Headers},
};
use serde_json::{Value, json};

use crate::cli::{Settings, TailArgs};

pub async fn run(args: TailArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let topic = TopicCatalog::embedded().get(&args.topic)?;
    let codec = super::codec(settings).await?;
    let group = format!("composerp-tail-{}", std::process::id());
    let consumer: BaseConsumer = settings
        .kafka
        .consumer(&group)
        .create()
        .context("creating the Kafka consumer")?;
    let md = consumer
        .fetch_metadata(Some(&topic.name), Duration::from_secs(20))
        .with_context(|| format!("reading metadata of {}", topic.name))?;
    let partitions = md
        .topics()
        .first()
        .map(|t| t.partitions().len())
        .unwrap_or(0);
    anyhow::ensure!(
        partitions > 0,
        "topic {} does not exist (run `composerp topics apply`)",
        topic.name
    );
    let mut tpl = TopicPartitionList::new();
    // Offset 0 rather than "beginning": Tansu answers "earliest" on compacted topics with the
    // last offset; an offset that no longer exists resets to the earliest record.
    let start = if args.from_beginning {
        Offset::Offset(0)
    } else {
        Offset::End
    };
    for p in 0..partitions as i32 {
        tpl.add_partition_offset(&topic.name, p, start)?;
    }
    consumer.assign(&tpl)?;

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut count = 0u64;
    let mut last = Instant::now();
    while args.max.is_none_or(|m| count < m) {
        if args
            .idle_timeout
            .is_some_and(|s| last.elapsed() >= Duration::from_secs(s))
        {
            break;
        }
        let Some(msg) = consumer.poll(Duration::from_millis(200)) else {
            out.flush()?;
            continue;
        };
        let msg = msg.with_context(|| format!("consuming {}", topic.name))?;
        last = Instant::now();
        let value = render(&codec, &msg, topic.value.is_some()).await;
        let line = if args.with_metadata || topic.value.is_none() {
            json!({
                "partition": msg.partition(),
                "offset": msg.offset(),
                "key": msg.key().map(String::from_utf8_lossy),
                "headers": headers(&msg),
                "value": value,
            })
        } else {
            value
        };
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
        count += 1;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The record as JSON: typed when this build knows the record, generic otherwise; raw bytes as
/// text for dead-letter topics; an `_error` object when the bytes do not decode.
async fn render(codec: &Codec, msg: &BorrowedMessage<'_>, avro: bool) -> Value {
    let Some(bytes) = msg.payload() else {
        return Value::Null;
    };
    if !avro {
        return Value::String(String::from_utf8_lossy(bytes).into_owned());
    }
    let decoded = match codec.writer_schema(bytes).await {
        Ok((_, schema)) => match kind_of(&record_name(schema)) {
            Some(kind) => kind.record_to_json(codec, bytes),
            None => codec
                .decode_generic(bytes)
                .await
                .map(|(_, v)| value_to_json(&v)),
        },
        Err(e) => Err(e),
    };
    decoded
        .unwrap_or_else(|e| json!({ "_error": { "reason": e.reason(), "detail": e.to_string() } }))
}

fn headers(msg: &BorrowedMessage<'_>) -> Value {
    let mut map = serde_json::Map::new();
    if let Some(h) = msg.headers() {
        for header in h.iter() {
            let v = header
                .value
                .map(|v| String::from_utf8_lossy(v).into_owned());
            map.insert(
                header.key.to_owned(),
                v.map(Value::String).unwrap_or(Value::Null),
            );
        }
    }
    Value::Object(map)
}
