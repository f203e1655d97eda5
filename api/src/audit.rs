//! The audit log (`audit.audit_log`): refused credentials, refused roles, and every write.
//!
//! - A write is recorded (`pending`) and committed before it is published, and marked
//!   `accepted` after: no published write is missing from the log. Its event id is derived
//!   from an `Idempotency-Key` when one is sent, so a retry publishes the same event (or, once
//!   accepted, nothing again).
//! - Refusals are written off the request path, with caller-chosen text (path, request id) cut
//!   to [`MAX_TEXT`] bytes, at most [`MAX_IN_FLIGHT`] at a time; a flood beyond the failure
//!   limits is counted in a metric, not written row by row.
//! - Row-level security lets the API append only rows of the tenant its transaction is scoped
//!   to, or unauthenticated rows without tenant and actor (migration 0012).

use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::HeaderMap;
use composerp_events::EventId;
use sqlx::PgPool;

use crate::{AppState, auth::Principal, problem::Problem};

/// Longest caller-chosen text stored (path, request id), in bytes.
pub const MAX_TEXT: usize = 256;

/// Most refusal writes waiting for Postgres at once; beyond, they are counted and dropped.
pub const MAX_IN_FLIGHT: usize = 32;

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// `s` cut to [`MAX_TEXT`] bytes at a character boundary, marked with `…[cut]`, and whether
/// it was cut.
pub fn cap(s: &str) -> (String, bool) {
    if s.len() <= MAX_TEXT {
        return (s.to_owned(), false);
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (format!("{}…[cut]", &s[..end]), true)
}

/// The request id header, if any.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A refusal to append: who (empty when unauthenticated), what, and why.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// Tenant of an authenticated caller; empty for a failed authentication.
    pub tenant: String,
    /// Its subject; empty for a failed authentication.
    pub actor: String,
    /// `authenticate` or `authorize`.
    pub action: &'static str,
    /// The request path (capped).
    pub path: String,
    /// Why.
    pub outcome: String,
    /// `X-Request-Id` (capped).
    pub request_id: Option<String>,
}

/// Appends `r` in the background, unless [`MAX_IN_FLIGHT`] writes are pending already.
pub fn refusal(pool: &PgPool, r: Refusal) {
    if IN_FLIGHT.fetch_add(1, Ordering::AcqRel) >= MAX_IN_FLIGHT {
        IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
        metrics::counter!("composerp_api_audit_dropped_total", "reason" => "backlog").increment(1);
        return;
    }
    let pool = pool.clone();
    tokio::spawn(async move {
        if let Err(e) = write_refusal(&pool, r).await {
            tracing::warn!(error = %e, "Audit log write failed.");
        }
        IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
    });
}

async fn write_refusal(pool: &PgPool, r: Refusal) -> Result<(), sqlx::Error> {
    let (path, path_cut) = cap(&r.path);
    let (request_id, id_cut) = match r.request_id.as_deref().map(cap) {
        Some((id, cut)) => (Some(id), cut),
        None => (None, false),
    };
    let cut: Vec<&str> = [("resource", path_cut), ("request_id", id_cut)]
        .into_iter()
        .filter_map(|(name, cut)| cut.then_some(name))
        .collect();
    let detail = if cut.is_empty() {
        serde_json::json!({})
    } else {
        serde_json::json!({ "cut": cut })
    };
    let sql = "INSERT INTO audit.audit_log \
               (tenant_id, actor, action, resource, outcome, request_id, detail) \
               VALUES ($1, $2, $3, $4, $5, $6, $7)";
    let query = sqlx::query(sql)
        .bind(&r.tenant)
        .bind(&r.actor)
        .bind(r.action)
        .bind(path)
        .bind(r.outcome)
        .bind(request_id)
        .bind(detail);
    // Row-level security admits a tenant's row only in a transaction scoped to it; a refusal
    // without a tenant gets one too, since its statement is unnamed (the crate's "PgBouncer").
    let mut tx = if r.tenant.is_empty() {
        pool.begin().await?
    } else {
        pool.begin_with(format!(
            "BEGIN; SELECT set_config('app.tenant_id', '{}', true)",
            r.tenant.replace('\'', "")
        ))
        .await?
    };
    query.persistent(false).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// The id of a write's event: derived from `Idempotency-Key` (and the caller, `scope` and
/// `action`) when one is sent, so a retry names the same event; else fresh. The bool says
/// whether the caller keyed it.
pub fn event_id(
    headers: &HeaderMap,
    p: &Principal,
    (kind, scope, action): (&str, &str, &str),
) -> Result<(EventId, bool), Problem> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok((EventId::random(), false));
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            Problem::bad_request("Idempotency-Key must be 1 to 255 visible ASCII characters")
                .at("Idempotency-Key")
        })?;
    let parts: [&str; 6] = [kind, &p.tenant, &p.subject, scope, action, key];
    Ok((EventId::from_name(&parts.join("\0")), true))
}

/// What the log knew of a write's event before this request recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Not seen before: recorded as pending now.
    New,
    /// Recorded before but not acknowledged (a publish that failed): publish it again.
    Pending,
    /// Published and acknowledged already: answer as then, publish nothing.
    Accepted,
}

