//! Demand: each store's daily sales (weekly seasonality, trend, promotions, capped by what
//! can be sold) grouped into receipts, and the returns that follow some of them.

use chrono::{Datelike, Duration};
use composerp_events::{
    Money, Timestamp,
    catalog::LocationType,
    pos::{ReturnCondition, SaleCompleted, SaleLine, SaleLineType, SalesChannel},
};
use rand::{Rng, seq::SliceRandom};
use rand_distr::{Distribution, Poisson};

use crate::{Generated, Generator};

/// Demand multiplier per weekday, Monday first.
const WEEKLY: [f64; 7] = [0.85, 0.8, 0.9, 0.95, 1.15, 1.45, 0.9];

impl Generator {
    /// A day's sales at every store of tenant `t`: demand drawn per item, sold up to what can be
    /// sold, shuffled into baskets of one to four lines.
    pub(crate) fn sales(&mut self, t: usize, day: u32, out: &mut Vec<Generated>) {
        let weekday = (self.cfg.start + Duration::days(day as i64))
            .weekday()
            .num_days_from_monday() as usize;
        for l in 0..self.tenants[t].locs.len() {
            if self.tenants[t].locs[l].kind != LocationType::STORE {
                continue;
            }
            let mut lines: Vec<(usize, i64)> = Vec::new();
            for i in 0..self.tenants[t].items.len() {
                let tenant = &self.tenants[t];
                let item = &tenant.items[i];
                let promo: f64 = tenant
                    .promos
                    .iter()
                    .filter(|(pi, s, e, _)| *pi == i && (*s..*e).contains(&day))
                    .map(|p| p.3)
                    .product();
                let rate = (item.base_rate
                    * WEEKLY[weekday]
                    * (1.0 + item.trend_per_day * day as f64)
                    * promo)
                    .max(0.0);
                let demand = if rate > 0.0 {
                    Poisson::new(rate)
                        .map(|p| p.sample(&mut self.rng) as i64)
                        .unwrap_or(0)
                } else {
                    0
                };
                let sold = demand.min(tenant.stock[l][i].sellable());
                let mut left = sold;
                while left > 0 {
                    let q = left.min(self.rng.random_range(1..4));
                    lines.push((i, q));
                    left -= q;
                }
            }
            lines.shuffle(&mut self.rng);
            let mut idx = 0;
            while idx < lines.len() {
                let n = self.rng.random_range(1..5).min(lines.len() - idx);
                let basket: Vec<(usize, i64)> = lines[idx..idx + n].to_vec();
                idx += n;
                let minute = self.rng.random_range(8 * 60..21 * 60);
                self.receipt_sale(t, l, day, minute, &basket, out);
            }
        }
    }

    /// One basket's receipt; a few lines come back within the hour as a return receipt.
    fn receipt_sale(
        &mut self,
        t: usize,
        l: usize,
        day: u32,
        minute: u32,
        basket: &[(usize, i64)],
        out: &mut Vec<Generated>,
    ) {
        let loc = self.tenants[t].locs[l].clone();
        let at = self.at(&loc, day, minute);
        let (event_id, tenant_id, occurred_at, produced_at, source) =
            self.envelope(t, at, format!("pos:{}", loc.id));
        let mut sale_lines = Vec::with_capacity(basket.len());
        let mut returns = Vec::new();
        for (n, &(i, q)) in basket.iter().enumerate() {
            let tenant = &mut self.tenants[t];
            let item = &tenant.items[i];
            let discount = if self.rng.random_bool(0.1) {
                Money(item.price.0 / 10 * q)
            } else {
                Money::ZERO
            };
            sale_lines.push(SaleLine {
                line_number: n as i32 + 1,
                item_id: item.id.clone(),
                line_type: SaleLineType::SALE,
                quantity: q,
                unit_price: item.price,
                discount,
                return_condition: None,
                reservation_id: None,
            });
            tenant.stock[l][i].on_hand -= q;
            self.stats.ledger_lines += 1;
            if self.rng.random_bool(0.02) {
                returns.push((i, 1, self.rng.random_bool(0.3)));
            }
        }
        out.push(Generated::Sale(SaleCompleted {
            event_id,
            tenant_id,
            occurred_at,
            produced_at,
            source: source.clone(),
            store_id: loc.id.clone(),
            register_id: format!("r{}", self.rng.random_range(1..6)),
            receipt_id: format!("R-{}", event_id.0.simple()),
            currency: self.tenants[t].currency.into(),
            lines: sale_lines,
            loyalty_id: self
                .rng
                .random_bool(0.3)
                .then(|| format!("L-{}", self.rng.random_range(1..100_000))),
            channel: SalesChannel::STORE,
            attributes: None,
        }));
        if returns.is_empty() {
            return;
        }
        // The customer comes back within the hour with one unit of some lines.
        let at = Timestamp(at.0 + self.rng.random_range(5..60) * 60_000_000);
        let (event_id, tenant_id, occurred_at, produced_at, source) = self.envelope(t, at, source);
        let tenant = &mut self.tenants[t];
        let lines = returns
            .iter()
            .enumerate()
            .map(|(n, &(i, q, damaged))| {
                let b = &mut tenant.stock[l][i];
                b.on_hand += q;
                if damaged {
                    b.damaged += q;
                }
                SaleLine {
                    line_number: n as i32 + 1,
                    item_id: tenant.items[i].id.clone(),
                    line_type: SaleLineType::RETURN,
                    quantity: q,
                    unit_price: tenant.items[i].price,
                    discount: Money::ZERO,
                    return_condition: Some(if damaged {
                        ReturnCondition::DAMAGED
                    } else {
                        ReturnCondition::SELLABLE
                    }),
                    reservation_id: None,
                }
            })
            .collect::<Vec<_>>();
        self.stats.ledger_lines += lines.len() as u64;
        out.push(Generated::Sale(SaleCompleted {
            event_id,
            tenant_id,
            occurred_at,
            produced_at,
            source,
            store_id: loc.id.clone(),
            register_id: "r1".into(),
            receipt_id: format!("RET-{}", event_id.0.simple()),
            currency: tenant.currency.into(),
            lines,
            loyalty_id: None,
            channel: SalesChannel::STORE,
            attributes: None,
        }));
    }
}
