//! `composerp schemas list|show|check`.

use std::{io::Write, process::ExitCode};

use anyhow::Context;
use composerp_events::SchemaCatalog;

use crate::cli::SchemasCommand;

pub fn run(cmd: SchemasCommand) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match cmd {
        SchemasCommand::List => {
            let c = SchemaCatalog::embedded();
            writeln!(out, "{:>5}  {:<48} {:>3}  FILE", "ID", "RECORD", "VER")?;
            for e in c.entries() {
                let latest = c.latest(&e.full_name).is_some_and(|l| l.id == e.id);
                let mark = if latest { "" } else { "  (older)" };
                writeln!(
                    out,
                    "{:>5}  {:<48} {:>3}  avro-schemas/{}.avsc{mark}",
                    e.id, e.full_name, e.version, e.path
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        SchemasCommand::Show { name } => {
            let c = SchemaCatalog::embedded();
            let e = c
                .find(&name)
                .with_context(|| format!("no schema {name:?} (see `composerp schemas list`)"))?;
            writeln!(
                out,
                "// avro-schemas/{}.avsc  id {}  version {}",
                e.path, e.id, e.version
            )?;
            out.write_all(e.text.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        SchemasCommand::Check { dir } => {
            let loaded;
            let c = match &dir {
                Some(d) => {
                    loaded = match SchemaCatalog::from_dir(d) {
                        Ok(c) => c,
                        Err(e) => {
                            writeln!(out, "FAIL {e}")?;
                            return Ok(ExitCode::FAILURE);
                        }
                    };
                    &loaded
                }
                None => SchemaCatalog::embedded(),
            };
            let problems = c.check_compatibility();
            for p in &problems {
                writeln!(out, "FAIL {p}")?;
            }
            if problems.is_empty() {
                writeln!(
                    out,
                    "ok: {} schema versions, ids unique, every new version BACKWARD compatible",
                    c.entries().len()
                )?;
                Ok(ExitCode::SUCCESS)
            } else {
                Ok(ExitCode::FAILURE)
            }
        }
    }
}
