//! Composerp's Postgres sinks: every output topic materialized into tables for the read API and
//! BI tools.
//!
//! - `migrations/`: the schemas (`sink`, `catalog`, `inventory`, `audit`, `bi`, `auth`,
//!   `replenishment`, `forecasting`), the roles the API and BI readers connect as, and row-level security per
//!   tenant; applied by [`migrate`].
//! - [`table`]: the [`Table`](table::Table) a table family implements (topic, columns, key,
//!   which version wins).
//! - [`batch`]: a table's rows staged with COPY and upserted at commit.
//! - [`copy`]: rows in COPY text format.
//! - [`redelivery`]: rows that arrive again compared with the stored ones, in the upsert.
//! - [`inventory`], [`catalog`], [`replenishment`], [`forecasting`]: the tables, one module
//!   per family.
//! - [`sink`]: the consumer loop that commits rows with their offsets, one transaction per
//!   table and batch.
//! - [`testing`]: a fresh migrated database per test, and PgBouncer in front of it.
//!
//! Adding a table: a migration, an `impl Table` in its family's module, one line in [`tables`]
//! ([`Family`](batch::Family) when one topic writes a header and its lines).

pub mod batch;
pub mod catalog;
pub mod copy;
pub mod forecasting;
pub mod inventory;
pub mod redelivery;
pub mod replenishment;
pub mod sink;
pub mod table;
pub mod testing;

use batch::{Batch, Family, Staged};
use sqlx::migrate::{MigrateError, Migrator};

/// The migrations in `sinks/migrations`, compiled in.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// Brings the database at `pool` to the current schema; safe to run concurrently and repeatedly.
pub async fn migrate(pool: &sqlx::PgPool) -> Result<(), MigrateError> {
    if applied(pool).await.map_err(MigrateError::Execute)? {
        return Ok(());
    }
    MIGRATOR.run(pool).await
}

/// Whether every migration is applied, unaltered: read in one transaction with unnamed
/// statements, so sinks starting behind PgBouncer in transaction mode pass once the migrate
/// job has run (the migrator itself needs a direct session: it holds an advisory lock across
/// transactions) and replicas starting together do not queue on that lock.
async fn applied(pool: &sqlx::PgPool) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .persistent(false)
        .fetch_one(&mut *tx)
        .await?;
    if !exists {
        return Ok(false);
    }
    let rows: Vec<(i64, bool, Vec<u8>)> =
        sqlx::query_as("SELECT version, success, checksum FROM _sqlx_migrations")
            .persistent(false)
            .fetch_all(&mut *tx)
            .await?;
    Ok(MIGRATOR.iter().all(|m| {
        rows.iter()
            .any(|(v, ok, sum)| *v == m.version && *ok && sum[..] == m.checksum[..])
    }))
}

/// Every table the sinks write, one line each.
pub fn tables() -> Vec<Box<dyn Staged>> {
    vec![
        Box::new(Batch::<inventory::Positions>::default()),
        Box::new(Batch::<inventory::Transactions>::default()),
        Box::new(Batch::<inventory::LowStock>::default()),
        Box::new(Batch::<catalog::Items>::default()),
        Box::new(Batch::<catalog::Locations>::default()),
        Box::new(Batch::<catalog::Suppliers>::default()),
        Box::new(Batch::<catalog::SupplierItems>::default()),
        Box::new(Batch::<replenishment::Rules>::default()),
        Box::new(Batch::<replenishment::Triggers>::default()),
        Box::new(Family::<
            replenishment::OrdersCreated,
            replenishment::OrderLinesCreated,
        >::default()),
        Box::new(Family::<
            replenishment::OrdersApproved,
            replenishment::OrderLinesApproved,
        >::default()),
        Box::new(Batch::<replenishment::OrderLinesCancelled>::default()),
        Box::new(Family::<
            replenishment::OrderLifecycle,
            replenishment::OrderStatusChanges,
        >::default()),
        Box::new(Batch::<replenishment::CommandRejections>::default()),
        Box::new(Batch::<replenishment::DefaultRules>::default()),
        Box::new(Batch::<replenishment::AutoApprovalRules>::default()),
        Box::new(Family::<forecasting::Forecasts, forecasting::ForecastPoints>::default()),
        Box::new(Family::<
            forecasting::ForecastRevisions,
            forecasting::RevisedPoints,
        >::default()),
        Box::new(Batch::<forecasting::DemandFeatures>::default()),
        Box::new(Batch::<forecasting::Accuracy>::default()),
    ]
}
