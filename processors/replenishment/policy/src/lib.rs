//! Replenishment policies as pure functions: when to order, how much, from
//! whom, and whether the order needs a planner — plus a lost-sales simulation
//! kernel and the statistics to judge it. No I/O, no clocks: the stream
//! processor and the simulation feed these functions and publish what they
//! return.
//!
//! # The rules
//!
//! **Position.** IP = on hand − damaged + on order + in transit − reserved −
//! backordered (damaged units are on the shelf but cannot be sold). An open
//! DRAFT order for the same item-location-supplier is not in `on_order` yet,
//! so it is added on top: effective IP = IP + draft quantity. Approved, sent
//! and partially received orders are already in `on_order`.
//!
//! **Safety stock.** z = Φ⁻¹(SL) for a cycle service level 0.5 ≤ SL < 1 (other
//! levels are refused, not clamped). With d, σd per day and L, σL in days (L
//! may be fractional), demand over a protection period of P days has
//! σ = √(P·σd² + d²·σL²) and SS = max(0, z·σ). P = L for (s,Q) and (s,S);
//! P = R + L for (R,S), because an (R,S) order must last until the order
//! after it arrives. Nothing is rounded until the order quantity.
//!
//! **Levels and need.**
//! - (s,Q): s = d·L + SS; order the fewest n ≥ 1 lots with effective IP + n·Q ≥ s.
//! - (s,S): s as above, S = s + lot size; need = S − effective IP.
//! - (R,S): R = days from today to the next order day strictly after today
//!   (7 for a single weekly day; an empty list means every day, R = 1);
//!   S = d·(R+L) + SS(R+L); need = S − effective IP. Only order days order
//!   (otherwise NOT_REVIEW_DAY), but the levels are reported every day.
//! - min/max: trigger = min, S = max; no statistics, so z and SS are absent.
//!
//! **Trigger.** Order only when effective IP < trigger (s, S for (R,S), or min);
//! equal does not order. When IP alone is below the trigger but the open draft
//! lifts the effective IP to it, the reason is SUPPRESSED_OPEN_ORDER, so the
//! same need is not ordered twice.
//!
//! **Rounding.** q = ⌈need⌉, then q = max(q, MOQ), then up to whole packs, then,
//! if the supplier caps orders, down to the whole packs under the cap (and
//! `capped` says the cap bound). Each step is kept in the [`Decision`].
//!
//! **Approval.** APPROVED when quantity × unit cost ≤ max value and quantity ≤
//! max quantity (both inclusive), else DRAFT.
//!
//! **Supplier.** The rule's supplier if it has a valid offer, else the
//! cheapest valid offer (ties: shorter lead time, then supplier id).
//!
//! **Simulation.** See [`sim`]: daily, lost sales, orders arrive L + 1 days
//! after the end-of-day review that released them, and [`measure`] turns a
//! day log into fill rate, in-stock days and cycle service level. [`stats`]
//! gives the confidence interval over replications.

mod approval;
mod days;
mod decide;
mod explain;
mod inputs;
pub mod sim;
pub mod stats;
mod supplier;

pub use approval::{Approval, AutoApprove, PoStatus, approval};
pub use days::{OrderDays, days_to_next_order_day, is_order_day, parse_weekday, weekday_code};
pub use decide::{
    Decision, Protection, Reason, Request, Rounded, decide, lots_needed, protection, round_order,
    z_for,
};
pub use explain::explain;
pub use inputs::{Buckets, DemandRate, LeadTime, Policy, PolicyError, Sourcing};
pub use sim::{
    DayRecord, OrderRecord, ServiceMeasures, SimConfig, SimError, SimPolicy, SimRun, measure,
    simulate,
};
pub use stats::{Interval, StatsError, student_t_quantile};
pub use supplier::{SupplierChoice, SupplierOffer, choose_supplier};
