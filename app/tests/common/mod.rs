//! What the broker tests of the `composerp` binary share: the binary against a broker, its
//! processes killed when a test ends, and the generator's truth.

use std::{
    collections::HashMap,
    path::Path,
    process::{Child, Command},
};

use composerp_generator::TruthRow;

/// The `composerp` binary against `brokers`, with the embedded schemas and info logs.
pub fn composerp(brokers: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_composerp"));
    c.env("KAFKA_BROKERS", brokers)
        .env_remove("SCHEMA_REGISTRY_URL")
        .env("COMPOSERP_LOG", "info");
    c
}

/// `log` opened for appending (created if missing), for a process's stderr.
pub fn append(log: &Path) -> anyhow::Result<std::fs::File> {
    Ok(std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?)
}

/// A child process, SIGKILLed when dropped so a failing test leaves none behind.
pub struct Proc(pub Child);

impl Proc {
    /// SIGKILLs the process and reaps it.
    #[allow(dead_code, reason = "not every test file kills on purpose")]
    pub fn sigkill(&mut self) -> anyhow::Result<()> {
        self.0.kill()?;
        self.0.wait()?;
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An item-location: (tenant, location, item).
pub type Key = (String, String, String);

/// The generator's expected final buckets per item-location (`--truth FILE`).
#[allow(dead_code, reason = "not every test file compares with the truth")]
pub fn truth(path: &Path) -> anyhow::Result<HashMap<Key, Vec<i64>>> {
    Ok(TruthRow::read_csv(path)?
        .into_iter()
        .map(|r| {
            let b = r.buckets().to_vec();
            ((r.tenant_id, r.location_id, r.item_id), b)
        })
        .collect())
}

/// A receipt of `qty` units of the sample item at location s1 (tenant t1), with an event id
/// made from `name`.
#[allow(
    dead_code,
    reason = "only the ledger and dead-letter tests send receipts"
)]
pub fn receipt_at_s1(name: &str, qty: i64) -> composerp_events::procurement::PurchaseOrderReceived {
    let mut r = composerp_events::samples::purchase_order_received();
    r.event_id = composerp_events::EventId::from_name(name);
    r.location_id = "s1".into();
    r.lines.truncate(1);
    r.lines[0].quantity = qty;
    r
}
