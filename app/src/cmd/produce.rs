//! `composerp produce`: JSON lines to Avro records, one bad line never stops the rest.

use std::{
    io::{BufRead, BufReader},
    process::ExitCode,
};

use anyhow::Context;
use composerp_events::kind_of;
use composerp_kafka::Publisher;
use composerp_topics::TopicCatalog;

use crate::cli::{ProduceArgs, Settings};

/// Exit code when some lines were rejected (the others were published).
pub const REJECTED_LINES: u8 = 4;

pub async fn run(args: ProduceArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let topic = TopicCatalog::embedded().get(&args.topic)?;
    let value = topic
        .value
        .as_deref()
        .with_context(|| format!("{} carries raw bytes, not records", topic.name))?;
    let kind = kind_of(value).with_context(|| format!("no record type {value}"))?;
    let codec = super::codec(settings).await?;
    let input: Box<dyn BufRead> = match &args.file {
        Some(f) => Box::new(BufReader::new(
            std::fs::File::open(f).with_context(|| format!("opening {}", f.display()))?,
        )),
        None => Box::new(BufReader::new(std::io::stdin())),
    };
    let mut publisher = Publisher::new(&settings.kafka).context("creating the Kafka producer")?;
    let mut rejected = 0u64;
    for (n, line) in input.lines().enumerate() {
        let line_no = n + 1;
        let line = line.with_context(|| format!("reading line {line_no}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let record = kind
            .json_to_record(&codec, &line)
            .map_err(anyhow::Error::from)
            .and_then(|r| {
                let key = topic.key.key_of(&r)?;
                Ok((key, r))
            });
        match record {
            Ok((key, r)) => publisher.send(&topic.name, key.as_bytes(), &r.payload, None)?,
            Err(e) => {
                rejected += 1;
                eprintln!("line {line_no}: rejected: {e:#}");
            }
        }
    }
    let delivered = publisher
        .flush()
        .context("waiting for the broker to acknowledge")?;
    eprintln!(
        "produced {delivered} records to {}, rejected {rejected} lines",
        topic.name
    );
    Ok(if rejected == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(REJECTED_LINES)
    })
}
