//! `/v1/purchase-orders/{po_number}/approve`, `/cancel` and `/commands/{command_id}`: an
//! administrator's approve or cancel is a PurchaseOrderCommand to the order's one owner, the
//! replenishment processor, which applies an order's commands in order and answers each with a
//! status change or a rejection. The API refuses at once only what the tables already show
//! cannot apply (409/422); the processor's decision is final, so of an approve and a cancel
//! racing each other both are accepted and one is rejected later. The command resource shows
//! which.

use axum::{
    Extension, Json, Router,
    extract::State,
    http::{HeaderMap, HeaderName, StatusCode, header},
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use composerp_events::{
    EventId, Timestamp,
    replenishment::{PurchaseOrderAction, PurchaseOrderCommand, PurchaseOrderStatus},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    orders::{OrderLine, PurchaseOrderDetail, load},
    writes::{Body, id, publish_audited},
};
use crate::{
    AppState, audit,
    auth::{Principal, Role},
    mask,
    page::Segments,
    problem::{ApiResult, Problem},
    require,
};

/// Topic id of the commands.
const TOPIC: &str = "replenishment.po-commands";

/// Command routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/purchase-orders/{po_number}/approve", post(approve))
        .route("/v1/purchase-orders/{po_number}/cancel", post(cancel))
        .route(
            "/v1/purchase-orders/{po_number}/commands/{command_id}",
            get(command),
        )
}

/// What approve and cancel answer: the command, and where its outcome will show.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommandAccepted {
    /// Id of the published command (what every write answers).
    pub event_id: Uuid,
    /// Always `accepted`: the order's owner decides; `href` shows its answer.
    pub status: &'static str,
    /// The command's id, the same as `event_id`.
    pub command_id: Uuid,
    /// The command's outcome resource, also in the `Location` header.
    pub href: String,
}

/// A 202 naming the command's outcome resource in `Location` and the body.
type Accepted = (StatusCode, [(HeaderName, String); 1], Json<CommandAccepted>);

fn accepted(po_number: &str, command: EventId) -> Accepted {
    let href = format!("/v1/purchase-orders/{po_number}/commands/{}", command.0);
    let body = CommandAccepted {
        event_id: command.0,
        status: "accepted",
        command_id: command.0,
        href: href.clone(),
    };
    (StatusCode::ACCEPTED, [(header::LOCATION, href)], Json(body))
}

/// The audit log's resource of an order's writes.
fn resource(po_number: &str) -> String {
    format!("purchase-orders/{po_number}")
}

/// The command's id and whether the caller keyed it. With an `Idempotency-Key` it is derived
/// from the key, caller, order and action, so a retried request names the same command (which
/// the processor applies once); else it is fresh.
fn command_id(
    headers: &HeaderMap,
    p: &Principal,
    po_number: &str,
    action: &str,
) -> Result<(EventId, bool), Problem> {
    audit::event_id(headers, p, ("po-command", po_number, action))
}

/// Whether the audit log holds command `id` on `po_number` as accepted: then a request with
/// the same key is a retry, answered as the first one was without publishing again (the
/// order may have moved on since, so the checks would now refuse it).
async fn accepted_before(
    state: &AppState,
    p: &Principal,
    (po_number, action): (&str, &str),
    id: EventId,
) -> Result<bool, Problem> {
    let resource = resource(po_number);
    let w = audit::Write {
        p,
        action,
        resource: &resource,
        event_id: id,
    };
    Ok(audit::lookup(state, w).await? == Some(audit::Recorded::Accepted))
}

