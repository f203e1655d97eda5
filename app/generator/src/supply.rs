//! Supply: purchase orders and their receipts (partial and over-receipts), DC-to-store
//! transfers (some received short), and the deliveries scheduled for later days.

use composerp_events::{
    catalog::LocationType,
    inventory::{TransferLine, TransferReceived, TransferShipped},
    procurement::{PurchaseOrderReceived, ReceiptLine},
    replenishment::{PurchaseOrderApproved, PurchaseOrderLine},
};
use rand::Rng;

use crate::{
    Generated, Generator,
    master::{order_quantity, reorder_point},
};

/// A scheduled future event (deliveries), kept until its day comes.
#[derive(Debug, Clone)]
pub(crate) struct Scheduled {
    /// Day it happens.
    pub(crate) day: u32,
    /// Tenant index.
    pub(crate) tenant: usize,
    /// What arrives.
    pub(crate) kind: Pending,
}

/// A delivery on its way; locations and items are indices into the tenant's.
#[derive(Debug, Clone)]
pub(crate) enum Pending {
    /// Goods of a purchase order line.
    Receipt {
        /// Receiving location.
        loc: usize,
        /// Item.
        item: usize,
        /// PO number.
        po: String,
        /// Units delivered.
        qty: i64,
    },
    /// The destination's receipt of a transfer.
    TransferIn {
        /// Shipping location.
        from: usize,
        /// Receiving location.
        to: usize,
        /// Item.
        item: usize,
        /// Transfer id.
        transfer: String,
        /// Units received.
        qty: i64,
    },
}

impl Generator {
    /// Opening stock: one approved PO per item-location, received at once.
    pub(crate) fn opening_stock(&mut self, t: usize, out: &mut Vec<Generated>) {
        for l in 0..self.tenants[t].locs.len() {
            for i in 0..self.tenants[t].items.len() {
                let tenant = &self.tenants[t];
                let qty = order_quantity(&tenant.items[i], tenant.locs[l].kind, tenant) * 2;
                let po = format!("OPEN-{}-{}", tenant.locs[l].id, tenant.items[i].id);
                self.purchase_order(t, l, i, 0, 6 * 60, &po, qty, out);
                self.receipt(t, l, i, 0, 7 * 60, &po, qty, out);
            }
        }
    }

    /// An approved purchase order of one line: `qty` of item `i` for location `l`, on order.
    #[allow(clippy::too_many_arguments)]
    fn purchase_order(
        &mut self,
        t: usize,
        l: usize,
        i: usize,
        day: u32,
        minute: u32,
        po: &str,
        qty: i64,
        out: &mut Vec<Generated>,
    ) {
        let loc = self.tenants[t].locs[l].clone();
        let at = self.at(&loc, day, minute);
        let (event_id, tenant_id, occurred_at, produced_at, source) =
            self.envelope(t, at, "composerp:generator".into());
        let tenant = &mut self.tenants[t];
        let item = &tenant.items[i];
        out.push(Generated::PoApproved(PurchaseOrderApproved {
            event_id,
            tenant_id,
            occurred_at,
            produced_at,
            source,
            location_id: loc.id.clone(),
            po_number: po.into(),
            supplier_id: "sup01".into(),
            currency: tenant.currency.into(),
            lines: vec![PurchaseOrderLine {
                line_number: 1,
                item_id: item.id.clone(),
                quantity: qty,
                unit_cost: item.cost,
            }],
            approved_by: "rule:auto-approval".into(),
            auto_approved: true,
            expected_date: None,
            attributes: None,
        }));
        tenant.stock[l][i].po_lines.push((po.into(), qty, 0));
        tenant.stock[l][i].open_order = true;
    }

    /// Goods received against purchase order `po`: on hand up, the line's on_order down.
    #[allow(clippy::too_many_arguments)]
    fn receipt(
        &mut self,
        t: usize,
        l: usize,
        i: usize,
        day: u32,
        minute: u32,
        po: &str,
        qty: i64,
        out: &mut Vec<Generated>,
    ) {
        let loc = self.tenants[t].locs[l].clone();
        let at = self.at(&loc, day, minute);
        let (event_id, tenant_id, occurred_at, produced_at, source) =
            self.envelope(t, at, "wms".into());
        let lot = self.rng.random_range(1000..9999);
        let tenant = &mut self.tenants[t];
        let item = &tenant.items[i];
        out.push(Generated::Receipt(PurchaseOrderReceived {
            event_id,
            tenant_id,
            occurred_at,
            produced_at,
            source,
            location_id: loc.id.clone(),
            po_number: po.into(),
            receipt_id: format!("GR-{}", event_id.0.simple()),
            supplier_id: Some("sup01".into()),
            currency: tenant.currency.into(),
            lines: vec![ReceiptLine {
                line_number: 1,
                po_line_number: 1,
                item_id: item.id.clone(),
                quantity: qty,
                unit_cost: item.cost,
                lot_number: Some(format!("LOT-{lot}")),
                expiry_date: None,
            }],
            attributes: None,
        }));
        self.stats.ledger_lines += 1;
        let b = &mut tenant.stock[l][i];
        b.on_hand += qty;
        if let Some(line) = b.po_lines.iter_mut().find(|(p, _, _)| p == po) {
            line.2 += qty;
        }
        b.open_order = b.on_order() > 0;
    }

