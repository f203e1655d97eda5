//! [`DailySales`]: each item's sales per store and UTC day, published once the day is closed.
//!
//! The README's worked example of a processor: typed input, keyed state, an event-time timer
//! per open day, a typed output, deduplication, and a dead-letter reason for late records.
//!
//! State key `tenant|location|item|day` → [`DayTotals`]. Every sale line adds to its day and
//! sets the event-time timer of that key to the day's end; when the partition's watermark
//! (newest event time minus [`ALLOWED_LATENESS`]) passes it, [`DailyItemSales`] is emitted and
//! the state removed. A sale for a day already closed goes to the dead-letter topic as `late`.

use composerp_events::{
    Date, EventId, Money, Timestamp,
    pos::{DailyItemSales, SaleCompleted, SaleLineType},
};
use composerp_runtime::{
    inputs,
    processor::{Context, NoTables, Processor, Reject},
    timer::{Timer, TimerKind},
};
use serde::{Deserialize, Serialize};

/// How long after a day's end its sales are still accepted (event time).
pub const ALLOWED_LATENESS: i64 = 2 * 3_600_000_000;

const DAY: i64 = 86_400_000_000;

inputs! {
    /// Receipts from the tills, keyed tenant|store.
    pub enum DailySalesInput {
        "pos.sales" => Sale(SaleCompleted),
    }
}

/// One open day of one item at one store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DayTotals {
    /// Units sold.
    pub units_sold: i64,
    /// Units returned.
    pub units_returned: i64,
    /// Net sales, 4 decimal places.
    pub net_sales: i64,
    /// Currency of the first receipt.
    pub currency: String,
    /// Receipts applied: counts them, and makes a duplicate or a replayed receipt a no-op.
    pub receipts: Vec<EventId>,
}

/// Daily sales per item and store, closed by event time.
#[derive(Debug, Default)]
pub struct DailySales;

impl Processor for DailySales {
    const NAME: &'static str = "daily-sales";
    type Input = DailySalesInput;
    type State = DayTotals;
    type Tables = NoTables;
    const ALLOWED_LATENESS_MICROS: i64 = ALLOWED_LATENESS;

    fn process(
        &self,
        input: &DailySalesInput,
        ctx: &mut Context<'_, DayTotals, NoTables>,
    ) -> Result<(), Reject> {
        let DailySalesInput::Sale(sale) = input;
        let day = sale.occurred_at.0.div_euclid(DAY);
        let day_end = Timestamp((day + 1) * DAY);
        if day_end <= ctx.watermark() {
            return Err(Reject::new(
                "late",
                format!(
                    "receipt {} of day {} arrived after the day was closed",
                    sale.receipt_id,
                    Date(day as i32).to_naive()
                ),
            ));
        }
        for line in &sale.lines {
            let key = format!(
                "{}|{}|{}|{day}",
                sale.tenant_id, sale.store_id, line.item_id
            );
            let seen = ctx
                .peek(&key)
                .is_some_and(|t| t.receipts.contains(&sale.event_id));
            if seen {
                continue;
            }
            let totals = ctx.state(&key);
            let amount = line.unit_price.0 * line.quantity - line.discount.0;
            match line.line_type {
                SaleLineType::SALE if line.quantity >= 0 => totals.units_sold += line.quantity,
                SaleLineType::SALE => totals.units_returned -= line.quantity,
                SaleLineType::RETURN => totals.units_returned += line.quantity,
            }
            totals.net_sales += match line.line_type {
                SaleLineType::SALE => amount,
                SaleLineType::RETURN => -amount,
            };
            if totals.currency.is_empty() {
                totals.currency.clone_from(&sale.currency);
            }
            ctx.set_timer(TimerKind::EventTime, &key, day_end);
        }
        // A receipt counts once per item-day, however many lines it has for the item.
        for line in &sale.lines {
            let key = format!(
                "{}|{}|{}|{day}",
                sale.tenant_id, sale.store_id, line.item_id
            );
            let totals = ctx.state(&key);
            if !totals.receipts.contains(&sale.event_id) {
                totals.receipts.push(sale.event_id);
            }
        }
        Ok(())
    }

