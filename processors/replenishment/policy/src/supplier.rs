//! Which supplier an order goes to: the rule's own supplier when it can
//! deliver, otherwise the cheapest that can, in a deterministic order.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::inputs::{LeadTime, Sourcing};

/// One supplier's terms for the item, as a candidate for an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupplierOffer {
    /// The supplier's id.
    pub supplier_id: String,
    /// The agreed cost of one unit.
    pub unit_cost: f64,
    /// The supplier's lead time.
    pub lead_time: LeadTime,
    /// MOQ, pack size and order cap.
    pub sourcing: Sourcing,
    /// False when the supplier no longer delivers the item.
    pub active: bool,
}

impl SupplierOffer {
    /// Whether the offer can take an order: active, a real cost and lead time, and sourcing
    /// that [`decide`](crate::decide) accepts.
    pub fn is_valid(&self) -> bool {
        // Checking with the same rules as the decision means a chosen
        // supplier can never make the decision itself fail.
        self.active
            && !self.supplier_id.is_empty()
            && self.unit_cost.is_finite()
            && self.unit_cost >= 0.0
            && self.lead_time.mean_days.is_finite()
            && self.lead_time.mean_days >= 0.0
            && self.lead_time.std_days.is_finite()
            && self.lead_time.std_days >= 0.0
            && self.sourcing.validate().is_ok()
    }
}

/// Why a supplier was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SupplierChoice {
    /// The rule's preferred supplier, which has a valid offer.
    RuleSupplier,
    /// The cheapest of several valid offers (ties: shorter lead time, then id).
    Cheapest,
    /// The only valid offer, the rule's supplier having none.
    Only,
}

impl SupplierChoice {
    /// The code the trigger publishes: RULE_SUPPLIER, CHEAPEST or ONLY.
    pub fn code(self) -> &'static str {
        match self {
            SupplierChoice::RuleSupplier => "RULE_SUPPLIER",
            SupplierChoice::Cheapest => "CHEAPEST",
            SupplierChoice::Only => "ONLY",
        }
    }
}

impl AsRef<SupplierOffer> for SupplierOffer {
    fn as_ref(&self) -> &SupplierOffer {
        self
    }
}

/// Picks the offer to order from: its index in `candidates` and why; `None` when no offer is valid.
/// Candidates may be wrapped (a caller's table row holding its offer), so that choosing needs no
/// copy of them.
pub fn choose_supplier<O: AsRef<SupplierOffer>>(
    candidates: &[O],
    preferred: Option<&str>,
) -> Option<(usize, SupplierChoice)> {
    let valid = || {
        candidates
            .iter()
            .map(AsRef::as_ref)
            .enumerate()
            .filter(|(_, o)| o.is_valid())
    };
    if let Some(id) = preferred
        && let Some((i, _)) = valid()
            .filter(|(_, o)| o.supplier_id == id)
            .min_by(|a, b| rank(a.1, b.1))
    {
        return Some((i, SupplierChoice::RuleSupplier));
    }
    let count = valid().count();
    // `min_by` keeps the first of equal offers, so even identical offers
    // resolve to the same index every time.
    let (i, _) = valid().min_by(|a, b| rank(a.1, b.1))?;
    let why = if count == 1 {
        SupplierChoice::Only
    } else {
        SupplierChoice::Cheapest
    };
    Some((i, why))
}

/// Cheaper first, then shorter mean lead time, then supplier id.
fn rank(a: &SupplierOffer, b: &SupplierOffer) -> Ordering {
    a.unit_cost
        .total_cmp(&b.unit_cost)
        .then(a.lead_time.mean_days.total_cmp(&b.lead_time.mean_days))
        .then_with(|| a.supplier_id.cmp(&b.supplier_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(id: &str, cost: f64, lead: f64) -> SupplierOffer {
        SupplierOffer {
            supplier_id: id.to_string(),
            unit_cost: cost,
            lead_time: LeadTime {
                mean_days: lead,
                std_days: 0.5,
            },
            sourcing: Sourcing {
                moq: 12,
                pack_size: 6,
                max_order_qty: None,
            },
            active: true,
        }
    }

    #[test]
    fn rule_supplier_wins_when_valid_even_if_dearer() {
        let offers = [offer("A", 1.0, 3.0), offer("B", 2.0, 3.0)];
        assert_eq!(
            choose_supplier(&offers, Some("B")),
            Some((1, SupplierChoice::RuleSupplier))
        );
    }

    #[test]
    fn invalid_rule_supplier_falls_back_to_cheapest() {
        let mut offers = [
            offer("A", 2.0, 3.0),
            offer("B", 1.5, 3.0),
            offer("C", 1.0, 3.0),
        ];
        offers[0].active = false;
        offers[2].sourcing.pack_size = 0;
        assert_eq!(
            choose_supplier(&offers, Some("A")),
            Some((1, SupplierChoice::Only))
        );
        offers[2].sourcing.pack_size = 6;
        assert_eq!(
            choose_supplier(&offers, Some("A")),
            Some((2, SupplierChoice::Cheapest))
        );
        assert_eq!(
            choose_supplier(&offers, Some("nobody")),
            Some((2, SupplierChoice::Cheapest))
        );
        assert_eq!(
            choose_supplier(&offers, None),
            Some((2, SupplierChoice::Cheapest))
        );
    }

    #[test]
    fn ties_break_on_lead_time_then_id() {
        let offers = [
            offer("C", 1.0, 5.0),
            offer("B", 1.0, 4.0),
            offer("A", 1.0, 5.0),
        ];
        assert_eq!(
            choose_supplier(&offers, None),
            Some((1, SupplierChoice::Cheapest))
        );
        let offers = [offer("C", 1.0, 5.0), offer("A", 1.0, 5.0)];
        assert_eq!(
            choose_supplier(&offers, None),
            Some((1, SupplierChoice::Cheapest))
        );
    }

    #[test]
    fn no_valid_offer_is_none() {
        let mut offers = [offer("A", f64::NAN, 3.0), offer("B", 1.0, -1.0)];
        assert_eq!(choose_supplier(&offers, Some("A")), None);
        offers[1].lead_time.mean_days = 2.0;
        offers[1].sourcing.max_order_qty = Some(5);
        assert_eq!(choose_supplier::<SupplierOffer>(&[], None), None);
        assert_eq!(choose_supplier(&offers, None), None);
    }
}
