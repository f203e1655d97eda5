//! `composerp doctor`: checks a deployment from the outside and says in plain words what is
//! wrong and what to do.
//!
//! Every check yields findings; the worst decides the exit code: 0 healthy, 5 degraded (it
//! works, but something needs attention), 6 broken (something does not work). A check whose
//! dependency is down (the broker, Postgres) is reported as skipped, not as a second fault.

mod kafka;
mod postgres;

use std::{io::Write, path::Path, process::ExitCode, time::Duration};

use tracing::Instrument;

use crate::cli::{DoctorArgs, Settings};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// As it should be.
    Ok,
    /// Worth knowing; nothing to do.
    Info,
    /// Works, but needs attention.
    Degraded,
    /// Does not work.
    Broken,
}

impl Severity {
    fn label(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Info => "info",
            Severity::Degraded => "DEGRADED",
            Severity::Broken => "BROKEN",
        }
    }
}

/// One thing a check found, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The area checked: broker, topics, schemas, postgres, lag, state, changelog.
    pub area: &'static str,
    /// How bad it is.
    pub severity: Severity,
    /// What was found, in plain words.
    pub what: String,
    /// What to do, when there is something to do.
    pub fix: Option<String>,
}

impl Finding {
    fn new(area: &'static str, severity: Severity, what: impl Into<String>) -> Self {
        Self {
            area,
            severity,
            what: what.into(),
            fix: None,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// The overall verdict and its exit code.
fn verdict(findings: &[Finding]) -> (&'static str, u8) {
    match findings.iter().map(|f| f.severity).max() {
        Some(Severity::Broken) => ("broken", 6),
        Some(Severity::Degraded) => ("degraded", 5),
        _ => ("healthy", 0),
    }
}

pub async fn run(args: DoctorArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let timeout = Duration::from_secs(args.timeout_secs.max(1));
    let mut findings = Vec::new();
    let limits = kafka::Limits {
        lag_warn: args.lag_warn,
        marker_age_warn: Duration::from_secs(args.marker_age_warn_secs),
        timeout,
    };
    let span = |area: &'static str| tracing::info_span!("check", area);

    let mut found = Vec::new();
    let cluster = kafka::broker(settings, timeout, &mut found)
        .instrument(span("broker"))
        .await;
    record(&mut findings, &mut found, span("broker"));
    match &cluster {
        Some(c) => {
            kafka::topics(settings, c, &mut found)
                .instrument(span("topics"))
                .await;
            record(&mut findings, &mut found, span("topics"));
            let lags = kafka::lag(settings, c, &args.sinks, &limits, &mut found)
                .instrument(span("lag"))
                .await;
            record(&mut findings, &mut found, span("lag"));
            kafka::markers(settings, c, &lags, &limits, &mut found)
                .instrument(span("changelog"))
                .await;
            record(&mut findings, &mut found, span("changelog"));
        }
        None => {
            for area in ["topics", "lag", "changelog"] {
                findings.push(Finding::new(
                    area,
                    Severity::Info,
                    "skipped: the broker is unreachable",
                ));
            }
        }
    }
    kafka::schemas(settings, timeout, &mut found)
        .instrument(span("schemas"))
        .await;
    record(&mut findings, &mut found, span("schemas"));
    postgres::check(&settings.database_url, timeout, &mut found)
        .instrument(span("postgres"))
        .await;
    record(&mut findings, &mut found, span("postgres"));
    span("state").in_scope(|| state_dir(&settings.state_dir, &mut found));
    record(&mut findings, &mut found, span("state"));

    let (word, code) = verdict(&findings);
    print(&findings, word)?;
    Ok(ExitCode::from(code))
}

/// Moves a check's findings to the report, logging each in the check's span so machine-read
/// logs carry its fields.
fn record(findings: &mut Vec<Finding>, found: &mut Vec<Finding>, span: tracing::Span) {
    let _in = span.enter();
    for f in found.drain(..) {
        tracing::info!(severity = f.severity.label(), what = %f.what, "Finding.");
        findings.push(f);
    }
}

/// The report on standard output: one line per finding, the fix indented below it.
fn print(findings: &[Finding], verdict: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for f in findings {
        writeln!(out, "{:<9} {:<10} {}", f.severity.label(), f.area, f.what)?;
        if let Some(fix) = &f.fix {
            writeln!(out, "{:<20} -> {fix}", "")?;
        }
    }
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    writeln!(
        out,
        "{verdict}: {} broken, {} degraded, {} ok",
        count(Severity::Broken),
        count(Severity::Degraded),
        count(Severity::Ok)
    )
}

/// The state directory: present (processors need it), writable, and what it holds.
fn state_dir(dir: &Path, findings: &mut Vec<Finding>) {
    let area = "state";
    if !dir.exists() {
        findings.push(Finding::new(
            area,
            Severity::Info,
            format!(
                "no state directory at {} (only processors need one; they create it)",
                dir.display()
            ),
        ));
        return;
    }
    let probe = dir.join(format!(".composerp-doctor-{}", std::process::id()));
    if let Err(e) = std::fs::write(&probe, b"").and_then(|()| std::fs::remove_file(&probe)) {
        findings.push(
            Finding::new(
                area,
                Severity::Broken,
                format!("state directory {} is not writable: {e}", dir.display()),
            )
            .fix("give the processes' user write access (k8s: fsGroup on the volume)"),
        );
        return;
    }
    let mut stores = Vec::new();
    let mut old = Vec::new();
    for processor in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if !processor.path().is_dir() {
            continue;
        }
        let name = processor.file_name().to_string_lossy().into_owned();
        let (mut partitions, mut bytes) = (0, 0);
        for store in std::fs::read_dir(processor.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let file = store.file_name().to_string_lossy().into_owned();
            if file.ends_with(".fjall") {
                partitions += 1;
                bytes += size_of(&store.path());
            } else if file.ends_with(".redb") {
                old.push(format!("{name}/{file}"));
            }
        }
        stores.push(format!("{name}: {partitions} partitions, {}", human(bytes)));
    }
    let what = if stores.is_empty() {
        format!("{} is writable and empty", dir.display())
    } else {
        format!("{} is writable; {}", dir.display(), stores.join("; "))
    };
    findings.push(Finding::new(area, Severity::Ok, what));
    if !old.is_empty() {
        findings.push(Finding::new(
            area,
            Severity::Info,
            format!(
                "{} store(s) of the earlier redb format ({}): removed and rebuilt from the \
                 changelog when their partition is next assigned",
                old.len(),
                old.join(", ")
            ),
        ));
    }
}

/// Bytes under `path`, following no links.
fn size_of(path: &Path) -> u64 {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| size_of(&e.path()))
            .sum(),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// `bytes` in binary units, one decimal.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_finding_decides_the_exit_code() {
        let f = |s| Finding::new("x", s, "y");
        assert_eq!(
            verdict(&[f(Severity::Ok), f(Severity::Info)]),
            ("healthy", 0)
        );
        assert_eq!(
            verdict(&[f(Severity::Ok), f(Severity::Degraded)]),
            ("degraded", 5)
        );
        assert_eq!(
            verdict(&[f(Severity::Broken), f(Severity::Degraded)]),
            ("broken", 6)
        );
        assert_eq!(verdict(&[]), ("healthy", 0));
    }

    #[test]
    fn a_state_directory_lists_its_stores_and_old_formats() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir_all(dir.path().join("inventory_ledger/partition-0.fjall"))?;
        std::fs::write(
            dir.path().join("inventory_ledger/partition-0.fjall/data"),
            [0u8; 2048],
        )?;
        std::fs::write(dir.path().join("inventory_ledger/partition-1.redb"), b"")?;
        let mut findings = Vec::new();
        state_dir(dir.path(), &mut findings);
        assert_eq!(findings[0].severity, Severity::Ok);
        assert!(
            findings[0]
                .what
                .contains("inventory_ledger: 1 partitions, 2.0 KiB"),
            "{:?}",
            findings[0]
        );
        assert_eq!(findings[1].severity, Severity::Info);
        assert!(findings[1].what.contains("partition-1.redb"));
        Ok(())
    }

    #[test]
    fn a_missing_state_directory_is_only_information() {
        let mut findings = Vec::new();
        state_dir(Path::new("/nonexistent/composerp-state"), &mut findings);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Info);
    }

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}
