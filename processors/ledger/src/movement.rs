//! Movements: the ledger's view of its inputs, validated once at the edge.

use composerp_events::{EventId, Money, Timestamp, inventory::TransactionType};

/// Why an input cannot be applied; [`Reject::reason`] is the dead-letter reason code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    /// A quantity that must be a positive integer is not.
    #[error("{what} quantity {qty} must be positive")]
    NonPositiveQty {
        /// Movement type.
        what: &'static str,
        /// Quantity given.
        qty: i64,
    },
    /// A DELTA adjustment of zero.
    #[error("DELTA adjustment of 0 changes nothing")]
    ZeroDelta,
    /// A count below zero.
    #[error("counted quantity {0} is negative")]
    NegativeCount(i64),
    /// A transfer to the location it leaves.
    #[error("transfer {0} ships to its own location")]
    TransferToSelf(String),
    /// A required document id is empty.
    #[error("{what} needs a non-empty {field}")]
    MissingDocument {
        /// Movement type.
        what: &'static str,
        /// Field name.
        field: &'static str,
    },
    /// A count older than the movements the position still remembers.
    #[error(
        "count as of {count_at} is older than the {window_start} the position can reconstruct from"
    )]
    CountTooOld {
        /// Time the count is as of.
        count_at: Timestamp,
        /// Oldest movement time still kept.
        window_start: Timestamp,
    },
}

impl Reject {
    /// Bounded code for metrics and the dead-letter header `composerp.reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            Reject::NonPositiveQty { .. } => "non_positive_quantity",
            Reject::ZeroDelta => "zero_delta",
            Reject::NegativeCount(_) => "negative_count",
            Reject::TransferToSelf(_) => "transfer_to_self",
            Reject::MissingDocument { .. } => "missing_document",
            Reject::CountTooOld { .. } => "count_too_old",
        }
    }
}

/// What a movement does, with the document it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub enum MovementKind {
    /// Units sold, optionally against a reservation.
    Sale {
        /// Units.
        qty: i64,
        /// Reservation consumed.
        reservation: Option<String>,
    },
    /// Units returned by a customer.
    Return {
        /// Units.
        qty: i64,
        /// Into the damaged bucket.
        damaged: bool,
        /// Cost of the returned units; None uses the current rate.
        unit_cost: Option<f64>,
    },
    /// A purchase order line approved: it counts as on order.
    PoApproved {
        /// PO line key (`po_number#line`).
        line: String,
        /// Ordered units.
        qty: i64,
    },
    /// A purchase order line cancelled: it leaves on order.
    PoCancelled {
        /// PO line key.
        line: String,
    },
    /// Goods received against a PO line.
    Receipt {
        /// PO line key.
        line: String,
        /// Units.
        qty: i64,
        /// Landed unit cost.
        unit_cost: Option<f64>,
    },
    /// Units shipped from here to another location.
    TransferOut {
        /// Destination location.
        to: String,
        /// Transfer id.
        transfer: String,
        /// Units.
        qty: i64,
    },
    /// Units of an inbound transfer shipped toward here (the destination side of TransferOut).
    TransferShippedIn {
        /// Transfer id.
        transfer: String,
        /// Units.
        qty: i64,
    },
    /// Units of a transfer received here.
    TransferIn {
        /// Transfer id.
        transfer: String,
        /// Units.
        qty: i64,
        /// Cost carried from the source.
        unit_cost: Option<f64>,
    },
    /// Signed on-hand change.
    Delta {
        /// Units, non-zero.
        qty: i64,
        /// Cost of found units.
        unit_cost: Option<f64>,
    },
    /// Cycle count: on_hand as of the event time.
    Set {
        /// Counted units.
        counted: i64,
        /// Cost of found units.
        unit_cost: Option<f64>,
    },
    /// Units found damaged.
    Damage {
        /// Units.
        qty: i64,
    },
    /// Units written off.
    WriteOff {
        /// Units.
        qty: i64,
        /// From the damaged bucket (else sellable stock).
        damaged: bool,
    },
    /// Units reserved.
    Reserve {
        /// Reservation id.
        id: String,
        /// Units.
        qty: i64,
    },
    /// Reservation released.
    Release {
        /// Reservation id.
        id: String,
        /// Units.
        qty: i64,
    },
    /// Customer demand waiting for stock.
    Backorder {
        /// Customer order.
        order: String,
        /// Units.
        qty: i64,
    },
    /// Backorder filled.
    BackorderFill {
        /// Customer order.
        order: String,
        /// Units.
        qty: i64,
    },
}

