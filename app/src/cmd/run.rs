//! `composerp run <processor>|all`: runs processors until SIGINT or SIGTERM.

use std::{
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use anyhow::Context;
use composerp_runtime::{engine::EngineConfig, registry::RunArgs};

use crate::cli::{RunArgs as Cli, Settings};

pub async fn run(args: Cli, settings: &Settings) -> anyhow::Result<ExitCode> {
    let registry = crate::registry::registry();
    // The command line accepts only registered names and `all` (see `main::parse`).
    let names: Vec<&str> = registry
        .names()
        .into_iter()
        .filter(|n| args.processor == "all" || *n == args.processor)
        .collect();
    let codec = super::codec(settings).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let recorder = super::metrics::install()?;
    let mut config = EngineConfig::new(settings.state_dir.clone());
    if let Some(n) = args.batch_records {
        config.batch_records = n;
    }
    if let Some(n) = args.threads {
        config.threads = n.into();
    }
    config.group = args.group;
    let mut handles = Vec::new();
    for name in names {
        let run = registry.get(name).context("registered")?;
        let a = RunArgs {
            kafka: settings.kafka.clone(),
            codec: codec.clone(),
            config: config.clone(),
            stop: stop.clone(),
        };
        handles.push((name, tokio::task::spawn_blocking(move || run(a))));
        eprintln!(
            "running processor {name} (state in {})",
            settings.state_dir.display()
        );
    }
    super::metrics::expose(args.metrics_addr, recorder).await?;
    super::stop_on_signal(stop.clone());
    let mut failed = false;
    for (name, h) in handles {
        match h.await {
            Ok(Ok(())) => eprintln!("processor {name} stopped"),
            Ok(Err(e)) => {
                eprintln!("processor {name} failed: {e}");
                failed = true;
            }
            Err(e) => {
                eprintln!("processor {name} panicked: {e}");
                failed = true;
            }
        }
        stop.store(true, Ordering::Relaxed);
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
