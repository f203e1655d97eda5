//! One module per command.

mod demo;
mod generate;
mod metrics;
mod produce;
mod run;
mod schemas;
mod tail;
mod topics;

use std::process::ExitCode;

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
        Command::Run(a) => run::run(a, &settings).await,
        Command::Demo(a) => demo::run(a, settings).await,
    }
}

/// The codec the settings ask for: embedded catalog, or the registry.
async fn codec(settings: &Settings) -> anyhow::Result<Codec> {
    use anyhow::Context;
    Codec::from_settings(settings.schema_registry_url.as_deref())
        .await
        .context("registering the schemas in SCHEMA_REGISTRY_URL")
}
