//! Movements: the ledger's view of its inputs, validated once at the edge.
//!
//! [`Movements::of`] reduces a [`LedgerInput`] to one [`Movement`] per document line and checks
//! them all before anything is applied, so one bad line rejects the whole event.

use composerp_events::{
    Money,
    inventory::{
        AdjustmentType, InventoryAdjusted, TransferLine, TransferReceived, TransferShipped,
        WriteOffSource,
    },
    pos::{ReturnCondition, SaleCompleted, SaleLine, SaleLineType},
    procurement::PurchaseOrderReceived,
    replenishment::{
        PurchaseOrderApproved, PurchaseOrderCancelled, PurchaseOrderCreated, PurchaseOrderLine,
        PurchaseOrderStatus,
    },
};
use composerp_runtime::inputs;

use crate::reject::Reject;

inputs! {
    /// Everything that moves stock, all keyed `tenant|location` and co-partitioned.
    pub enum LedgerInput {
        "pos.sales" => Sale(SaleCompleted),
        "procurement.receipts" => Receipt(PurchaseOrderReceived),
        "inventory.adjustments" => Adjustment(InventoryAdjusted),
        "inventory.transfers-shipped" => Shipped(TransferShipped),
        "inventory.transfers-received" => Received(TransferReceived),
        "replenishment.po-created" => PoCreated(PurchaseOrderCreated),
        "replenishment.po-approved" => PoApproved(PurchaseOrderApproved),
        "replenishment.po-cancelled" => PoCancelled(PurchaseOrderCancelled),
        "ledger.transfer-inbound" => Inbound(TransferShipped),
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

/// One movement at one item-location, borrowing its ids from the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Movement<'a> {
    /// Line of the input event (0 for single-line events).
    pub line: i32,
    /// Location it moves stock at.
    pub location: &'a str,
    /// Item it moves.
    pub item: &'a str,
    /// What it does.
    pub kind: MovementKind,
    /// Document the stock ledger entry refers to.
    pub document: Option<&'a str>,
}

/// The validated movements of one input, with what its lines share.
#[derive(Debug, Clone, PartialEq)]
pub struct Movements<'a> {
    /// Tenant of the input.
    pub tenant: &'a str,
    /// Currency of a priced input, for rounding stock values.
    pub currency: Option<&'a str>,
    /// One movement per document line, in input order.
    pub lines: Vec<Movement<'a>>,
}

impl<'a> Movements<'a> {
    /// The movements `input` stands for, validated together (one bad line rejects the event).
    pub fn of(input: &'a LedgerInput) -> Result<Self, Reject> {
        let mut lines = Vec::new();
        let (tenant, currency) = match input {
            LedgerInput::Sale(s) => {
                for l in &s.lines {
                    lines.push(Movement {
                        line: l.line_number,
                        location: &s.store_id,
                        item: &l.item_id,
                        kind: sale_kind(l)?,
                        document: Some(&s.receipt_id),
                    });
                }
                (&s.tenant_id, Some(s.currency.as_str()))
            }
            LedgerInput::Receipt(r) => {
                for l in &r.lines {
                    let kind = MovementKind::Receipt {
                        line: format!("{}#{}", r.po_number, l.po_line_number),
                        qty: l.quantity,
                        unit_cost: Some(rate(l.unit_cost)),
                    };
                    lines.push(Movement {
                        line: l.line_number,
                        location: &r.location_id,
                        item: &l.item_id,
                        kind,
                        document: Some(&r.po_number),
                    });
                }
                (&r.tenant_id, Some(r.currency.as_str()))
            }
            LedgerInput::Adjustment(a) => {
                lines.push(Movement {
                    line: 0,
                    location: &a.location_id,
                    item: &a.item_id,
                    kind: adjustment_kind(a),
                    document: Some(&a.reason_code),
                });
                (&a.tenant_id, None)
            }
            LedgerInput::Shipped(t) => {
                let kind = |qty| MovementKind::TransferOut {
                    to: t.to_location_id.clone(),
                    transfer: t.transfer_id.clone(),
                    qty,
                };
                transfer_lines(
                    &t.transfer_id,
                    &t.from_location_id,
                    &t.lines,
                    kind,
                    &mut lines,
                );
                (&t.tenant_id, None)
            }
            LedgerInput::Inbound(t) => {
                let kind = |qty| MovementKind::TransferShippedIn {
                    transfer: t.transfer_id.clone(),
                    qty,
                };
                transfer_lines(
                    &t.transfer_id,
                    &t.to_location_id,
                    &t.lines,
                    kind,
                    &mut lines,
                );
                (&t.tenant_id, None)
            }
            LedgerInput::Received(t) => {
                let kind = |qty| MovementKind::TransferIn {
                    transfer: t.transfer_id.clone(),
                    qty,
                    unit_cost: None,
                };
                transfer_lines(
                    &t.transfer_id,
                    &t.to_location_id,
                    &t.lines,
                    kind,
                    &mut lines,
                );
                (&t.tenant_id, None)
            }
            LedgerInput::PoCreated(p) => {
                if p.status == PurchaseOrderStatus::APPROVED {
                    approved_lines(&p.po_number, &p.location_id, &p.lines, &mut lines);
                }
                (&p.tenant_id, Some(p.currency.as_str()))
            }
            LedgerInput::PoApproved(p) => {
                approved_lines(&p.po_number, &p.location_id, &p.lines, &mut lines);
                (&p.tenant_id, Some(p.currency.as_str()))
            }
            LedgerInput::PoCancelled(p) => {
                cancelled_lines(p, &mut lines)?;
                (&p.tenant_id, None)
            }
        };
        for l in &lines {
            l.kind.validate(l.location).map_err(|e| e.on_line(l.line))?;
            if l.item.trim().is_empty() {
                return Err(Reject::MissingItem.on_line(l.line));
            }
        }
        Ok(Movements {
            tenant,
            currency,
            lines,
        })
    }
}