    fn on_timer(&self, timer: &Timer, ctx: &mut Context<'_, DayTotals, NoTables>) {
        let Some(totals) = ctx.peek(&timer.name).cloned() else {
            return;
        };
        ctx.remove(&timer.name);
        let mut parts = timer.name.split('|');
        let (Some(tenant), Some(location), Some(item), Some(day)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return;
        };
        let day: i64 = day.parse().unwrap_or_default();
        ctx.emit(&DailyItemSales {
            event_id: EventId::from_name(&format!("daily-sales|{}", timer.name)),
            tenant_id: tenant.to_owned(),
            occurred_at: timer.at,
            produced_at: ctx.now(),
            source: "composerp:daily-sales".into(),
            location_id: location.to_owned(),
            item_id: item.to_owned(),
            business_date: Date(day as i32),
            units_sold: totals.units_sold,
            units_returned: totals.units_returned,
            receipts: totals.receipts.len() as i64,
            net_sales: Money(totals.net_sales),
            currency: totals.currency,
        });
    }
}

#[cfg(test)]
mod tests {
    use composerp_events::samples;
    use composerp_runtime::driver::TestDriver;

    use super::*;

    const HOUR: i64 = 3_600_000_000;

    /// A receipt of `units` of i1 at s1, `hours` after the start of day 20_000.
    fn sale(n: u32, hours: i64, units: i64) -> DailySalesInput {
        let mut s = samples::sale_completed(1);
        s.event_id = EventId::from_name(&format!("receipt-{n}"));
        s.receipt_id = format!("R{n}");
        s.store_id = "s1".into();
        s.occurred_at = Timestamp(20_000 * DAY + hours * HOUR);
        s.lines[0].item_id = "i1".into();
        s.lines[0].line_type = SaleLineType::SALE;
        s.lines[0].quantity = units;
        s.lines[0].unit_price = Money(25_000);
        s.lines[0].discount = Money(0);
        DailySalesInput::Sale(s)
    }

    #[test]
    fn a_day_is_published_once_the_watermark_passes_its_end() {
        let mut d = TestDriver::new(DailySales);
        d.pipe([sale(1, 9, 2), sale(2, 17, 3), sale(2, 17, 3)]);
        assert!(d.outputs::<DailyItemSales>().is_empty(), "day still open");
        assert_eq!(d.timers().len(), 1);
        // Event time moves to 01:59 the next day: still within the lateness.
        d.pipe([sale(3, 25, 1)]);
        assert!(d.outputs::<DailyItemSales>().is_empty());
        // 02:00 the next day: the watermark reaches midnight and the day closes.
        d.pipe([sale(4, 26, 1)]);
        let days = d.outputs::<DailyItemSales>();
        assert_eq!(days.len(), 1);
        let day = &days[0];
        assert_eq!(
            (day.units_sold, day.receipts),
            (5, 2),
            "the duplicate counts once"
        );
        assert_eq!(day.net_sales, Money(125_000));
        assert_eq!(day.business_date, Date(20_000));
        assert_eq!(day.occurred_at, Timestamp(20_001 * DAY));
        assert!(
            d.state("t1|s1|i1|20000").is_none(),
            "closed days are dropped"
        );
        assert_eq!(d.timers().len(), 1, "the next day is open");
    }

    #[test]
    fn a_sale_for_a_closed_day_is_dead_lettered_as_late() {
        let mut d = TestDriver::new(DailySales);
        d.pipe([sale(1, 9, 2), sale(2, 30, 1)]);
        d.pipe([sale(3, 10, 4)]);
        assert_eq!(d.dead_letters().len(), 1);
        assert_eq!(d.dead_letters()[0].reject.reason, "late");
        assert_eq!(d.outputs::<DailyItemSales>()[0].units_sold, 2);
    }

    #[test]
    fn a_replayed_receipt_changes_nothing() {
        let mut d = TestDriver::new(DailySales);
        d.pipe([sale(1, 9, 2)]);
        let before = d.state("t1|s1|i1|20000").cloned();
        d.pipe([sale(1, 9, 2)]);
        assert_eq!(d.state("t1|s1|i1|20000").cloned(), before);
    }

    #[test]
    fn a_receipt_redelivered_after_a_crash_counts_once() {
        let mut d = TestDriver::new(DailySales);
        d.pipe([sale(1, 9, 2)]);
        d.commit();
        d.pipe([sale(2, 17, 3)]);
        // The states reflecting receipt 2 were stored, its offset was not committed: the
        // broker delivers it again at the same offset.
        d.crash_after_states();
        d.pipe([sale(2, 17, 3)]);
        let totals = d.state("t1|s1|i1|20000").expect("day open");
        assert_eq!((totals.units_sold, totals.receipts.len()), (5, 2));
    }
}
