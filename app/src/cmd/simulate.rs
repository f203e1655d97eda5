//! `composerp simulate`: every policy, target and mix asked for, simulated through the
//! processors, printed as a Markdown table (and drawn as an SVG chart).

use std::process::ExitCode;

use anyhow::{Context, bail};
use composerp_simulation::{
    Config, Mix, PolicyKind, Report, Selection, report::chart, run as simulate,
};

use crate::cli::SimulateArgs;

fn policy(name: &str) -> anyhow::Result<PolicyKind> {
    Ok(match name.trim() {
        "sQ" | "sq" | "S_Q" => PolicyKind::SQ,
        "sS" | "ss" | "S_S" => PolicyKind::SS,
        "RS" | "rs" | "R_S" => PolicyKind::RS,
        "minmax" | "MIN_MAX" => PolicyKind::MinMax,
        other => bail!("unknown policy {other:?}: use sQ, sS, RS or minmax"),
    })
}

fn mix(name: &str) -> anyhow::Result<Mix> {
    Ok(match name.trim() {
        "smooth" => Mix::Smooth,
        "intermittent" => Mix::Intermittent,
        other => bail!("unknown mix {other:?}: use smooth or intermittent"),
    })
}

pub fn run(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let selection = match args.selection.as_str() {
        "class" => Selection::ByClass,
        "holdout" => Selection::Holdout { days: 28 },
        other => bail!("unknown selection {other:?}: use class or holdout"),
    };
    if args.replications < 2 {
        bail!("--replications must be at least 2 for an interval");
    }
    if args.warmup_days >= args.days {
        bail!("--warmup-days must be below --days");
    }
    for sl in &args.service_level {
        if !(0.5..1.0).contains(sl) {
            bail!("--service-level {sl} is outside 0.5 ≤ SL < 1");
        }
    }
    let mut reports: Vec<Report> = Vec::new();
    println!("{}", Report::header());
    for m in &args.mix {
        for p in &args.policy {
            for &service_level in &args.service_level {
                let cfg = Config {
                    days: args.days,
                    replications: args.replications,
                    items: args.items,
                    locations: args.locations.max(1),
                    policy: policy(p)?,
                    service_level,
                    mix: mix(m)?,
                    lead_time_days: args.lead_time_days,
                    lead_time_std_days: args.lead_time_std_days,
                    warmup_days: args.warmup_days,
                    selection,
                    seed: args.seed,
                    threads: args.threads,
                    ..Config::default()
                };
                let report = simulate(&cfg).with_context(|| {
                    format!(
                        "simulating {} on {} demand",
                        cfg.policy.label(),
                        cfg.mix.label()
                    )
                })?;
                println!("{}", report.row());
                reports.push(report);
            }
        }
    }
    if let Some(path) = &args.chart {
        std::fs::write(path, chart(&reports))
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("chart: {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
