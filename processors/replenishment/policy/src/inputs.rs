//! What a replenishment decision is made from: the rule's policy, the
//! supplier's sourcing constraints, the inventory buckets, and the demand and
//! lead-time statistics — plus the typed error for inputs that make no sense.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::days::OrderDays;

/// A replenishment rule's policy and its policy-specific parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Policy {
    /// Continuous review (s,Q): when IP falls below s, order whole lots of `lot_size`.
    #[serde(rename = "sQ", alias = "S_Q")]
    SQ {
        /// Q, the lot ordered each time (units, ≥ 1).
        lot_size: i64,
    },
    /// Continuous review (s,S): when IP falls below s, order up to S = s + `lot_size`.
    #[serde(rename = "sS", alias = "S_S")]
    SS {
        /// S − s, the gap between the reorder point and the order-up-to level (units, ≥ 1).
        lot_size: i64,
    },
    /// Periodic review (R,S): on an order day, order up to S covering R + L days.
    ///
    /// An empty `order_days` means every day, as the rule's schema defines it.
    #[serde(rename = "RS", alias = "R_S")]
    RS {
        /// The weekdays on which the rule reviews and orders.
        order_days: OrderDays,
    },
    /// Static min/max: when IP falls below `min`, order up to `max`; no statistics.
    #[serde(rename = "minmax", alias = "MIN_MAX")]
    MinMax {
        /// The trigger level (units).
        min: i64,
        /// The order-up-to level (units, ≥ min).
        max: i64,
    },
}

impl Policy {
    /// The short name planners know the policy by: "(s,Q)", "(s,S)", "(R,S)" or "min/max".
    pub fn label(&self) -> &'static str {
        match self {
            Policy::SQ { .. } => "(s,Q)",
            Policy::SS { .. } => "(s,S)",
            Policy::RS { .. } => "(R,S)",
            Policy::MinMax { .. } => "min/max",
        }
    }

    /// The symbol the event schemas use: "S_Q", "S_S", "R_S" or "MIN_MAX".
    pub fn code(&self) -> &'static str {
        match self {
            Policy::SQ { .. } => "S_Q",
            Policy::SS { .. } => "S_S",
            Policy::RS { .. } => "R_S",
            Policy::MinMax { .. } => "MIN_MAX",
        }
    }

    /// Whether the policy sizes its levels from demand statistics (all but min/max).
    pub fn is_statistical(&self) -> bool {
        !matches!(self, Policy::MinMax { .. })
    }
}

/// The supplier's ordering constraints that turn a need into an order quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sourcing {
    /// Minimum order quantity (units, ≥ 0; 0 or 1 means no minimum).
    pub moq: i64,
    /// Units per pack; orders are whole packs (≥ 1).
    pub pack_size: i64,
    /// Largest quantity one order may carry, if the supplier has one (≥ `pack_size`).
    pub max_order_qty: Option<i64>,
}

impl Sourcing {
    /// Checks pack ≥ 1, MOQ ≥ 0 and, if there is a cap, cap ≥ one pack.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.pack_size < 1 {
            return Err(PolicyError::InvalidPackSize(self.pack_size));
        }
        if self.moq < 0 {
            return Err(PolicyError::InvalidMoq(self.moq));
        }
        // A cap below one pack would turn every order into zero units.
        if let Some(max) = self.max_order_qty
            && max < self.pack_size
        {
            return Err(PolicyError::MaxOrderBelowPack {
                max_order_qty: max,
                pack_size: self.pack_size,
            });
        }
        Ok(())
    }
}

impl Default for Sourcing {
    /// No minimum, single units, no cap.
    fn default() -> Self {
        Sourcing {
            moq: 1,
            pack_size: 1,
            max_order_qty: None,
        }
    }
}

/// The inventory buckets of one item at one location, in units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Buckets {
    /// Units physically in the location, damaged ones included.
    pub on_hand: i64,
    /// Units on approved, sent or partially received purchase orders, not yet shipped.
    pub on_order: i64,
    /// Units shipped by the supplier and not yet received.
    pub in_transit: i64,
    /// Units on hand promised to customer orders.
    pub reserved: i64,
    /// Units owed to customers that could not be served.
    pub backordered: i64,
    /// Units on hand that cannot be sold.
    pub damaged: i64,
}