/// Publishes `action` on order `d` as command `id`, audits it and answers 202.
async fn publish(
    s: &AppState,
    p: &Principal,
    headers: &HeaderMap,
    (id, action): (EventId, PurchaseOrderAction),
    d: PurchaseOrderDetail,
    (reason, line_numbers): (Option<String>, Vec<i32>),
) -> ApiResult<Accepted> {
    let now = Timestamp::now();
    let po_number = d.order.po_number;
    let command = PurchaseOrderCommand {
        event_id: id,
        tenant_id: p.tenant.clone(),
        occurred_at: now,
        produced_at: now,
        source: "composerp-api".into(),
        // The topic is keyed by the order's location: its commands stay in order.
        location_id: d.order.location_id,
        po_number: po_number.clone(),
        action,
        requested_by: p.subject.clone(),
        reason,
        line_numbers,
        // The processor rejects the command if the order moved on since this read: of an
        // approve and a cancel that both saw a DRAFT, the later one is rejected.
        expected_status: status_symbol(&d.order.status),
    };
    let audited = (action.symbol().to_lowercase(), resource(&po_number));
    let audited = (audited.0.as_str(), audited.1.as_str());
    publish_audited(s, p, headers, audited, TOPIC, &command).await?;
    Ok(accepted(&po_number, id))
}

/// A line that can still be approved or cancelled (one known only from its cancellation is not).
fn is_open(l: &OrderLine) -> bool {
    l.cancelled_at.is_none() && l.quantity.is_some()
}

/// Asks the order's owner to approve a DRAFT purchase order (admin); its open lines then count
/// as on order. `Idempotency-Key` makes a retry name the same command.
#[utoipa::path(post, path = "/v1/purchase-orders/{po_number}/approve", tag = "replenishment",
    params(("po_number" = String, Path, description = "Order number", pattern = "^[A-Za-z0-9._-]{1,64}$"),
           ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key names the same command")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 202, description = "Command published; `Location` shows its outcome", body = CommandAccepted,
                headers(("Location" = String, description = "The command's outcome resource"))),
              (status = 409, description = "Not a DRAFT order, or no open line", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Malformed order number", body = Problem, content_type = "application/problem+json")))]
pub async fn approve(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Segments(po_number): Segments<String>,
) -> ApiResult<Accepted> {
    require(&p, Role::Admin)?;
    id("po_number", &po_number)?;
    let (command, keyed) = command_id(&headers, &p, &po_number, "approve")?;
    if keyed && accepted_before(&s, &p, (&po_number, "approve"), command).await? {
        return Ok(accepted(&po_number, command));
    }
    let d = load(&s, &p.tenant, &po_number).await?;
    if d.order.status != "DRAFT" {
        return Err(Problem::conflict(format!(
            "purchase order {po_number} is {}, only a DRAFT order can be approved",
            d.order.status
        )));
    }
    if !d.order_lines.iter().any(is_open) {
        return Err(Problem::conflict(format!(
            "purchase order {po_number} has no open line to approve"
        )));
    }
    let action = (command, PurchaseOrderAction::APPROVE);
    publish(&s, &p, &headers, action, d, (None, Vec::new())).await
}

/// Which lines to cancel, and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelWrite {
    /// Why the order is cancelled.
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub reason: String,
    /// Lines to cancel; every open line (when the command applies) when absent.
    #[schema(min_items = 1, max_items = 1000)]
    pub line_numbers: Option<Vec<i32>>,
}

/// Checks the named lines: each an open line of the order, named once (422 naming the entry).
fn chosen_lines(d: &PurchaseOrderDetail, numbers: &[i32]) -> Result<(), Problem> {
    if numbers.is_empty() {
        return Err(
            Problem::unprocessable("line_numbers must name at least one line").at("/line_numbers"),
        );
    }
    let po_number = &d.order.po_number;
    for (i, n) in numbers.iter().enumerate() {
        if numbers[..i].contains(n) {
            return Err(Problem::unprocessable(format!("line {n} is named twice"))
                .at(format!("/line_numbers/{i}")));
        }
        if !d
            .order_lines
            .iter()
            .any(|l| l.line_number == *n && l.cancelled_at.is_none())
        {
            return Err(Problem::unprocessable(format!(
                "line {n} is not an open line of {po_number}"
            ))
            .at(format!("/line_numbers/{i}")));
        }
    }
    Ok(())
}

