//! `composerp topics apply|list|describe`.

use std::{io::Write, process::ExitCode};

use anyhow::Context;
use composerp_topics::{TopicCatalog, admin::Admin};

use crate::cli::{Settings, TopicsCommand};

pub async fn run(cmd: TopicsCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    let catalog = TopicCatalog::embedded();
    let mut out = std::io::stdout().lock();
    match cmd {
        TopicsCommand::List => {
            writeln!(
                out,
                "{:<48} {:>4} {:<8} {:<22} VALUE",
                "TOPIC", "PART", "CLEANUP", "KEY"
            )?;
            for t in catalog.topics() {
                let value = t
                    .value
                    .as_deref()
                    .unwrap_or("(original bytes + error headers)");
                writeln!(
                    out,
                    "{:<48} {:>4} {:<8} {:<22} {value}",
                    t.name,
                    t.partitions,
                    t.cleanup.policy(),
                    t.key.to_string()
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        TopicsCommand::Describe => {
            let admin =
                Admin::new(&settings.kafka.admin()).context("creating the Kafka admin client")?;
            let states = admin
                .describe(catalog)
                .await
                .context("reading topic metadata")?;
            writeln!(
                out,
                "{:<48} {:>9} {:>9} {:<10} STATUS",
                "TOPIC", "PART", "CATALOG", "CLEANUP"
            )?;
            let mut ok = true;
            for (t, s) in catalog.topics().iter().zip(&states) {
                let (parts, status) = match s.partitions {
                    None => ("-".to_owned(), "missing"),
                    Some(p) if p != t.partitions => (p.to_string(), "drift"),
                    Some(p) => (p.to_string(), "ok"),
                };
                let cleanup = s.cleanup_policy.clone().unwrap_or_else(|| "?".into());
                let status = if status == "ok"
                    && s.cleanup_policy
                        .as_deref()
                        .is_some_and(|c| c != t.cleanup.policy())
                {
                    "drift"
                } else {
                    status
                };
                ok &= status == "ok";
                writeln!(
                    out,
                    "{:<48} {parts:>9} {:>9} {cleanup:<10} {status}",
                    t.name, t.partitions
                )?;
            }
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            })
        }
        TopicsCommand::Apply => {
            let admin =
                Admin::new(&settings.kafka.admin()).context("creating the Kafka admin client")?;
            let report = admin
                .apply(catalog.topics())
                .await
                .context("applying the topic catalog")?;
            for t in &report.created {
                writeln!(out, "created  {t}")?;
            }
            for d in &report.drift {
                writeln!(out, "drift    {d}")?;
            }
            writeln!(
                out,
                "{} created, {} unchanged, {} with drift",
                report.created.len(),
                report.unchanged.len(),
                report.drift.len()
            )?;
            Ok(if report.drift.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            })
        }
    }
}
