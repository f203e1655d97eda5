//! [`Buckets`]: the stock buckets of one item-location (docs/domain.md, Stock buckets), defined
//! once for the ledger that keeps them, the generator's truth, the sink and the API.

use serde::{Deserialize, Serialize};

/// The six stored buckets of one item-location; available and the inventory position derive
/// from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Buckets {
    /// Units at the location, reserved and damaged included; may be negative.
    pub on_hand: i64,
    /// Open purchase order quantity.
    pub on_order: i64,
    /// Inbound transfer quantity not yet received.
    pub in_transit: i64,
    /// Reserved units.
    pub reserved: i64,
    /// Damaged units, a subset of on_hand.
    pub damaged: i64,
    /// Backordered units.
    pub backordered: i64,
}

impl Buckets {
    /// The eight buckets by name, in the order every listing of them uses (events, tables, the
    /// truth CSV, the API): the six stored, then available and the inventory position.
    pub const NAMES: [&'static str; 8] = [
        "on_hand",
        "on_order",
        "in_transit",
        "reserved",
        "damaged",
        "backordered",
        "available",
        "inventory_position",
    ];

    /// on_hand − reserved − damaged, unfloored: negative when more is promised than sellable.
    pub fn available_raw(&self) -> i64 {
        self.on_hand - self.reserved - self.damaged
    }

    /// max(0, available_raw): units that can be sold now.
    pub fn available(&self) -> i64 {
        self.available_raw().max(0)
    }

    /// on_hand − damaged + on_order + in_transit − reserved − backordered: the stock that covers
    /// demand, what replenishment compares with its levels. Damaged stock cannot be sold, so it
    /// does not count.
    pub fn inventory_position(&self) -> i64 {
        self.on_hand - self.damaged + self.on_order + self.in_transit
            - self.reserved
            - self.backordered
    }

    /// The eight values in [`Buckets::NAMES`] order.
    pub fn values(&self) -> [i64; 8] {
        [
            self.on_hand,
            self.on_order,
            self.in_transit,
            self.reserved,
            self.damaged,
            self.backordered,
            self.available(),
            self.inventory_position(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(on_hand: i64, reserved: i64, damaged: i64) -> Buckets {
        Buckets {
            on_hand,
            on_order: 30,
            in_transit: 2,
            reserved,
            damaged,
            backordered: 4,
        }
    }

    #[test]
    fn available_is_floored_and_available_raw_is_not() {
        let b = buckets(14, 1, 3);
        assert_eq!((b.available_raw(), b.available()), (10, 10));
        let short = buckets(3, 2, 2);
        assert_eq!((short.available_raw(), short.available()), (-1, 0));
    }

    #[test]
    fn the_inventory_position_is_available_raw_plus_what_comes_less_what_is_owed() {
        for b in [buckets(14, 1, 3), buckets(-5, 4, 0), buckets(3, 2, 2)] {
            assert_eq!(
                b.inventory_position(),
                b.available_raw() + b.on_order + b.in_transit - b.backordered
            );
        }
        assert_eq!(buckets(14, 1, 3).inventory_position(), 38);
    }

    #[test]
    fn values_follow_the_names() {
        let b = buckets(14, 1, 3);
        let v = b.values();
        let named: Vec<(&str, i64)> = Buckets::NAMES.into_iter().zip(v).collect();
        assert_eq!(
            named,
            vec![
                ("on_hand", 14),
                ("on_order", 30),
                ("in_transit", 2),
                ("reserved", 1),
                ("damaged", 3),
                ("backordered", 4),
                ("available", 10),
                ("inventory_position", 38),
            ]
        );
    }

    #[test]
    fn a_position_update_lists_its_buckets_in_the_same_order() {
        let b = buckets(14, 1, 3);
        let mut u = crate::samples::inventory_updated();
        (u.on_hand, u.on_order, u.in_transit) = (b.on_hand, b.on_order, b.in_transit);
        (u.reserved, u.damaged, u.backordered) = (b.reserved, b.damaged, b.backordered);
        (u.available, u.inventory_position) = (b.available(), b.inventory_position());
        assert_eq!(u.buckets(), b.values());
    }
}
