//! The simulation behind [`Generator`].

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;
use composerp_events::{
    Buckets, EventId, Money, Timestamp,
    catalog::{Item, Location, LocationType, Supplier, SupplierItem, UnitOfMeasure},
    inventory::{
        AdjustmentType, InventoryAdjusted, TransferLine, TransferReceived, TransferShipped,
        WriteOffSource,
    },
    pos::{ReturnCondition, SaleCompleted, SaleLine, SaleLineType, SalesChannel},
    procurement::{PurchaseOrderReceived, ReceiptLine},
    replenishment::{
        PurchaseOrderApproved, PurchaseOrderLine, ReplenishmentPolicy, ReplenishmentRule,
    },
};
use rand::{Rng, SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Number of tenants.
    pub tenants: u32,
    /// Locations per tenant; with two or more, the first is a DC supplying half the items.
    pub locations: u32,
    /// Items per tenant.
    pub items: u32,
    /// Days of history.
    pub days: u32,
    /// Random seed.
    pub seed: u64,
    /// Tenant ids are this prefix and a two-digit number.
    pub tenant_prefix: String,
    /// First day.
    pub start: NaiveDate,
}

/// One generated event, typed.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Generated {
    /// Item master.
    Item(Item),
    /// Location master.
    Location(Location),
    /// Supplier master.
    Supplier(Supplier),
    /// Supplier terms.
    SupplierItem(SupplierItem),
    /// Replenishment rule.
    Rule(ReplenishmentRule),
    /// POS receipt.
    Sale(SaleCompleted),
    /// Purchase order approval (opens on_order).
    PoApproved(PurchaseOrderApproved),
    /// Goods receipt.
    Receipt(PurchaseOrderReceived),
    /// Write-off.
    Adjustment(InventoryAdjusted),
    /// Transfer shipped.
    Shipped(TransferShipped),
    /// Transfer received.
    Received(TransferReceived),
}

impl Generated {
    /// Business time of the event.
    pub fn occurred_at(&self) -> Timestamp {
        match self {
            Generated::Item(e) => e.occurred_at,
            Generated::Location(e) => e.occurred_at,
            Generated::Supplier(e) => e.occurred_at,
            Generated::SupplierItem(e) => e.occurred_at,
            Generated::Rule(e) => e.occurred_at,
            Generated::Sale(e) => e.occurred_at,
            Generated::PoApproved(e) => e.occurred_at,
            Generated::Receipt(e) => e.occurred_at,
            Generated::Adjustment(e) => e.occurred_at,
            Generated::Shipped(e) => e.occurred_at,
            Generated::Received(e) => e.occurred_at,
        }
    }

    /// Event id.
    pub fn event_id(&self) -> EventId {
        match self {
            Generated::Item(e) => e.event_id,
            Generated::Location(e) => e.event_id,
            Generated::Supplier(e) => e.event_id,
            Generated::SupplierItem(e) => e.event_id,
            Generated::Rule(e) => e.event_id,
            Generated::Sale(e) => e.event_id,
            Generated::PoApproved(e) => e.event_id,
            Generated::Receipt(e) => e.event_id,
            Generated::Adjustment(e) => e.event_id,
            Generated::Shipped(e) => e.event_id,
            Generated::Received(e) => e.event_id,
        }
    }
}

/// Expected final buckets of one item-location.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TruthRow {
    /// Tenant.
    pub tenant_id: String,
    /// Location.
    pub location_id: String,
    /// Item.
    pub item_id: String,
    /// On hand.
    pub on_hand: i64,
    /// On order.
    pub on_order: i64,
    /// In transit.
    pub in_transit: i64,
    /// Reserved.
    pub reserved: i64,
    /// Damaged.
    pub damaged: i64,
    /// Backordered.
    pub backordered: i64,
    /// Available: see [`Buckets::available`].
    pub available: i64,
    /// Inventory position: see [`Buckets::inventory_position`].
    pub inventory_position: i64,
}

