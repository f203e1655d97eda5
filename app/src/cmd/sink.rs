//! `composerp sink`: migrates the database, then materializes the output topics into Postgres
//! until SIGINT or SIGTERM.

use std::{
    process::ExitCode,
    sync::{Arc, atomic::AtomicBool},
};

use anyhow::Context;
use composerp_sinks::sink::{self, SinkConfig};

use crate::cli::{Settings, SinkArgs};

pub async fn run(args: SinkArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let mut tables = composerp_sinks::tables();
    if !args.tables.is_empty() {
        let known: Vec<&str> = tables.iter().map(|t| t.table()).collect();
        if let Some(unknown) = args.tables.iter().find(|t| !known.contains(&t.as_str())) {
            anyhow::bail!("no table {unknown:?}; the sinks write {}", known.join(", "));
        }
        tables.retain(|t| args.tables.iter().any(|a| a == t.table()));
    }
    super::migrate::apply(&settings.database_url).await?;
    let codec = super::codec(settings).await?;
    let recorder = super::metrics::install()?;
    super::metrics::expose(args.metrics_addr, recorder).await?;
    let mut cfg = SinkConfig::new(&args.name, &settings.database_url);
    if let Some(n) = args.batch_rows {
        cfg.batch_rows = n;
    }
    let stop = Arc::new(AtomicBool::new(false));
    super::stop_on_signal(stop.clone());
    let names: Vec<&str> = tables.iter().map(|t| t.table()).collect();
    eprintln!("sink {} writing {}", args.name, names.join(", "));
    let (kafka, rt) = (settings.kafka.clone(), tokio::runtime::Handle::current());
    tokio::task::spawn_blocking(move || sink::run(tables, &kafka, codec, cfg, rt, stop))
        .await
        .context("the sink panicked")?
        .context("the sink failed")?;
    eprintln!("sink {} stopped", args.name);
    Ok(ExitCode::SUCCESS)
}