/// Asks the order's owner to cancel a purchase order or some of its lines (admin); their open
/// quantity then leaves on order. `Idempotency-Key` makes a retry name the same command.
#[utoipa::path(post, path = "/v1/purchase-orders/{po_number}/cancel", tag = "replenishment",
    params(("po_number" = String, Path, description = "Order number", pattern = "^[A-Za-z0-9._-]{1,64}$"),
           ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key names the same command")),
    request_body = CancelWrite,
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 202, description = "Command published; `Location` shows its outcome", body = CommandAccepted,
                headers(("Location" = String, description = "The command's outcome resource"))),
              (status = 409, description = "Already cancelled, received, or no open line", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Malformed order number or reason, or a line that does not exist or is cancelled", body = Problem, content_type = "application/problem+json")))]
pub async fn cancel(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Segments(po_number): Segments<String>,
    Body(w): Body<CancelWrite>,
) -> ApiResult<Accepted> {
    require(&p, Role::Admin)?;
    id("po_number", &po_number)?;
    let reason = w.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 || reason.contains('\0') {
        return Err(Problem::unprocessable("reason must be 1 to 500 characters").at("/reason"));
    }
    let (command, keyed) = command_id(&headers, &p, &po_number, "cancel")?;
    if keyed && accepted_before(&s, &p, (&po_number, "cancel"), command).await? {
        return Ok(accepted(&po_number, command));
    }
    let d = load(&s, &p.tenant, &po_number).await?;
    match d.order.status.as_str() {
        "CANCELLED" => {
            return Err(Problem::conflict(format!(
                "purchase order {po_number} is already cancelled"
            )));
        }
        "RECEIVED" => {
            return Err(Problem::conflict(format!(
                "purchase order {po_number} is RECEIVED: a received order is closed"
            )));
        }
        _ => {}
    }
    if let Some(numbers) = &w.line_numbers {
        chosen_lines(&d, numbers)?;
    }
    if !d.order_lines.iter().any(is_open) {
        return Err(Problem::conflict(format!(
            "purchase order {po_number} has no open line"
        )));
    }
    let action = (command, PurchaseOrderAction::CANCEL);
    let lines = w.line_numbers.unwrap_or_default();
    publish(
        &s,
        &p,
        &headers,
        action,
        d,
        (Some(reason.to_owned()), lines),
    )
    .await
}

/// What became of a command.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommandOutcome {
    /// The command.
    pub command_id: Uuid,
    /// Its order.
    pub po_number: String,
    /// APPROVE or CANCEL.
    pub action: Option<String>,
    /// PENDING (accepted, not answered yet), APPLIED (it changed the order) or REJECTED (it no
    /// longer applied and changed nothing).
    pub state: &'static str,
    /// Why it was rejected: UNKNOWN_ORDER, ALREADY_APPROVED, ALREADY_CANCELLED, STATUS_CHANGED,
    /// CLOSED, UNKNOWN_LINE or NO_OPEN_LINE.
    pub code: Option<String>,
    /// The rejection, for a person.
    pub detail: Option<String>,
    /// The order's status after the change the command caused (APPLIED), or when it arrived
    /// (REJECTED).
    pub status: Option<String>,
    /// Who asked. Masked for the viewer role (`j***`).
    pub requested_by: Option<String>,
    /// When the API accepted it.
    pub requested_at: Option<DateTime<Utc>>,
    /// When the order's owner answered.
    pub decided_at: Option<DateTime<Utc>>,
}

/// The traces of a command in the tables: the change it caused, its rejection, its write.
#[derive(Debug, sqlx::FromRow)]
struct Traces {
    applied_status: Option<String>,
    applied_at: Option<DateTime<Utc>>,
    rejected_action: Option<String>,
    code: Option<String>,
    detail: Option<String>,
    rejected_status: Option<String>,
    rejected_by: Option<String>,
    rejected_at: Option<DateTime<Utc>>,
    requested_action: Option<String>,
    requested_by: Option<String>,
    requested_at: Option<DateTime<Utc>>,
}