/// A sale line is a sale, or a return when typed RETURN or negative.
fn sale_kind(l: &SaleLine) -> Result<MovementKind, Reject> {
    if l.quantity == 0 {
        return Err(Reject::ZeroSaleLine(l.line_number));
    }
    let returned = l.line_type == SaleLineType::RETURN || l.quantity < 0;
    if !returned {
        return Ok(MovementKind::Sale {
            qty: l.quantity,
            reservation: l.reservation_id.clone(),
        });
    }
    if l.line_type == SaleLineType::RETURN && l.quantity < 0 {
        return Err(Reject::NegativeReturnLine(l.line_number));
    }
    Ok(MovementKind::Return {
        qty: l.quantity.abs(),
        damaged: l.return_condition == Some(ReturnCondition::DAMAGED),
        unit_cost: None,
    })
}

/// What an adjustment does; a missing document id is left empty for validation to refuse.
fn adjustment_kind(a: &InventoryAdjusted) -> MovementKind {
    let q = a.quantity;
    match a.adjustment_type {
        AdjustmentType::COUNT_SET => MovementKind::Set {
            counted: q,
            unit_cost: a.unit_cost.map(rate),
        },
        AdjustmentType::DELTA => MovementKind::Delta {
            qty: q,
            unit_cost: a.unit_cost.map(rate),
        },
        AdjustmentType::DAMAGE => MovementKind::Damage { qty: q },
        AdjustmentType::WRITE_OFF => MovementKind::WriteOff {
            qty: q,
            damaged: a.write_off_source == Some(WriteOffSource::DAMAGED),
        },
        AdjustmentType::RESERVE => MovementKind::Reserve {
            id: a.reservation_id.clone().unwrap_or_default(),
            qty: q,
        },
        AdjustmentType::RELEASE => MovementKind::Release {
            id: a.reservation_id.clone().unwrap_or_default(),
            qty: q,
        },
        AdjustmentType::BACKORDER => MovementKind::Backorder {
            order: a.order_ref.clone().unwrap_or_default(),
            qty: q,
        },
        AdjustmentType::BACKORDER_FILL => MovementKind::BackorderFill {
            order: a.order_ref.clone().unwrap_or_default(),
            qty: q,
        },
    }
}

/// An approved order's lines: each opens on_order at the receiving location.
/// A transfer's lines at `location`, each moving its quantity as `kind` says.
fn transfer_lines<'a>(
    transfer: &'a str,
    location: &'a str,
    lines: &'a [TransferLine],
    kind: impl Fn(i64) -> MovementKind,
    out: &mut Vec<Movement<'a>>,
) {
    for l in lines {
        out.push(Movement {
            line: l.line_number,
            location,
            item: &l.item_id,
            kind: kind(l.quantity),
            document: Some(transfer),
        });
    }
}

fn approved_lines<'a>(
    po_number: &'a str,
    location: &'a str,
    lines: &'a [PurchaseOrderLine],
    out: &mut Vec<Movement<'a>>,
) {
    for l in lines {
        out.push(Movement {
            line: l.line_number,
            location,
            item: &l.item_id,
            kind: MovementKind::PoApproved {
                line: format!("{po_number}#{}", l.line_number),
                qty: l.quantity,
            },
            document: Some(po_number),
        });
    }
}