/// Why a truth CSV cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TruthError {
    /// The file cannot be read.
    #[error("reading the truth file: {0}")]
    Io(#[from] std::io::Error),
    /// A line does not have the columns of [`TruthRow::CSV_HEADER`].
    #[error("truth file line {line}: {detail}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        detail: String,
    },
}

impl TruthRow {
    /// Header line of the truth CSV: the item-location, then [`Buckets::NAMES`].
    pub const CSV_HEADER: &'static str = "tenant_id,location_id,item_id,on_hand,on_order,in_transit,reserved,damaged,backordered,available,inventory_position";

    /// A row of an item-location's eight bucket values, in [`Buckets::NAMES`] order.
    pub fn new(tenant_id: String, location_id: String, item_id: String, b: [i64; 8]) -> Self {
        let [
            on_hand,
            on_order,
            in_transit,
            reserved,
            damaged,
            backordered,
            available,
            inventory_position,
        ] = b;
        TruthRow {
            tenant_id,
            location_id,
            item_id,
            on_hand,
            on_order,
            in_transit,
            reserved,
            damaged,
            backordered,
            available,
            inventory_position,
        }
    }

    /// The eight buckets in [`Buckets::NAMES`] order, the CSV's column order.
    pub fn buckets(&self) -> [i64; 8] {
        [
            self.on_hand,
            self.on_order,
            self.in_transit,
            self.reserved,
            self.damaged,
            self.backordered,
            self.available,
            self.inventory_position,
        ]
    }

    /// The row as one CSV line (no newline).
    pub fn to_csv(&self) -> String {
        let b = self.buckets().map(|v| v.to_string()).join(",");
        format!(
            "{},{},{},{b}",
            self.tenant_id, self.location_id, self.item_id
        )
    }

    /// Reads a truth CSV written by `composerp generate --truth`.
    pub fn read_csv(path: &std::path::Path) -> Result<Vec<TruthRow>, TruthError> {
        let text = std::fs::read_to_string(path)?;
        let mut rows = Vec::new();
        for (n, line) in text.lines().enumerate().skip(1) {
            let err = |detail: String| TruthError::Line {
                line: n + 1,
                detail,
            };
            let f: Vec<&str> = line.split(',').collect();
            let want = 3 + Buckets::NAMES.len();
            if f.len() != want {
                return Err(err(format!("{} columns, want {want}", f.len())));
            }
            let mut b = [0i64; 8];
            for (slot, v) in b.iter_mut().zip(&f[3..]) {
                *slot = v.parse().map_err(|e| err(format!("{v:?}: {e}")))?;
            }
            rows.push(TruthRow::new(
                f[0].to_owned(),
                f[1].to_owned(),
                f[2].to_owned(),
                b,
            ));
        }
        Ok(rows)
    }
}

/// Counts of what was generated.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Events emitted, duplicates included.
    pub events: u64,
    /// Distinct events.
    pub distinct_events: u64,
    /// On-hand movement lines of distinct events: each yields one stock ledger entry.
    pub ledger_lines: u64,
    /// Ids emitted twice (second copy identical).
    pub duplicate_ids: Vec<EventId>,
    /// Ids emitted later than events with a later business time.
    pub late_ids: Vec<EventId>,
}

const TIMEZONES: [&str; 6] = [
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "Europe/London",
    "America/Los_Angeles",
    "Australia/Sydney",
];
const WEEKLY: [f64; 7] = [0.85, 0.8, 0.9, 0.95, 1.15, 1.45, 0.9]; // Mon..Sun

#[derive(Debug, Clone)]
struct ItemSpec {
    id: String,
    base_rate: f64,
    trend_per_day: f64,
    cost: Money,
    price: Money,
    pack: i64,
    moq: i64,
    lead_days: u32,
    via_dc: bool,
}

/// One item-location's stock as the simulation keeps it: nothing is reserved or backordered.
#[derive(Debug, Clone, Default)]
struct Stock {
    on_hand: i64,
    damaged: i64,
    /// (po line key, ordered, received) per open PO line.
    po_lines: Vec<(String, i64, i64)>,
    /// (transfer id, shipped, received) per inbound transfer.
    transfers: Vec<(String, i64, i64)>,
    open_order: bool,
}