/// A command's outcome: APPLIED once a status change carries its id (even if a duplicate of it
/// was rejected too), REJECTED once a rejection does, PENDING while only its write is known.
#[utoipa::path(get, path = "/v1/purchase-orders/{po_number}/commands/{command_id}", tag = "replenishment",
    params(("po_number" = String, Path, description = "Order number"),
           ("command_id" = Uuid, Path, description = "The command id approve or cancel answered")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "The command's outcome", body = CommandOutcome)))]
pub async fn command(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Segments((po_number, raw)): Segments<(String, String)>,
) -> ApiResult<Json<CommandOutcome>> {
    require(&p, Role::Viewer)?;
    let command_id = Uuid::parse_str(&raw)
        .map_err(|_| Problem::bad_request("command_id must be a UUID").at("command_id"))?;
    let mut tx = s.tenant_tx(&p.tenant).await?;
    let t: Traces = sqlx::query_as(
        "SELECT a.status AS applied_status, a.occurred_at AS applied_at, \
                r.action AS rejected_action, r.code, r.detail, r.status AS rejected_status, \
                r.requested_by AS rejected_by, r.occurred_at AS rejected_at, \
                upper(q.action) AS requested_action, q.actor AS requested_by, \
                q.at AS requested_at \
         FROM (VALUES (1)) AS one (n) \
         LEFT JOIN LATERAL (SELECT status, occurred_at \
             FROM replenishment.purchase_order_status_changes \
             WHERE tenant_id = $1 AND po_number = $2 AND command_id = $3 \
             ORDER BY occurred_at, event_id LIMIT 1) a ON true \
         LEFT JOIN LATERAL (SELECT action, code, detail, status, requested_by, occurred_at \
             FROM replenishment.purchase_order_command_rejections \
             WHERE tenant_id = $1 AND po_number = $2 AND command_id = $3 \
             ORDER BY occurred_at, event_id LIMIT 1) r ON true \
         LEFT JOIN LATERAL (SELECT action, actor, at FROM audit.audit_log \
             WHERE tenant_id = $1 AND resource = $4 AND outcome = 'accepted' \
               AND action IN ('approve', 'cancel') AND detail ->> 'event_id' = $3::text \
             ORDER BY at LIMIT 1) q ON true",
    )
    .bind(&p.tenant)
    .bind(&po_number)
    .bind(command_id)
    .bind(resource(&po_number))
    .persistent(s.named)
    .fetch_one(&mut *tx)
    .await?;
    AppState::end_read(tx);
    let (state, status, decided_at) = if t.applied_status.is_some() {
        ("APPLIED", t.applied_status, t.applied_at)
    } else if t.code.is_some() {
        ("REJECTED", t.rejected_status, t.rejected_at)
    } else if t.requested_at.is_some() {
        ("PENDING", None, None)
    } else {
        return Err(Problem::not_found(format!(
            "no command {command_id} on purchase order {po_number}"
        )));
    };
    let rejected = state == "REJECTED";
    let mut requested_by = t.requested_by.or(t.rejected_by);
    mask::field(&mut requested_by, p.role, mask::person);
    Ok(Json(CommandOutcome {
        command_id,
        po_number,
        action: t.requested_action.or(t.rejected_action),
        state,
        code: t.code.filter(|_| rejected),
        detail: t.detail.filter(|_| rejected),
        status,
        requested_by,
        requested_at: t.requested_at,
        decided_at,
    }))
}

/// The lifecycle status of a status text read from the tables.
fn status_symbol(status: &str) -> Option<PurchaseOrderStatus> {
    use PurchaseOrderStatus as S;
    [
        S::DRAFT,
        S::APPROVED,
        S::SENT,
        S::PARTIALLY_RECEIVED,
        S::RECEIVED,
        S::CANCELLED,
    ]
    .into_iter()
    .find(|s| s.symbol() == status)
}