impl Buckets {
    /// IP = on_hand − damaged + on_order + in_transit − reserved − backordered.
    ///
    /// Saturating so that absurd bucket values cannot wrap round into a
    /// plausible-looking position.
    pub fn inventory_position(&self) -> i64 {
        self.on_hand
            .saturating_sub(self.damaged)
            .saturating_add(self.on_order)
            .saturating_add(self.in_transit)
            .saturating_sub(self.reserved)
            .saturating_sub(self.backordered)
    }
}

/// Demand per day: its mean d and standard deviation σd (units/day).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct DemandRate {
    /// d, the average daily demand.
    pub mean: f64,
    /// σd, the standard deviation of daily demand.
    pub std: f64,
}

/// Supplier lead time: its mean L and standard deviation σL, in days (L may be fractional).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct LeadTime {
    /// L, the mean lead time in days.
    pub mean_days: f64,
    /// σL, the standard deviation of the lead time in days.
    pub std_days: f64,
}

/// Why a decision could not be made: an input outside its valid range.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PolicyError {
    /// The service level is not in [0.5, 1).
    #[error("service level {0} is outside [0.5, 1)")]
    ServiceLevelOutOfRange(f64),
    /// Demand mean or σ is negative or not finite.
    #[error("daily demand mean {mean} and σ {std} must be finite and ≥ 0")]
    InvalidDemand {
        /// The mean given.
        mean: f64,
        /// The σ given.
        std: f64,
    },
    /// Lead-time mean or σ is negative or not finite.
    #[error("lead time {mean_days} days and σ {std_days} days must be finite and ≥ 0")]
    InvalidLeadTime {
        /// The mean given.
        mean_days: f64,
        /// The σ given.
        std_days: f64,
    },
    /// The (s,Q) lot or the (s,S) gap is below one unit.
    #[error("lot size {0} must be ≥ 1")]
    InvalidLotSize(i64),
    /// Min/max levels out of order or negative.
    #[error("min {min} and max {max} must satisfy 0 ≤ min ≤ max")]
    InvalidMinMax {
        /// The min given.
        min: i64,
        /// The max given.
        max: i64,
    },
    /// The pack size is below one unit.
    #[error("pack size {0} must be ≥ 1")]
    InvalidPackSize(i64),
    /// The MOQ is negative.
    #[error("minimum order quantity {0} must be ≥ 0")]
    InvalidMoq(i64),
    /// The order cap is below one pack, so no order could ever be placed.
    #[error("max order quantity {max_order_qty} is below one pack of {pack_size}")]
    MaxOrderBelowPack {
        /// The cap given.
        max_order_qty: i64,
        /// The pack size given.
        pack_size: i64,
    },
    /// The open draft's quantity is negative.
    #[error("open draft quantity {0} must be ≥ 0")]
    InvalidDraftQty(i64),
    /// A need too large (or not finite) to become a whole-unit order.
    #[error("need {0} cannot be expressed as a whole-unit order")]
    QuantityOverflow(f64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_position_nets_every_bucket() {
        let b = Buckets {
            on_hand: 150,
            on_order: 60,
            in_transit: 5,
            reserved: 10,
            backordered: 12,
            damaged: 30,
        };
        assert_eq!(b.inventory_position(), 150 - 30 + 60 + 5 - 10 - 12);
    }

    #[test]
    fn policy_json_uses_the_rule_names() {
        let p: Policy = serde_json::from_str(r#"{"kind":"RS","order_days":["MON","THU"]}"#)
            .expect("valid policy");
        assert!(matches!(p, Policy::RS { order_days } if order_days.len() == 2));
        let q = serde_json::to_string(&Policy::SQ { lot_size: 96 }).expect("serializes");
        assert_eq!(q, r#"{"kind":"sQ","lot_size":96}"#);
        let m: Policy =
            serde_json::from_str(r#"{"kind":"minmax","min":20,"max":50}"#).expect("valid");
        assert_eq!(m, Policy::MinMax { min: 20, max: 50 });
    }
}