/// One movement at one item-location.
#[derive(Debug, Clone, PartialEq)]
pub struct Movement {
    /// Input event.
    pub event_id: EventId,
    /// Line of the input event (0 for single-line events).
    pub line: i32,
    /// Business time.
    pub at: Timestamp,
    /// What it does.
    pub kind: MovementKind,
}

fn positive(what: &'static str, qty: i64) -> Result<(), Reject> {
    if qty > 0 {
        Ok(())
    } else {
        Err(Reject::NonPositiveQty { what, qty })
    }
}

fn document(what: &'static str, field: &'static str, id: &str) -> Result<(), Reject> {
    if id.trim().is_empty() {
        Err(Reject::MissingDocument { what, field })
    } else {
        Ok(())
    }
}

/// A money value as a rate for valuation arithmetic.
pub fn rate(m: Money) -> f64 {
    m.to_f64()
}

impl MovementKind {
    /// Checks the rules of the domain reference (positive quantities, document ids, …).
    pub fn validate(&self, location: &str) -> Result<(), Reject> {
        use MovementKind::*;
        match self {
            Sale { qty, .. } => positive("SALE", *qty),
            Return { qty, .. } => positive("RETURN", *qty),
            PoApproved { line, qty } => {
                positive("PO_APPROVED", *qty).and(document("PO_APPROVED", "po_line", line))
            }
            PoCancelled { line } => document("PO_CANCELLED", "po_line", line),
            Receipt { line, qty, .. } => {
                positive("RECEIPT", *qty).and(document("RECEIPT", "po_line", line))
            }
            TransferOut { to, transfer, qty } => {
                positive("TRANSFER_OUT", *qty)?;
                document("TRANSFER_OUT", "transfer_id", transfer)?;
                document("TRANSFER_OUT", "to_location", to)?;
                if to == location {
                    Err(Reject::TransferToSelf(transfer.clone()))
                } else {
                    Ok(())
                }
            }
            TransferShippedIn { transfer, qty } => positive("TRANSFER_OUT", *qty).and(document(
                "TRANSFER_OUT",
                "transfer_id",
                transfer,
            )),
            TransferIn { transfer, qty, .. } => {
                positive("TRANSFER_IN", *qty).and(document("TRANSFER_IN", "transfer_id", transfer))
            }
            Delta { qty, .. } => {
                if *qty == 0 {
                    Err(Reject::ZeroDelta)
                } else {
                    Ok(())
                }
            }
            Set { counted, .. } => {
                if *counted < 0 {
                    Err(Reject::NegativeCount(*counted))
                } else {
                    Ok(())
                }
            }
            Damage { qty } => positive("DAMAGE", *qty),
            WriteOff { qty, .. } => positive("WRITE_OFF", *qty),
            Reserve { id, qty } => {
                positive("RESERVE", *qty).and(document("RESERVE", "reservation_id", id))
            }
            Release { id, qty } => {
                positive("RELEASE", *qty).and(document("RELEASE", "reservation_id", id))
            }
            Backorder { order, qty } => {
                positive("BACKORDER", *qty).and(document("BACKORDER", "order_ref", order))
            }
            BackorderFill { order, qty } => {
                positive("BACKORDER_FILL", *qty).and(document("BACKORDER_FILL", "order_ref", order))
            }
        }
    }

    /// The stock-ledger type of a movement that changes on_hand; None for the others.
    pub fn ledger_type(&self) -> Option<TransactionType> {
        use MovementKind::*;
        Some(match self {
            Sale { .. } => TransactionType::SALE,
            Return { .. } => TransactionType::RETURN,
            Receipt { .. } => TransactionType::RECEIPT,
            TransferOut { .. } => TransactionType::TRANSFER_OUT,
            TransferIn { .. } => TransactionType::TRANSFER_IN,
            Delta { .. } | Set { .. } => TransactionType::ADJUSTMENT,
            WriteOff { .. } => TransactionType::WRITE_OFF,
            _ => return None,
        })
    }
}
