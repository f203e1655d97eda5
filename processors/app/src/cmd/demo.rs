//! `composerp demo`: a local broker, the topics, generated data, and the data read back.

use std::{process::ExitCode, time::Duration};

use anyhow::Context;
use composerp_events::kind_of;
use composerp_runtime::LocalBroker;
use composerp_topics::{TopicCatalog, admin::Admin};
use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
};

use crate::cli::{DemoArgs, Settings};

pub async fn run(mut args: DemoArgs, mut settings: Settings) -> anyhow::Result<ExitCode> {
    let _broker = if args.external {
        None
    } else {
        let b = LocalBroker::start().context("starting the local Kafka-protocol broker")?;
        settings.kafka.brokers = b.brokers();
        println!(
            "▸ Local Kafka-protocol broker (Tansu, memory engine) on {}",
            b.brokers()
        );
        Some(b)
    };
    let catalog = TopicCatalog::embedded();
    let admin = Admin::new(&settings.kafka.admin())?;
    let report = admin
        .apply(catalog.topics())
        .await
        .context("creating the topics")?;
    println!(
        "▸ Topics: {} created, {} already there",
        report.created.len(),
        report.unchanged.len()
    );

    let truth = settings.state_dir.join("demo-truth.csv");
    args.generate.truth.get_or_insert(truth);
    let codec = super::codec(&settings).await?;
    println!(
        "▸ Generating {} tenant(s) × {} locations × {} items × {} days (seed {})",
        args.generate.tenants,
        args.generate.locations,
        args.generate.items,
        args.generate.days,
        args.generate.seed
    );
    let stats = super::generate::generate(&args.generate, &settings, &codec)?;
    println!(
        "  {} events ({} duplicates and {} late arrivals on purpose), {} stock movements",
        stats.events,
        stats.duplicate_ids.len(),
        stats.late_ids.len(),
        stats.ledger_lines
    );

    println!("▸ Records written to the broker (Avro, Confluent framing):");
    let consumer: BaseConsumer = settings.kafka.consumer("composerp-demo").create()?;
    for t in catalog.topics().iter().filter(|t| t.value.is_some()) {
        let md = consumer.fetch_metadata(Some(&t.name), Duration::from_secs(10))?;
        let parts = md
            .topics()
            .first()
            .map(|m| m.partitions().len())
            .unwrap_or(0) as i32;
        let mut total = 0;
        for p in 0..parts {
            // Offsets written; compacted topics may have fewer records left to read.
            let (_, hi) = consumer.fetch_watermarks(&t.name, p, Duration::from_secs(10))?;
            total += hi;
        }
        if total > 0 {
            println!("  {:<46} {total:>9}", t.name);
        }
    }

    let sales = catalog.get("pos.sales")?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&sales.name, 0, Offset::Beginning)?;
    consumer.assign(&tpl)?;
    let kind = kind_of(sales.value.as_deref().unwrap_or_default()).context("sale record type")?;
    println!(
        "▸ The first receipts of partition 0 of {}, decoded back to JSON:",
        sales.name
    );
    let mut shown = 0;
    while shown < 2 {
        let Some(msg) = consumer.poll(Duration::from_secs(5)) else {
            break;
        };
        let msg = msg?;
        if let Some(bytes) = msg.payload() {
            let json = kind.record_to_json(&codec, bytes)?;
            println!("{}", serde_json::to_string_pretty(&json)?);
            shown += 1;
        }
    }
    if let Some(path) = &args.generate.truth {
        println!(
            "▸ Expected final positions (the ledger must match these): {}",
            path.display()
        );
    }
    if args.external {
        println!("▸ Try: composerp tail --topic pos.sales --from-beginning --max 3");
    } else {
        println!(
            "▸ The local broker stops with the demo; against your cluster: composerp demo --external --brokers host:port"
        );
    }
    Ok(ExitCode::SUCCESS)
}
