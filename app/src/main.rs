//! The `composerp` command: one binary for every Composerp job.
//!
//! `cli` declares the commands and the settings they read (flags override environment
//! variables); each command lives in its own module under `cmd/`.

mod cli;
mod cmd;
mod registry;

use clap::{CommandFactory, FromArgMatches, builder::PossibleValuesParser};

/// mimalloc: the ledger runs about 1.2× faster than on the system allocator (BENCHMARKS.md),
/// which its many small states, keys and output buffers keep busy.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = parse();
    if let Err(e) = init_logs(std::env::var("COMPOSERP_LOG_FORMAT").ok().as_deref()) {
        eprintln!("composerp: invalid configuration: {e}");
        return std::process::ExitCode::from(2);
    }
    let settings = match cli.global.settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("composerp: invalid configuration: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("composerp: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cmd::run(cli.command, settings)) {
        Ok(code) => code,
        // A closed pipe (`composerp tail … | head`) is a normal end of output.
        Err(e) if is_broken_pipe(&e) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("composerp: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Parses the command line; `composerp run` takes the processors of the registry (listed by
/// `composerp run --help`) or `all`.
fn parse() -> cli::Cli {
    let mut processors = registry::registry().names();
    processors.push("all");
    let command = cli::Cli::command().mut_subcommand("run", |run| {
        run.mut_arg("processor", |arg| {
            arg.value_parser(PossibleValuesParser::new(processors))
        })
    });
    cli::Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit())
}

/// Logs to standard error, filtered by `COMPOSERP_LOG`: text (coloured only on a terminal, so a
/// log file gets no escape codes), or with `COMPOSERP_LOG_FORMAT=json` one JSON object per line
/// with the event's fields and those of its spans, for log collectors.
fn init_logs(format: Option<&str>) -> Result<(), String> {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("COMPOSERP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match format.unwrap_or("text") {
        "text" | "" => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        "json" => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .init(),
        other => {
            return Err(format!(
                "COMPOSERP_LOG_FORMAT: {other:?} is neither text nor json"
            ));
        }
    }
    Ok(())
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}
