//! [`Reject`]: every reason the ledger refuses an input, each with its dead-letter code.

use composerp_events::Timestamp;

/// Why an input cannot be applied; [`Reject::code`] is the dead-letter reason.
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
    /// A sale line of quantity 0 is neither a sale nor a return.
    #[error("line {0} has quantity 0")]
    ZeroSaleLine(i32),
    /// A RETURN line with a negative quantity: a negative SALE line is a return, a negative
    /// RETURN line is nothing the domain defines.
    #[error("RETURN line {0} has negative quantity")]
    NegativeReturnLine(i32),
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
    /// A line without an item id.
    #[error("empty item_id")]
    MissingItem,
    /// A cancellation whose line numbers do not pair up with its items.
    #[error("line_numbers and item_ids differ in length")]
    MalformedCancellation,
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
    /// A position's state key holds something else; the key is the detail.
    #[error("{0}")]
    KeyCollision(String),
    /// A reason found on one line of the input: one bad line rejects the whole event.
    #[error("line {line}: {reason}")]
    OnLine {
        /// Line number of the input.
        line: i32,
        /// What is wrong with it.
        reason: Box<Reject>,
    },
}

impl Reject {
    /// Bounded code for metrics and the dead-letter header `composerp.reason`.
    pub fn code(&self) -> &'static str {
        match self {
            Reject::NonPositiveQty { .. }
            | Reject::ZeroSaleLine(_)
            | Reject::NegativeReturnLine(_) => "non_positive_quantity",
            Reject::ZeroDelta => "zero_delta",
            Reject::NegativeCount(_) => "negative_count",
            Reject::TransferToSelf(_) => "transfer_to_self",
            Reject::MissingDocument { .. } | Reject::MissingItem => "missing_document",
            Reject::MalformedCancellation => "malformed_cancellation",
            Reject::CountTooOld { .. } => "count_too_old",
            Reject::KeyCollision(_) => "key_collision",
            Reject::OnLine { reason, .. } => reason.code(),
        }
    }

    /// The same reason, found on line `line` of the input.
    pub fn on_line(self, line: i32) -> Reject {
        Reject::OnLine {
            line,
            reason: Box::new(self),
        }
    }
}

/// The runtime sends the record to the dead letters with the code as reason and the message as
/// error.
impl From<Reject> for composerp_runtime::processor::Reject {
    fn from(r: Reject) -> Self {
        composerp_runtime::processor::Reject::new(r.code(), r.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_reason_keeps_its_code_and_names_the_line() {
        let r = Reject::NonPositiveQty {
            what: "RECEIPT",
            qty: -4,
        }
        .on_line(2);
        let dead: composerp_runtime::processor::Reject = r.into();
        assert_eq!(dead.reason, "non_positive_quantity");
        assert_eq!(dead.detail, "line 2: RECEIPT quantity -4 must be positive");
    }

    #[test]
    fn every_reason_has_its_dead_letter_code() {
        let t = Timestamp(0);
        let cases = [
            (Reject::ZeroSaleLine(1), "non_positive_quantity"),
            (Reject::NegativeReturnLine(1), "non_positive_quantity"),
            (Reject::ZeroDelta, "zero_delta"),
            (Reject::NegativeCount(-1), "negative_count"),
            (Reject::TransferToSelf("T1".into()), "transfer_to_self"),
            (
                Reject::MissingDocument {
                    what: "RESERVE",
                    field: "reservation_id",
                },
                "missing_document",
            ),
            (Reject::MissingItem, "missing_document"),
            (Reject::MalformedCancellation, "malformed_cancellation"),
            (
                Reject::CountTooOld {
                    count_at: t,
                    window_start: t,
                },
                "count_too_old",
            ),
            (Reject::KeyCollision("p|t|l|i".into()), "key_collision"),
        ];
        for (r, code) in cases {
            assert_eq!(r.code(), code, "{r:?}");
        }
    }
}