impl Stock {
    fn on_order(&self) -> i64 {
        self.po_lines.iter().map(|(_, o, r)| (o - r).max(0)).sum()
    }

    fn in_transit(&self) -> i64 {
        self.transfers.iter().map(|(_, s, r)| (s - r).max(0)).sum()
    }

    /// The buckets, by the same rules as the ledger (docs/domain.md, Stock buckets).
    fn buckets(&self) -> Buckets {
        Buckets {
            on_hand: self.on_hand,
            on_order: self.on_order(),
            in_transit: self.in_transit(),
            reserved: 0,
            damaged: self.damaged.max(0),
            backordered: 0,
        }
    }

    /// Available units, without summing the open documents that available does not need: this
    /// runs for every item of every store every day.
    fn sellable(&self) -> i64 {
        Buckets {
            on_hand: self.on_hand,
            damaged: self.damaged,
            ..Buckets::default()
        }
        .available()
    }
}

#[derive(Debug, Clone)]
struct Loc {
    id: String,
    tz: Tz,
    kind: LocationType,
}

#[derive(Debug, Clone)]
struct Tenant {
    id: String,
    currency: &'static str,
    locs: Vec<Loc>,
    items: Vec<ItemSpec>,
    /// stock[loc][item]
    stock: Vec<Vec<Stock>>,
    promos: Vec<(usize, u32, u32, f64)>,
}

/// A scheduled future event (deliveries), kept until its day comes.
#[derive(Debug, Clone)]
struct Scheduled {
    day: u32,
    tenant: usize,
    kind: Pending,
}

#[derive(Debug, Clone)]
enum Pending {
    Receipt {
        loc: usize,
        item: usize,
        po: String,
        qty: i64,
    },
    TransferIn {
        from: usize,
        to: usize,
        item: usize,
        transfer: String,
        qty: i64,
    },
}

/// The generator: call [`Generator::master_data`] once, then [`Generator::next_day`] until None.
#[derive(Debug)]
pub struct Generator {
    cfg: Config,
    rng: ChaCha8Rng,
    tenants: Vec<Tenant>,
    day: u32,
    counter: u64,
    scheduled: Vec<Scheduled>,
    stats: Stats,
}

