//! The truth: every item-location's buckets as the simulation keeps them, and the CSV of
//! what a correct ledger must end with.

use composerp_events::Buckets;

use crate::Generator;

/// Expected final buckets of one item-location.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TruthRow {
    /// Tenant.
    pub tenant_id: String,
    /// Location.
    pub location_id: String,
    /// Item.
    pub item_id: String,
    /// The buckets kept; available and the inventory position derive from them.
    pub stock: Buckets,
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

    /// The eight buckets in [`Buckets::NAMES`] order, the CSV's column order.
    pub fn buckets(&self) -> [i64; 8] {
        self.stock.values()
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
            let [
                on_hand,
                on_order,
                in_transit,
                reserved,
                damaged,
                backordered,
                ..,
            ] = b;
            let row = TruthRow {
                tenant_id: f[0].to_owned(),
                location_id: f[1].to_owned(),
                item_id: f[2].to_owned(),
                stock: Buckets {
                    on_hand,
                    on_order,
                    in_transit,
                    reserved,
                    damaged,
                    backordered,
                },
            };
            if row.buckets() != b {
                return Err(err(format!(
                    "available and inventory position {:?} do not follow from the stored buckets",
                    &b[6..]
                )));
            }
            rows.push(row);
        }
        Ok(rows)
    }
}

/// One item-location's stock as the simulation keeps it: nothing is reserved or backordered.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stock {
    /// Units at the location, damaged included.
    pub(crate) on_hand: i64,
    /// Units returned damaged and not yet written off.
    pub(crate) damaged: i64,
    /// (po line key, ordered, received) per open PO line.
    pub(crate) po_lines: Vec<(String, i64, i64)>,
    /// (transfer id, shipped, received) per inbound transfer.
    pub(crate) transfers: Vec<(String, i64, i64)>,
    /// An order or transfer is on its way: no other is placed until it arrives.
    pub(crate) open_order: bool,
}

impl Stock {
    /// Ordered and not yet received, per PO line.
    pub(crate) fn on_order(&self) -> i64 {
        self.po_lines.iter().map(|(_, o, r)| (o - r).max(0)).sum()
    }

    /// Shipped here and not yet received, per transfer.
    pub(crate) fn in_transit(&self) -> i64 {
        self.transfers.iter().map(|(_, s, r)| (s - r).max(0)).sum()
    }

    /// The buckets, by the same rules as the ledger (docs/domain.md, Stock buckets).
    pub(crate) fn buckets(&self) -> Buckets {
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
    pub(crate) fn sellable(&self) -> i64 {
        Buckets {
            on_hand: self.on_hand,
            damaged: self.damaged,
            ..Buckets::default()
        }
        .available()
    }
}

impl Generator {
    /// The expected final buckets of every item-location, sorted by tenant, location, item.
    pub fn truth(&self) -> Vec<TruthRow> {
        let mut rows = Vec::new();
        for t in &self.tenants {
            for (l, loc) in t.locs.iter().enumerate() {
                for (i, item) in t.items.iter().enumerate() {
                    rows.push(TruthRow {
                        tenant_id: t.id.clone(),
                        location_id: loc.id.clone(),
                        item_id: item.id.clone(),
                        stock: t.stock[l][i].buckets(),
                    });
                }
            }
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use composerp_events::{
        inventory::WriteOffSource,
        pos::{ReturnCondition, SaleLineType},
    };

    use super::*;
    use crate::{
        Config, Generated,
        sim::tests::{cfg, run},
    };

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
        // An inventory position that the stored buckets do not give.
        std::fs::write(&path, "header\na,b,c,5,0,0,0,0,0,5,6").expect("write");
        assert!(matches!(
            TruthRow::read_csv(&path),
            Err(TruthError::Line { line: 2, .. })
        ));
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn the_truth_csv_header_names_the_buckets_in_order() {
        let names = ["tenant_id", "location_id", "item_id"]
            .into_iter()
            .chain(Buckets::NAMES)
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(TruthRow::CSV_HEADER, names);
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
                (
                    row.stock.on_hand,
                    row.stock.on_order,
                    row.stock.in_transit,
                    row.stock.damaged
                ),
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
}