    /// The receipts and transfer arrivals scheduled for tenant `t` on `day`.
    pub(crate) fn deliveries(&mut self, t: usize, day: u32, out: &mut Vec<Generated>) {
        let (due, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.scheduled)
            .into_iter()
            .partition(|s| s.day == day && s.tenant == t);
        self.scheduled = rest;
        for s in due {
            match s.kind {
                Pending::Receipt { loc, item, po, qty } => {
                    self.receipt(t, loc, item, day, 8 * 60, &po, qty, out)
                }
                Pending::TransferIn {
                    from,
                    to,
                    item,
                    transfer,
                    qty,
                } => {
                    let dest = self.tenants[t].locs[to].clone();
                    let at = self.at(&dest, day, 7 * 60 + 30);
                    let (event_id, tenant_id, occurred_at, produced_at, source) =
                        self.envelope(t, at, format!("pos:{}", dest.id));
                    let tenant = &mut self.tenants[t];
                    out.push(Generated::Received(TransferReceived {
                        event_id,
                        tenant_id,
                        occurred_at,
                        produced_at,
                        source,
                        transfer_id: transfer.clone(),
                        from_location_id: tenant.locs[from].id.clone(),
                        to_location_id: dest.id.clone(),
                        lines: vec![TransferLine {
                            line_number: 1,
                            item_id: tenant.items[item].id.clone(),
                            quantity: qty,
                        }],
                        attributes: None,
                    }));
                    self.stats.ledger_lines += 1;
                    let b = &mut tenant.stock[to][item];
                    b.on_hand += qty;
                    if let Some(tr) = b.transfers.iter_mut().find(|(id, _, _)| *id == transfer) {
                        tr.2 += qty;
                    }
                    b.open_order = false;
                }
            }
        }
    }

    /// Reorders item `i` at location `l` when its inventory position is below the reorder point
    /// and nothing is on its way: from the DC when it stocks enough, else from the supplier.
    pub(crate) fn replenish(
        &mut self,
        t: usize,
        l: usize,
        i: usize,
        day: u32,
        out: &mut Vec<Generated>,
    ) {
        let tenant = &self.tenants[t];
        let (kind, item, b) = (tenant.locs[l].kind, &tenant.items[i], &tenant.stock[l][i]);
        if b.open_order || b.buckets().inventory_position() >= reorder_point(item, kind, tenant) {
            return;
        }
        let qty = order_quantity(item, kind, tenant);
        let lead = item.lead_days;
        let dc = 0;
        let from_dc =
            kind == LocationType::STORE && item.via_dc && tenant.stock[dc][i].sellable() >= qty;
        if from_dc {
            let transfer = format!("TR-{}-{}-{}-{}", tenant.id, tenant.locs[l].id, item.id, day);
            self.transfer_out(t, dc, l, i, day, &transfer, qty, out);
            let short = if self.rng.random_bool(0.05) {
                1.min(qty - 1)
            } else {
                0
            };
            let arrive = day + self.rng.random_range(1..3);
            self.scheduled.push(Scheduled {
                day: arrive,
                tenant: t,
                kind: Pending::TransferIn {
                    from: dc,
                    to: l,
                    item: i,
                    transfer,
                    qty: qty - short,
                },
            });
        } else {
            let po = format!(
                "PO-{}-{}-{}-{}",
                self.tenants[t].id, self.tenants[t].locs[l].id, self.tenants[t].items[i].id, day
            );
            self.purchase_order(t, l, i, day, 21 * 60 + 30, &po, qty, out);
            let arrive = day + lead;
            let roll: f64 = self.rng.random();
            if roll < 0.1 && qty > 1 {
                let first = qty / 2;
                self.scheduled.push(Scheduled {
                    day: arrive,
                    tenant: t,
                    kind: Pending::Receipt {
                        loc: l,
                        item: i,
                        po: po.clone(),
                        qty: first,
                    },
                });
                self.scheduled.push(Scheduled {
                    day: arrive + 1,
                    tenant: t,
                    kind: Pending::Receipt {
                        loc: l,
                        item: i,
                        po,
                        qty: qty - first,
                    },
                });
            } else {
                let over = if roll > 0.97 { 1 } else { 0 };
                self.scheduled.push(Scheduled {
                    day: arrive,
                    tenant: t,
                    kind: Pending::Receipt {
                        loc: l,
                        item: i,
                        po,
                        qty: qty + over,
                    },
                });
            }
        }
    }

    /// Ships `qty` of item `i` from `from` to `to`: in transit at the destination until received.
    #[allow(clippy::too_many_arguments)]
    fn transfer_out(
        &mut self,
        t: usize,
        from: usize,
        to: usize,
        i: usize,
        day: u32,
        transfer: &str,
        qty: i64,
        out: &mut Vec<Generated>,
    ) {
        let src = self.tenants[t].locs[from].clone();
        let at = self.at(&src, day, 22 * 60);
        let (event_id, tenant_id, occurred_at, produced_at, source) =
            self.envelope(t, at, "wms".into());
        let tenant = &mut self.tenants[t];
        out.push(Generated::Shipped(TransferShipped {
            event_id,
            tenant_id,
            occurred_at,
            produced_at,
            source,
            transfer_id: transfer.into(),
            from_location_id: src.id.clone(),
            to_location_id: tenant.locs[to].id.clone(),
            lines: vec![TransferLine {
                line_number: 1,
                item_id: tenant.items[i].id.clone(),
                quantity: qty,
            }],
            attributes: None,
        }));
        self.stats.ledger_lines += 1;
        tenant.stock[from][i].on_hand -= qty;
        let dest = &mut tenant.stock[to][i];
        dest.transfers.push((transfer.into(), qty, 0));
        dest.open_order = true;
    }
}
