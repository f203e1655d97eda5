//! Every processor `composerp run` knows. Adding one is one line.

use composerp_daily_sales::DailySales;
use composerp_forecasting::{DemandFeatures, Forecasting};
use composerp_ledger::InventoryLedger;
use composerp_replenishment::Replenishment;
use composerp_runtime::registry::Registry;

/// The processors of this binary.
pub fn registry() -> Registry {
    let mut r = Registry::default();
    r.add::<InventoryLedger>();
    r.add::<DailySales>();
    r.add::<DemandFeatures>();
    r.add::<Forecasting>();
    r.add::<Replenishment>();
    r
}
