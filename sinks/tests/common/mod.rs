//! What the sinks' broker tests share: numbered versions of positions, ledger entries, and a
//! count read back.

use composerp_events::{
    EventId, Money,
    inventory::{InventoryTransactionCreated, InventoryUpdated},
    samples,
};

/// The version `v` of item-location `k`: on hand 10·v + k.
pub fn position(tenant: &str, k: usize, v: i64) -> InventoryUpdated {
    let mut u = samples::inventory_updated();
    u.event_id = EventId::from_name(&format!("pos-{tenant}-{k}-{v}"));
    u.tenant_id = tenant.into();
    u.location_id = format!("s{:02}", k % 7);
    u.item_id = format!("i{k:04}");
    u.sequence = v;
    u.on_hand = 10 * v + k as i64;
    u.stock_value = Money(u.on_hand * 10_000);
    u
}

/// Ledger entry `n` of `tenant`, over 100 items in 7 locations.
pub fn transaction(tenant: &str, n: usize) -> InventoryTransactionCreated {
    let mut t = samples::inventory_transaction_created();
    t.event_id = EventId::from_name(&format!("tx-{tenant}-{n}"));
    t.tenant_id = tenant.into();
    t.location_id = format!("s{:02}", n % 7);
    t.item_id = format!("i{:04}", n % 100);
    t.sequence = n as i64;
    t
}

/// The count `sql` selects, or -1 while it cannot be read.
pub async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(pool)
        .await
        .unwrap_or(-1)
}