/// A cancellation's lines: each takes its PO line off on_order. Without line numbers the items
/// are taken as lines 1, 2, …
fn cancelled_lines<'a>(
    p: &'a PurchaseOrderCancelled,
    out: &mut Vec<Movement<'a>>,
) -> Result<(), Reject> {
    if !p.line_numbers.is_empty() && p.line_numbers.len() != p.item_ids.len() {
        return Err(Reject::MalformedCancellation);
    }
    for (i, item) in p.item_ids.iter().enumerate() {
        let n = p.line_numbers.get(i).copied().unwrap_or(i as i32 + 1);
        out.push(Movement {
            line: n,
            location: &p.location_id,
            item,
            kind: MovementKind::PoCancelled {
                line: format!("{}#{}", p.po_number, n),
            },
            document: Some(&p.po_number),
        });
    }
    Ok(())
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
    /// Checks the rules of docs/domain.md, Movements (positive quantities, document ids, …).
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
}

#[cfg(test)]
mod tests {
    use composerp_events::samples;

    use super::*;

    #[test]
    fn a_receipt_becomes_one_movement_per_line_with_its_shared_tenant_and_currency() {
        let input = LedgerInput::Sale(samples::sale_completed(2));
        let m = Movements::of(&input).expect("valid");
        assert_eq!((m.tenant, m.currency), ("t1", Some("EUR")));
        assert_eq!(m.lines.len(), 2);
        assert_eq!(
            m.lines[0].kind,
            MovementKind::Sale {
                qty: 1,
                reservation: Some("res-1".into())
            }
        );
        assert_eq!(
            m.lines[1].kind,
            MovementKind::Return {
                qty: 2,
                damaged: true,
                unit_cost: None
            }
        );
        assert_eq!(m.lines[1].document, Some("R-000123"));
    }

    #[test]
    fn a_negative_sale_line_is_a_return_and_a_negative_return_line_is_rejected() {
        let mut s = samples::sale_completed(1);
        s.lines[0].quantity = -3;
        let input = LedgerInput::Sale(s.clone());
        let m = Movements::of(&input).expect("a return");
        assert!(matches!(
            m.lines[0].kind,
            MovementKind::Return { qty: 3, .. }
        ));
        s.lines[0].line_type = SaleLineType::RETURN;
        let input = LedgerInput::Sale(s.clone());
        assert_eq!(Movements::of(&input), Err(Reject::NegativeReturnLine(1)));
        s.lines[0].quantity = 0;
        let input = LedgerInput::Sale(s);
        assert_eq!(Movements::of(&input), Err(Reject::ZeroSaleLine(1)));
    }

    #[test]
    fn one_bad_line_rejects_the_event_and_names_the_line() {
        let mut r = samples::purchase_order_received();
        r.lines[1].quantity = -4;
        let input = LedgerInput::Receipt(r.clone());
        let err = Movements::of(&input).expect_err("rejected");
        assert_eq!(err.code(), "non_positive_quantity");
        assert_eq!(
            err.to_string(),
            format!(
                "line {}: RECEIPT quantity -4 must be positive",
                r.lines[1].line_number
            )
        );
        r.lines[1].quantity = 4;
        r.lines[0].item_id = " ".into();
        let input = LedgerInput::Receipt(r.clone());
        assert_eq!(
            Movements::of(&input),
            Err(Reject::MissingItem.on_line(r.lines[0].line_number))
        );
    }

    #[test]
    fn a_cancellation_without_line_numbers_takes_its_items_as_lines_in_order() {
        let mut c = samples::purchase_order_cancelled();
        c.line_numbers = Vec::new();
        c.item_ids = vec!["a".into(), "b".into()];
        let input = LedgerInput::PoCancelled(c.clone());
        let m = Movements::of(&input).expect("valid");
        let lines: Vec<_> = m.lines.iter().map(|l| (l.line, l.item, &l.kind)).collect();
        assert_eq!(
            lines,
            vec![
                (
                    1,
                    "a",
                    &MovementKind::PoCancelled {
                        line: "PO-9#1".into()
                    }
                ),
                (
                    2,
                    "b",
                    &MovementKind::PoCancelled {
                        line: "PO-9#2".into()
                    }
                ),
            ]
        );
        c.line_numbers = vec![1];
        let input = LedgerInput::PoCancelled(c);
        assert_eq!(Movements::of(&input), Err(Reject::MalformedCancellation));
    }
}
