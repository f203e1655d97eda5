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
    postgres_check(&settings.database_url);
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
    tpl.add_partition_offset(&sales.name, 0, Offset::Offset(0))?;
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

/// Host and port of a `postgres://user:pass@host:port/db?…` URL.
fn postgres_addr(url: &str) -> Option<(String, u16)> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (host_port, 5432),
    };
    Some((
        if host.is_empty() {
            "127.0.0.1".into()
        } else {
            host.trim_matches(['[', ']']).to_owned()
        },
        port,
    ))
}

/// Says whether Postgres (used by the sinks and the API) answers, and what to do if not.
fn postgres_check(url: &str) {
    use std::net::ToSocketAddrs;
    let Some((host, port)) = postgres_addr(url) else {
        return;
    };
    let answers = (host.as_str(), port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok());
    if answers {
        println!("▸ Postgres answers at {host}:{port} (sinks and API use it from issue #5 on)");
    } else {
        println!(
            "▸ Postgres does not answer at {host}:{port}: set DATABASE_URL, or start it with `pg_ctlcluster --skip-systemctl-redirect 15 main start`"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::postgres_addr;

    #[test]
    fn postgres_urls_give_host_and_port() {
        assert_eq!(
            postgres_addr("postgres://u:p@db.example:6543/x?sslmode=require"),
            Some(("db.example".into(), 6543))
        );
        assert_eq!(
            postgres_addr("postgresql://localhost/test"),
            Some(("localhost".into(), 5432))
        );
        assert_eq!(
            postgres_addr("postgres://u@[::1]:5433/t"),
            Some(("::1".into(), 5433))
        );
        assert_eq!(postgres_addr("nonsense"), None);
    }
}