/// A write of `p`: `action` on `resource` as event `event_id`.
#[derive(Debug, Clone, Copy)]
pub struct Write<'a> {
    /// Who.
    pub p: &'a Principal,
    /// `put`, `approve`, `cancel`.
    pub action: &'a str,
    /// What, e.g. `suppliers/sup1`.
    pub resource: &'a str,
    /// Its event.
    pub event_id: EventId,
}

/// Whether the write's event is already in the log, and how far it got.
pub async fn lookup(state: &AppState, w: Write<'_>) -> Result<Option<Recorded>, Problem> {
    let mut tx = state.tenant_tx(&w.p.tenant).await?;
    let found = outcome_of(&mut tx, w, state.named).await?;
    AppState::end_read(tx);
    Ok(found)
}

async fn outcome_of(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    w: Write<'_>,
    named: bool,
) -> Result<Option<Recorded>, Problem> {
    let outcomes: Vec<String> = sqlx::query_scalar(
        "SELECT outcome FROM audit.audit_log WHERE tenant_id = $1 AND resource = $2 \
         AND (detail ->> 'event_id') = $3 AND outcome IN ('pending', 'accepted')",
    )
    .bind(&w.p.tenant)
    .bind(w.resource)
    .bind(w.event_id.to_string())
    .persistent(named)
    .fetch_all(&mut **tx)
    .await?;
    Ok(if outcomes.iter().any(|o| o == "accepted") {
        Some(Recorded::Accepted)
    } else if outcomes.is_empty() {
        None
    } else {
        Some(Recorded::Pending)
    })
}

/// Records the write as pending and commits, before anything is published; a concurrent retry
/// of the same event waits for this one (an advisory lock on the event id).
pub async fn record(
    state: &AppState,
    w: Write<'_>,
    headers: &HeaderMap,
) -> Result<Recorded, Problem> {
    let mut tx = state.tenant_write_tx(&w.p.tenant).await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("audit:{}:{}", w.p.tenant, w.event_id))
        .persistent(state.named)
        .execute(&mut *tx)
        .await?;
    if let Some(seen) = outcome_of(&mut tx, w, state.named).await? {
        tx.commit().await?;
        return Ok(seen);
    }
    append(&mut tx, w, "pending", headers, state.named).await?;
    tx.commit().await?;
    Ok(Recorded::New)
}

/// Appends the acknowledgement of a published write (the log stays append-only).
pub async fn accepted(state: &AppState, w: Write<'_>, headers: &HeaderMap) -> Result<(), Problem> {
    let mut tx = state.tenant_write_tx(&w.p.tenant).await?;
    append(&mut tx, w, "accepted", headers, state.named).await?;
    tx.commit().await?;
    Ok(())
}

async fn append(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    w: Write<'_>,
    outcome: &str,
    headers: &HeaderMap,
    named: bool,
) -> Result<(), Problem> {
    let (request_id, cut) = match request_id(headers).as_deref().map(cap) {
        Some((id, cut)) => (Some(id), cut),
        None => (None, false),
    };
    // The detail names the event, never its content (suppliers carry personal data).
    let mut detail = serde_json::json!({ "event_id": w.event_id.to_string() });
    if cut {
        detail["cut"] = serde_json::json!(["request_id"]);
    }
    sqlx::query(
        "INSERT INTO audit.audit_log (tenant_id, actor, action, resource, outcome, request_id, \
         detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&w.p.tenant)
    .bind(&w.p.subject)
    .bind(w.action)
    .bind(w.resource)
    .bind(outcome)
    .bind(request_id)
    .bind(detail)
    .persistent(named)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_caller_text_is_cut_at_a_character_and_marked() {
        assert_eq!(cap("/v1/items"), ("/v1/items".to_owned(), false));
        let long = "é".repeat(40_000);
        let (cut, was_cut) = cap(&long);
        assert!(was_cut);
        assert!(cut.len() <= MAX_TEXT + "…[cut]".len());
        assert!(cut.ends_with("…[cut]"));
    }

    #[test]
    fn an_idempotency_key_names_the_same_event_for_the_same_caller_only() {
        let p = |s: &str| Principal {
            tenant: "acme".into(),
            subject: s.into(),
            role: crate::auth::Role::Planner,
        };
        let mut h = HeaderMap::new();
        h.insert("idempotency-key", "k-1".parse().expect("header"));
        let scope = ("write", "items/i1", "put");
        let a = event_id(&h, &p("ann"), scope).expect("valid");
        assert_eq!(a, event_id(&h, &p("ann"), scope).expect("valid"));
        assert!(a.1);
        assert_ne!(a.0, event_id(&h, &p("bob"), scope).expect("valid").0);
        let unkeyed = event_id(&HeaderMap::new(), &p("ann"), scope).expect("valid");
        assert!(!unkeyed.1);
        h.insert("idempotency-key", "".parse().expect("header"));
        assert!(event_id(&h, &p("ann"), scope).is_err());
    }
}
