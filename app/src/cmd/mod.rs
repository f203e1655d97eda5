//! One module per command.

mod api;
mod backfill;
mod demo;
mod dlq;
mod doctor;
mod forecast_report;
mod generate;
mod metrics;
mod migrate;
mod produce;
mod run;
mod schemas;
mod simulate;
mod sink;
mod tail;
mod topics;

use std::{
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use composerp_events::Codec;

use crate::cli::{Command, Settings};

/// Runs one command; the exit code tells scripts whether every record made it.
pub async fn run(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    match command {
        Command::Topics(c) => topics::run(c, &settings).await,
        Command::Schemas(c) => schemas::run(c),
        Command::Produce(a) => produce::run(a, &settings).await,
        Command::Tail(a) => tail::run(a, &settings).await,
        Command::Generate(a) => generate::run(a, &settings).await,
        Command::Backfill(a) => backfill::run(a, &settings).await,
        Command::Simulate(a) => simulate::run(a),
        Command::Run(a) => run::run(a, &settings).await,
        Command::Migrate => migrate::run(&settings).await,
        Command::Sink(a) => sink::run(a, &settings).await,
        Command::Api(c) => api::run(c, &settings).await,
        Command::Demo(a) => demo::run(a, settings).await,
        Command::Doctor(a) => doctor::run(a, &settings).await,
        Command::Dlq(c) => dlq::run(c, &settings).await,
    }
}

/// The codec the settings ask for: embedded catalog, or the registry.
async fn codec(settings: &Settings) -> anyhow::Result<Codec> {
    use anyhow::Context;
    Codec::from_settings(settings.schema_registry_url.as_deref())
        .await
        .context("registering the schemas in SCHEMA_REGISTRY_URL")
}

/// Sets `stop` on SIGINT or SIGTERM, so long-running commands finish their batch and exit. A
/// second signal, or 60 s without a clean stop (e.g. a call blocked on an unreachable broker),
/// exits at once: every commit is all-or-nothing, so the next start replays what was cut off.
fn stop_on_signal(stop: Arc<AtomicBool>) {
    tokio::spawn(async move {
        let mut signals = Signals::new();
        signals.next().await;
        stop.store(true, Ordering::Relaxed);
        tokio::select! {
            _ = signals.next() => eprintln!("composerp: second signal; exiting now"),
            _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => {
                eprintln!("composerp: no clean stop within 60 s; exiting now");
            }
        }
        std::process::exit(130);
    });
}

/// SIGINT and SIGTERM, as one stream of requests to stop.
struct Signals(Option<tokio::signal::unix::Signal>);

impl Signals {
    fn new() -> Self {
        Signals(tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok())
    }

    /// Waits for the next SIGINT or SIGTERM.
    async fn next(&mut self) {
        let term = async {
            match self.0.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
    }
}