impl Generator {
    /// Sets up tenants, locations and items from the seed.
    pub fn new(cfg: Config) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let currencies = ["EUR", "USD", "JPY", "GBP"];
        let tenants = (0..cfg.tenants)
            .map(|t| {
                let locs: Vec<Loc> = (0..cfg.locations)
                    .map(|l| {
                        let dc = cfg.locations > 1 && l == 0;
                        Loc {
                            id: if dc {
                                format!("dc{l:02}")
                            } else {
                                format!("s{l:03}")
                            },
                            tz: TIMEZONES[((t + l) as usize) % TIMEZONES.len()]
                                .parse()
                                .unwrap_or(chrono_tz::UTC),
                            kind: if dc {
                                LocationType::DC
                            } else {
                                LocationType::STORE
                            },
                        }
                    })
                    .collect();
                let items: Vec<ItemSpec> = (0..cfg.items)
                    .map(|i| {
                        let slow = rng.random_bool(0.2);
                        let cost = rng.random_range(50..2_000) * 100;
                        ItemSpec {
                            id: format!("i{i:05}"),
                            base_rate: if slow {
                                rng.random_range(0.05..0.4)
                            } else {
                                rng.random_range(0.8..8.0)
                            },
                            trend_per_day: rng.random_range(-0.004..0.006),
                            cost: Money(cost),
                            price: Money(cost * rng.random_range(14..25) / 10),
                            pack: [1, 1, 4, 6, 12][rng.random_range(0..5)],
                            moq: [1, 6, 12][rng.random_range(0..3)],
                            lead_days: rng.random_range(2..6),
                            via_dc: cfg.locations > 1 && rng.random_bool(0.5),
                        }
                    })
                    .collect();
                let promos = (0..(cfg.items / 10).max(1))
                    .map(|_| {
                        let start = rng.random_range(0..cfg.days.max(1));
                        (
                            rng.random_range(0..cfg.items.max(1) as usize),
                            start,
                            start + rng.random_range(3..8),
                            rng.random_range(1.5..3.0),
                        )
                    })
                    .collect();
                Tenant {
                    id: format!("{}{t:02}", cfg.tenant_prefix),
                    currency: currencies[t as usize % currencies.len()],
                    stock: vec![vec![Stock::default(); items.len()]; locs.len()],
                    locs,
                    items,
                    promos,
                }
            })
            .collect();
        Generator {
            cfg,
            rng,
            tenants,
            day: 0,
            counter: 0,
            scheduled: Vec::new(),
            stats: Stats::default(),
        }
    }

    fn next_id(&mut self) -> EventId {
        self.counter += 1;
        EventId::from_name(&format!(
            "composerp-generator/{}/{}",
            self.cfg.seed, self.counter
        ))
    }

    fn at(&self, loc: &Loc, day: u32, minutes: u32) -> Timestamp {
        let date = self.cfg.start + Duration::days(day as i64);
        let local = date.and_time(NaiveTime::MIN) + Duration::minutes(minutes as i64);
        let utc = loc
            .tz
            .from_local_datetime(&local)
            .earliest()
            .map(|t| t.to_utc())
            .unwrap_or_else(|| local.and_utc());
        Timestamp::from(utc)
    }

    fn envelope(
        &mut self,
        tenant: usize,
        at: Timestamp,
        source: String,
    ) -> (EventId, String, Timestamp, Timestamp, String) {
        let id = self.next_id();
        (
            id,
            self.tenants[tenant].id.clone(),
            at,
            Timestamp(at.0 + 250_000),
            source,
        )
    }

    /// Items, locations, suppliers, supplier terms and rules, dated the day before the history.
    pub fn master_data(&mut self) -> Vec<Generated> {
        let mut out = Vec::new();
        for t in 0..self.tenants.len() {
            let tenant = self.tenants[t].clone();
            let at = self.at(&tenant.locs[0], 0, 0);
            let at = Timestamp(at.0 - 86_400_000_000);
            let (event_id, tenant_id, occurred_at, produced_at, source) =
                self.envelope(t, at, "erp".into());
            out.push(Generated::Supplier(Supplier {
                event_id,
                tenant_id,
                occurred_at,
                produced_at,
                source,
                supplier_id: "sup01".into(),
                name: format!("Supplier of {}", tenant.id),
                contact_email: Some(format!("orders@{}.example", tenant.id)),
                contact_phone: Some("+1 555 0100".into()),
                currency: tenant.currency.into(),
                active: true,
                attributes: None,
            }));
            for (l, loc) in tenant.locs.iter().enumerate() {
                let (event_id, tenant_id, occurred_at, produced_at, source) =
                    self.envelope(t, at, "erp".into());
                out.push(Generated::Location(Location {
                    event_id,
                    tenant_id,
                    occurred_at,
                    produced_at,
                    source,
                    location_id: loc.id.clone(),
                    name: format!(
                        "{} {}",
                        if loc.kind == LocationType::DC {
                            "DC"
                        } else {
                            "Store"
                        },
                        l
                    ),
                    location_type: loc.kind,
                    timezone: loc.tz.name().into(),
                    active: true,
                    attributes: None,
                }));
            }
            for item in &tenant.items {
                let (event_id, tenant_id, occurred_at, produced_at, source) =
                    self.envelope(t, at, "pim".into());
                out.push(Generated::Item(Item {
                    event_id,
                    tenant_id,
                    occurred_at,
                    produced_at,
                    source,
                    item_id: item.id.clone(),
                    sku: format!("SKU-{}", item.id),
                    name: format!("Item {}", item.id),
                    category: Some(if item.base_rate < 0.5 {
                        "slow".into()
                    } else {
                        "fast".into()
                    }),
                    uom: UnitOfMeasure::EACH,
                    uom_scale: 0,
                    standard_cost: Some(item.cost),
                    active: true,
                    attributes: None,
                }));
                let (event_id, tenant_id, occurred_at, produced_at, source) =
                    self.envelope(t, at, "erp".into());
                out.push(Generated::SupplierItem(SupplierItem {
                    event_id,
                    tenant_id,
                    occurred_at,
                    produced_at,
                    source,
                    supplier_id: "sup01".into(),
                    item_id: item.id.clone(),
                    lead_time_mean_days: item.lead_days as f64,
                    lead_time_std_days: 0.5,
                    moq: item.moq,
                    pack_size: item.pack,
                    max_order_qty: None,
                    unit_cost: item.cost,
                    currency: tenant.currency.into(),
                    active: true,
                    attributes: None,
                }));
                for loc in &tenant.locs {
                    let (event_id, tenant_id, occurred_at, produced_at, source) =
                        self.envelope(t, at, "planner".into());
                    out.push(Generated::Rule(ReplenishmentRule {
                        event_id,
                        tenant_id,
                        occurred_at,
                        produced_at,
                        source,
                        location_id: loc.id.clone(),
                        item_id: item.id.clone(),
                        supplier_id: "sup01".into(),
                        policy: ReplenishmentPolicy::S_Q,
                        reorder_point: Some(reorder_point(item, loc.kind, &tenant)),
                        order_quantity: Some(order_quantity(item, loc.kind, &tenant)),
                        min_qty: None,
                        max_qty: None,
                        service_level: 0.95,
                        order_days: Vec::new(),
                        rearm_margin: 0,
                        alert_on_safety_stock: false,
                        active: true,
                        attributes: None,
                    }));
                }
            }
        }
        self.count(&out);
        out
    }

    fn count(&mut self, events: &[Generated]) {
        self.stats.events += events.len() as u64;
        self.stats.distinct_events += events.len() as u64;
    }

    /// The next day's events in publish order, or None after the last day.
    pub fn next_day(&mut self) -> Option<Vec<Generated>> {
        if self.day >= self.cfg.days {
            return None;
        }
        let day = self.day;
        let mut events = Vec::new();
        for t in 0..self.tenants.len() {
            if day == 0 {
                self.opening_stock(t, &mut events);
            }
            self.deliveries(t, day, &mut events);
            self.sales(t, day, &mut events);
            self.end_of_day(t, day, &mut events);
        }
        events.sort_by_key(|e| e.occurred_at());
        self.count(&events);
        self.disorder(&mut events);
        self.day += 1;
        Some(events)
    }

    /// Opening stock: one approved PO per item-location, received at once.
    fn opening_stock(&mut self, t: usize, out: &mut Vec<Generated>) {
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

    fn deliveries(&mut self, t: usize, day: u32, out: &mut Vec<Generated>) {
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

    fn sales(&mut self, t: usize, day: u32, out: &mut Vec<Generated>) {
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

    /// A write-off of `qty` units at location `l`, item `i`.
    fn write_off(
        &mut self,
        (t, l, i): (usize, usize, usize),
        day: u32,
        qty: i64,
        source_kind: WriteOffSource,
        out: &mut Vec<Generated>,
    ) {
        let loc = self.tenants[t].locs[l].clone();
        let at = self.at(&loc, day, 21 * 60 + 15);
        let (event_id, tenant_id, occurred_at, produced_at, source) =
            self.envelope(t, at, "handheld".into());
        out.push(Generated::Adjustment(InventoryAdjusted {
            event_id,
            tenant_id,
            occurred_at,
            produced_at,
            source,
            location_id: loc.id,
            item_id: self.tenants[t].items[i].id.clone(),
            adjustment_type: AdjustmentType::WRITE_OFF,
            quantity: qty,
            reason_code: if source_kind == WriteOffSource::DAMAGED {
                "BREAKAGE".into()
            } else {
                "SHRINK".into()
            },
            write_off_source: Some(source_kind),
            reservation_id: None,
            order_ref: None,
            unit_cost: None,
            note: None,
            attributes: None,
        }));
        self.stats.ledger_lines += 1;
        let b = &mut self.tenants[t].stock[l][i];
        b.on_hand -= qty;
        if source_kind == WriteOffSource::DAMAGED {
            b.damaged -= qty;
        }
    }

    fn end_of_day(&mut self, t: usize, day: u32, out: &mut Vec<Generated>) {
        for l in 0..self.tenants[t].locs.len() {
            for i in 0..self.tenants[t].items.len() {
                let b = self.tenants[t].stock[l][i].clone();
                if b.damaged > 0 && self.rng.random_bool(0.2) {
                    self.write_off((t, l, i), day, b.damaged, WriteOffSource::DAMAGED, out);
                }
                if self.tenants[t].locs[l].kind == LocationType::STORE
                    && b.sellable() > 0
                    && self.rng.random_bool(0.004)
                {
                    self.write_off((t, l, i), day, 1, WriteOffSource::SELLABLE, out);
                }
                self.replenish(t, l, i, day, out);
            }
        }
    }

    fn replenish(&mut self, t: usize, l: usize, i: usize, day: u32, out: &mut Vec<Generated>) {
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

    /// Delays about 1% of events past later ones and repeats about 0.5% later in the stream.
    fn disorder(&mut self, events: &mut Vec<Generated>) {
        let n = events.len();
        if n < 3 {
            return;
        }
        for _ in 0..(n / 100) {
            let from = self.rng.random_range(0..n - 1);
            let to = (from + self.rng.random_range(1..50)).min(n - 1);
            let e = events.remove(from);
            self.stats.late_ids.push(e.event_id());
            events.insert(to, e);
        }
        for _ in 0..(n / 200) {
            let src = self.rng.random_range(0..n - 1);
            let copy = events[src].clone();
            let to = self.rng.random_range(src + 1..=events.len());
            self.stats.duplicate_ids.push(copy.event_id());
            events.insert(to, copy);
            self.stats.events += 1;
        }
    }

    /// Counts so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The expected final buckets of every item-location, sorted by tenant, location, item.
    pub fn truth(&self) -> Vec<TruthRow> {
        let mut rows = Vec::new();
        for t in &self.tenants {
            for (l, loc) in t.locs.iter().enumerate() {
                for (i, item) in t.items.iter().enumerate() {
                    rows.push(TruthRow::new(
                        t.id.clone(),
                        loc.id.clone(),
                        item.id.clone(),
                        t.stock[l][i].buckets().values(),
                    ));
                }
            }
        }
        rows
    }
}

/// Mean daily demand one location sees for an item (a DC serves the stores' DC items).
fn daily_rate(item: &ItemSpec, kind: LocationType, tenant: &Tenant) -> f64 {
    let stores = tenant
        .locs
        .iter()
        .filter(|l| l.kind == LocationType::STORE)
        .count() as f64;
    match kind {
        LocationType::STORE => item.base_rate,
        _ if item.via_dc => item.base_rate * stores,
        _ => item.base_rate * 0.5,
    }
}

fn reorder_point(item: &ItemSpec, kind: LocationType, tenant: &Tenant) -> i64 {
    (daily_rate(item, kind, tenant) * (item.lead_days as f64 + 2.0)).ceil() as i64 + 1
}

fn order_quantity(item: &ItemSpec, kind: LocationType, tenant: &Tenant) -> i64 {
    let raw = (daily_rate(item, kind, tenant) * 7.0).ceil() as i64;
    let q = raw.max(item.moq).max(1);
    (q + item.pack - 1) / item.pack * item.pack
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_truth_csv_reads_back_what_was_written() {
        let mut g = Generator::new(Config {
            tenants: 1,
            locations: 2,
            items: 5,
            days: 3,
            seed: 9,
            tenant_prefix: "t".into(),
            start: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("date"),
        });
        let _ = g.master_data();
        while g.next_day().is_some() {}
        let rows = g.truth();
        let path = std::env::temp_dir().join(format!("truth-{}.csv", std::process::id()));
        let text: Vec<String> = std::iter::once(TruthRow::CSV_HEADER.to_owned())
            .chain(rows.iter().map(TruthRow::to_csv))
            .collect();
        std::fs::write(&path, text.join("\n")).expect("write");
        let back = TruthRow::read_csv(&path).expect("read");
        let _ = std::fs::remove_file(&path);
        assert_eq!(back, rows);
        std::fs::write(&path, "header\na,b,c,1").expect("write");
        assert!(matches!(
            TruthRow::read_csv(&path),
            Err(TruthError::Line { line: 2, .. })
        ));
        let _ = std::fs::remove_file(&path);
    }

    use super::*;

    #[test]
    fn the_truth_csv_header_names_the_buckets_in_order() {
        let names = ["tenant_id", "location_id", "item_id"]
            .into_iter()
            .chain(Buckets::NAMES)
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(TruthRow::CSV_HEADER, names);
    }

    fn cfg(seed: u64) -> Config {
        Config {
            tenants: 2,
            locations: 3,
            items: 20,
            days: 21,
            seed,
            tenant_prefix: "t".into(),
            start: NaiveDate::from_ymd_opt(2024, 1, 1).expect("date"),
        }
    }

    fn run(c: Config) -> (Vec<Generated>, Generator) {
        let mut g = Generator::new(c);
        let mut all = g.master_data();
        while let Some(day) = g.next_day() {
            all.extend(day);
        }
        (all, g)
    }

    #[test]
    fn same_seed_same_events_other_seed_other_events() {
        let (a, _) = run(cfg(7));
        let (b, _) = run(cfg(7));
        let (c, _) = run(cfg(8));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    /// (tenant, location, item).
    type Key = (String, String, String);
    /// (on_hand, on_order, in_transit, damaged).
    type Replayed = (i64, i64, i64, i64);

    /// Applies the events by the domain's bucket rules, deduplicating by id, in arrival order.
    fn replay(events: &[Generated]) -> std::collections::BTreeMap<Key, Replayed> {
        use std::collections::{BTreeMap, HashMap, HashSet};
        let mut seen = HashSet::new();
        let mut on_hand: BTreeMap<(String, String, String), i64> = BTreeMap::new();
        let mut damaged: HashMap<(String, String, String), i64> = HashMap::new();
        let mut po: HashMap<(String, String, String, String), (i64, i64)> = HashMap::new();
        let mut tr: HashMap<(String, String, String, String), (i64, i64)> = HashMap::new();
        for e in events {
            if !seen.insert(e.event_id()) {
                continue;
            }
            match e {
                Generated::Sale(s) => {
                    for l in &s.lines {
                        let k = (s.tenant_id.clone(), s.store_id.clone(), l.item_id.clone());
                        let q = if l.line_type == SaleLineType::RETURN {
                            l.quantity
                        } else {
                            -l.quantity
                        };
                        *on_hand.entry(k.clone()).or_default() += q;
                        if l.return_condition == Some(ReturnCondition::DAMAGED) {
                            *damaged.entry(k).or_default() += l.quantity;
                        }
                    }
                }
                Generated::PoApproved(p) => {
                    for l in &p.lines {
                        po.entry((
                            p.tenant_id.clone(),
                            p.location_id.clone(),
                            l.item_id.clone(),
                            p.po_number.clone(),
                        ))
                        .or_default()
                        .0 += l.quantity;
                    }
                }
                Generated::Receipt(r) => {
                    for l in &r.lines {
                        let k = (
                            r.tenant_id.clone(),
                            r.location_id.clone(),
                            l.item_id.clone(),
                        );
                        *on_hand.entry(k.clone()).or_default() += l.quantity;
                        po.entry((k.0, k.1, k.2, r.po_number.clone()))
                            .or_default()
                            .1 += l.quantity;
                    }
                }
                Generated::Adjustment(a) => {
                    let k = (
                        a.tenant_id.clone(),
                        a.location_id.clone(),
                        a.item_id.clone(),
                    );
                    *on_hand.entry(k.clone()).or_default() -= a.quantity;
                    if a.write_off_source == Some(WriteOffSource::DAMAGED) {
                        *damaged.entry(k).or_default() -= a.quantity;
                    }
                }
                Generated::Shipped(s) => {
                    for l in &s.lines {
                        *on_hand
                            .entry((
                                s.tenant_id.clone(),
                                s.from_location_id.clone(),
                                l.item_id.clone(),
                            ))
                            .or_default() -= l.quantity;
                        tr.entry((
                            s.tenant_id.clone(),
                            s.to_location_id.clone(),
                            l.item_id.clone(),
                            s.transfer_id.clone(),
                        ))
                        .or_default()
                        .0 += l.quantity;
                    }
                }
                Generated::Received(r) => {
                    for l in &r.lines {
                        *on_hand
                            .entry((
                                r.tenant_id.clone(),
                                r.to_location_id.clone(),
                                l.item_id.clone(),
                            ))
                            .or_default() += l.quantity;
                        tr.entry((
                            r.tenant_id.clone(),
                            r.to_location_id.clone(),
                            l.item_id.clone(),
                            r.transfer_id.clone(),
                        ))
                        .or_default()
                        .1 += l.quantity;
                    }
                }
                _ => {}
            }
        }
        let mut out = BTreeMap::new();
        for (k, oh) in on_hand {
            let on_order: i64 = po
                .iter()
                .filter(|(pk, _)| (&pk.0, &pk.1, &pk.2) == (&k.0, &k.1, &k.2))
                .map(|(_, (o, r))| (o - r).max(0))
                .sum();
            let in_transit: i64 = tr
                .iter()
                .filter(|(tk, _)| (&tk.0, &tk.1, &tk.2) == (&k.0, &k.1, &k.2))
                .map(|(_, (s, r))| (s - r).max(0))
                .sum();
            let d = damaged.get(&k).copied().unwrap_or(0).max(0);
            out.insert(k, (oh, on_order, in_transit, d));
        }
        out
    }

    #[test]
    fn truth_equals_an_independent_replay_of_the_stream() {
        let (events, g) = run(cfg(3));
        let replayed = replay(&events);
        let truth = g.truth();
        assert_eq!(truth.len(), 2 * 3 * 20);
        for row in &truth {
            let k = (
                row.tenant_id.clone(),
                row.location_id.clone(),
                row.item_id.clone(),
            );
            let got = replayed.get(&k).copied().unwrap_or_default();
            assert_eq!(
                got,
                (row.on_hand, row.on_order, row.in_transit, row.damaged),
                "{k:?}"
            );
        }
        let s = g.stats();
        assert!(
            !s.duplicate_ids.is_empty() && !s.late_ids.is_empty(),
            "some disorder is generated"
        );
        assert_eq!(s.events, events.len() as u64);
        assert_eq!(s.events - s.duplicate_ids.len() as u64, s.distinct_events);
    }

    #[test]
    fn data_has_every_movement_kind_and_real_variety() {
        let (events, g) = run(cfg(5));
        let has = |f: fn(&Generated) -> bool| events.iter().any(f);
        assert!(has(
            |e| matches!(e, Generated::Sale(s) if s.lines.iter().any(|l| l.line_type == SaleLineType::RETURN))
        ));
        assert!(has(
            |e| matches!(e, Generated::Adjustment(a) if a.write_off_source == Some(WriteOffSource::DAMAGED))
        ));
        assert!(has(|e| matches!(e, Generated::Shipped(_))));
        assert!(has(|e| matches!(e, Generated::Received(_))));
        assert!(
            g.truth().iter().any(|r| r.on_order > 0),
            "some orders are still open at the end"
        );
        assert!(g.stats().ledger_lines > 1000);
    }
}
