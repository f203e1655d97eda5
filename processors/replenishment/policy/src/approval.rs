//! Auto-approval: whether a proposed purchase order goes straight out
//! (APPROVED) or waits for a planner (DRAFT).

use serde::{Deserialize, Serialize};

/// The limits under which an order is approved without a planner.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AutoApprove {
    /// Largest order value (quantity × unit cost) approved automatically.
    pub max_value: f64,
    /// Largest order quantity approved automatically.
    pub max_qty: i64,
}

/// The status a new purchase order is created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PoStatus {
    /// Within both limits: sent without review.
    Approved,
    /// Over a limit (or its value is not a number): awaits a planner.
    Draft,
}

/// The order's value and the status it is created with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    /// order_qty × unit_cost.
    pub order_value: f64,
    /// APPROVED or DRAFT.
    pub status: PoStatus,
}

/// APPROVED when qty × unit_cost ≤ max_value and qty ≤ max_qty (both inclusive), else DRAFT.
pub fn approval(order_qty: i64, unit_cost: f64, limits: &AutoApprove) -> Approval {
    let order_value = order_qty as f64 * unit_cost;
    // Written so that a NaN value or limit fails the test and lands in DRAFT:
    // a planner looks at anything the numbers cannot vouch for.
    let within = order_value <= limits.max_value && order_qty <= limits.max_qty;
    Approval {
        order_value,
        status: if within {
            PoStatus::Approved
        } else {
            PoStatus::Draft
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: AutoApprove = AutoApprove {
        max_value: 5000.0,
        max_qty: 500,
    };

    #[test]
    fn value_equal_to_the_limit_approves() {
        let a = approval(400, 12.5, &LIMITS);
        assert_eq!(a.order_value, 5000.0);
        assert_eq!(a.status, PoStatus::Approved);
        assert_eq!(approval(401, 12.5, &LIMITS).status, PoStatus::Draft);
    }

    #[test]
    fn quantity_limit_is_inclusive_too() {
        assert_eq!(approval(500, 1.0, &LIMITS).status, PoStatus::Approved);
        assert_eq!(approval(501, 1.0, &LIMITS).status, PoStatus::Draft);
    }

    #[test]
    fn over_value_or_nan_cost_is_draft() {
        let a = approval(600, 12.0, &LIMITS);
        assert_eq!((a.order_value, a.status), (7200.0, PoStatus::Draft));
        assert_eq!(approval(1, f64::NAN, &LIMITS).status, PoStatus::Draft);
        assert_eq!(
            serde_json::to_string(&PoStatus::Approved).expect("serializes"),
            r#""APPROVED""#
        );
    }
}
