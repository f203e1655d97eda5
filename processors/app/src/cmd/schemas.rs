//! `composerp schemas list|show|check`.

use std::process::ExitCode;

use anyhow::Context;
use composerp_events::SchemaCatalog;

use crate::cli::SchemasCommand;

pub fn run(cmd: SchemasCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SchemasCommand::List => {
            let c = SchemaCatalog::embedded();
            println!("{:>5}  {:<48} {:>3}  FILE", "ID", "RECORD", "VER");
            for e in c.entries() {
                let latest = c.latest(&e.full_name).is_some_and(|l| l.id == e.id);
                let mark = if latest { "" } else { "  (older)" };
                println!(
                    "{:>5}  {:<48} {:>3}  avro-schemas/{}.avsc{mark}",
                    e.id, e.full_name, e.version, e.path
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        SchemasCommand::Show { name } => {
            let c = SchemaCatalog::embedded();
            let e = c
                .find(&name)
                .with_context(|| format!("no schema {name:?} (see `composerp schemas list`)"))?;
            println!(
                "// avro-schemas/{}.avsc  id {}  version {}",
                e.path, e.id, e.version
            );
            print!("{}", e.text);
            Ok(ExitCode::SUCCESS)
        }
        SchemasCommand::Check { dir } => {
            let loaded;
            let c = match &dir {
                Some(d) => {
                    loaded = match SchemaCatalog::from_dir(d) {
                        Ok(c) => c,
                        Err(e) => {
                            println!("FAIL {e}");
                            return Ok(ExitCode::FAILURE);
                        }
                    };
                    &loaded
                }
                None => SchemaCatalog::embedded(),
            };
            let problems = c.check_compatibility();
            for p in &problems {
                println!("FAIL {p}");
            }
            if problems.is_empty() {
                println!(
                    "ok: {} schema versions, ids unique, every new version BACKWARD compatible",
                    c.entries().len()
                );
                Ok(ExitCode::SUCCESS)
            } else {
                Ok(ExitCode::FAILURE)
            }
        }
    }
}
