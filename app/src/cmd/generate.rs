//! `composerp generate`: realistic data with a known truth, published in event-time order.

use std::{
    io::Write,
    path::Path,
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::Context;
use composerp_events::{Codec, EncodedRecord, Event};
use composerp_generator::{Config, Generated, Generator, Stats, TruthRow};
use composerp_kafka::Publisher;
use composerp_topics::TopicCatalog;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{GenerateArgs, Settings};

pub async fn run(args: GenerateArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let codec = super::codec(settings).await?;
    let stats = generate(&args, settings, &codec)?;
    eprintln!(
        "events: {} ({} distinct, {} duplicates, {} late), ledger lines: {}",
        stats.events,
        stats.distinct_events,
        stats.duplicate_ids.len(),
        stats.late_ids.len(),
        stats.ledger_lines
    );
    Ok(ExitCode::SUCCESS)
}

/// Generates and publishes; writes the truth files when asked. Returns what was generated.
pub fn generate(args: &GenerateArgs, settings: &Settings, codec: &Codec) -> anyhow::Result<Stats> {
    let mut generator = Generator::new(Config {
        tenants: args.tenants,
        locations: args.locations,
        items: args.items,
        days: args.days,
        seed: args.seed,
        tenant_prefix: settings.tenant.clone(),
        start: args.start,
    });
    let mut sink = Sink {
        publisher: Publisher::new(&settings.kafka)?,
        codec,
        topics: TopicCatalog::embedded(),
    };
    let started = Instant::now();
    let bar = ProgressBar::new(args.days as u64 + 1).with_style(
        ProgressStyle::with_template("{spinner} day {pos}/{len} {wide_bar} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    for e in generator.master_data() {
        sink.send(&e)?;
    }
    bar.inc(1);
    let mut history = Vec::new();
    while let Some(day) = generator.next_day() {
        for e in &day {
            if let (Some(_), Generated::Sale(sale)) = (&args.history_parquet, e) {
                history.extend(history_lines(sale));
                continue;
            }
            sink.send(e)?;
            if let Some(rate) = args.rate {
                let due = Duration::from_secs_f64(sink.publisher.sent() as f64 / rate as f64);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
        }
        bar.set_message(format!("{} events", sink.publisher.sent()));
        bar.inc(1);
    }
    let delivered = sink
        .publisher
        .flush()
        .context("waiting for the broker to acknowledge")?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "published {delivered} events in {secs:.1} s ({:.0} events/s)",
        delivered as f64 / secs.max(1e-9)
    );
    if let Some(path) = &args.history_parquet {
        let n = composerp_forecast_backfill::history_file(path, history)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("history: {n} sale lines in {}", path.display());
    }
    if let Some(path) = &args.truth {
        write_truth(path, &generator).with_context(|| format!("writing {}", path.display()))?;
        eprintln!(
            "truth: {} and {}",
            path.display(),
            summary_path(path).display()
        );
    }
    Ok(generator.stats().clone())
}

/// A receipt's lines as history file lines.
fn history_lines(
    sale: &composerp_events::pos::SaleCompleted,
) -> impl Iterator<Item = composerp_forecast_backfill::HistoryLine> + '_ {
    sale.lines
        .iter()
        .map(|l| composerp_forecast_backfill::HistoryLine {
            tenant: sale.tenant_id.clone(),
            location: sale.store_id.clone(),
            item: l.item_id.clone(),
            occurred_at: sale.occurred_at.0,
            quantity: l.quantity,
            line_type: match l.line_type {
                composerp_events::pos::SaleLineType::SALE => "SALE",
                composerp_events::pos::SaleLineType::RETURN => "RETURN",
            },
        })
}

struct Sink<'a> {
    publisher: Publisher,
    codec: &'a Codec,
    topics: &'static TopicCatalog,
}

impl Sink<'_> {
    fn send(&mut self, e: &Generated) -> anyhow::Result<()> {
        match e {
            Generated::Item(v) => self.typed(v),
            Generated::Location(v) => self.typed(v),
            Generated::Supplier(v) => self.typed(v),
            Generated::SupplierItem(v) => self.typed(v),
            Generated::Rule(v) => self.typed(v),
            Generated::Sale(v) => self.typed(v),
            Generated::PoApproved(v) => self.typed(v),
            Generated::Receipt(v) => self.typed(v),
            Generated::Adjustment(v) => self.typed(v),
            Generated::Shipped(v) => self.typed(v),
            Generated::Received(v) => self.typed(v),
        }
    }

    fn typed<T: Event>(&mut self, v: &T) -> anyhow::Result<()> {
        let topic = self
            .topics
            .for_value(T::FULL_NAME)
            .with_context(|| format!("no topic for {}", T::FULL_NAME))?;
        let record = EncodedRecord::of(self.codec, v)?;
        let key = topic.key.key_of(&record)?;
        self.publisher
            .send(&topic.name, key.as_bytes(), &record.payload, None)?;
        Ok(())
    }
}

/// `FILE.summary.json` beside the truth CSV.
pub fn summary_path(truth: &Path) -> std::path::PathBuf {
    let mut s = truth.as_os_str().to_owned();
    s.push(".summary.json");
    s.into()
}

fn write_truth(path: &Path, g: &Generator) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(f, "{}", TruthRow::CSV_HEADER)?;
    for r in g.truth() {
        writeln!(f, "{}", r.to_csv())?;
    }
    f.flush()?;
    std::fs::write(summary_path(path), serde_json::to_vec_pretty(g.stats())?)?;
    Ok(())
}
