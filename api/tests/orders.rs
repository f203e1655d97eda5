//! Purchase orders through the API on a real Postgres (and, for commands, a local broker with the
//! sink behind it): lifecycle status and receipts, the refusals the tables allow at once, the
//! commands published to the order's owner, their outcomes, and the triggers' explanation.

mod common;

use std::time::Duration;

use axum::http::{Request, StatusCode, header};
use common::{Api, Writable, bearer, token};
use composerp_api::publish::Events;
use composerp_events::{
    Codec, EventId,
    replenishment::{PurchaseOrderAction, PurchaseOrderCommand, PurchaseOrderStatus},
    samples,
};
use composerp_kafka::KafkaSettings;
use composerp_topics::TopicCatalog;
use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
};
use serde_json::{Value, json};
use uuid::Uuid;

impl Api {
    /// A POST with a JSON body (none when `body` is empty) and an optional Idempotency-Key:
    /// status, body and `Location`.
    async fn post(
        &self,
        path: &str,
        auth: &str,
        body: &str,
        key: Option<&str>,
    ) -> (StatusCode, Value, Option<String>) {
        let mut req = Request::post(path);
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let (status, body, headers) = self.send(req, auth, body, !body.is_empty()).await;
        let location = headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (status, body, location)
    }
}

/// PO-2 of acme (APPROVED in the seed) as the processor last reported it: goods arrived, line 1
/// over-received; and a trigger with its explanation that went into it.
async fn seed_receipt_and_trigger(api: &Api) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO replenishment.purchase_order_lifecycle (tenant_id, po_number, location_id, \
         supplier_id, status, previous_status, lines, received_quantity, over_received, \
         status_event_id, status_at, progress) VALUES ('acme', 'PO-2', 's1', 'sup1', \
         'PARTIALLY_RECEIVED', 'SENT', '[{\"line_number\": 1, \"item_id\": \"i1\", \
         \"ordered\": 10, \"received\": 12, \"cancelled\": false, \"over_received\": true}, \
         {\"line_number\": 2, \"item_id\": \"i2\", \"ordered\": 4, \"received\": 0, \
         \"cancelled\": false, \"over_received\": false}]', 12, true, gen_random_uuid(), now(), 1)",
    )
    .execute(&api.db.pool)
    .await?;
    sqlx::query(
        "INSERT INTO replenishment.triggers (tenant_id, event_id, location_id, item_id, \
         supplier_id, policy, outcome, inventory_position, reorder_level, safety_stock, \
         demand_per_day, demand_std_per_day, lead_time_days, lead_time_std_days, service_level, \
         order_quantity, explanation, source_event_id, occurred_at, evaluated_on, rule_source, \
         demand_source, supplier_reason, position_before_open_orders, open_order_quantity, \
         on_hand, on_order, in_transit, reserved, backordered, damaged, z, protection_days, lots, \
         raw_need, quantity_after_moq, quantity_after_pack, capped, moq, pack_size, unit_cost, \
         order_value, po_number) VALUES ('acme', gen_random_uuid(), 's1', 'i1', 'sup1', 'S_Q', \
         'ORDER', 3, 12.5, 4.2, 2, 1, 4, 0.5, 0.95, 12, 'IP 3 < s 12.5: order 1 x Q 10', \
         gen_random_uuid(), now() - interval '1 day', 'INVENTORY_UPDATED', 'category:food', \
         'FORECAST SES', 'CHEAPEST', 3, 0, 5, 0, 0, 2, 0, 0, 1.645, 4.5, 1, 10, 12, 12, false, 12, \
         6, 2.5, 30, 'PO-2')",
    )
    .execute(&api.db.pool)
    .await?;
    Ok(())
}

#[tokio::test]
async fn orders_show_their_lifecycle_and_triggers_their_explanation() -> anyhow::Result<()> {
    let api = Api::start().await?;
    seed_receipt_and_trigger(&api).await?;
    let viewer = bearer(&token("acme", "viewer"));
    let h = Some(("authorization", viewer.as_str()));

    let (status, page, _) = api
        .get("/v1/purchase-orders?status=PARTIALLY_RECEIVED", h)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let items = page["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1, "{page}");
    let po = &items[0];
    assert_eq!(
        (
            &po["po_number"],
            &po["previous_status"],
            &po["received_quantity"],
            &po["over_received"]
        ),
        (&json!("PO-2"), &json!("SENT"), &json!(12), &json!(true))
    );
    let (_, order, _) = api.get("/v1/purchase-orders/PO-2", h).await;
    let received: Vec<(Value, Value)> = order["order_lines"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|l| (l["received"].clone(), l["over_received"].clone()))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        received,
        [(json!(12), json!(true)), (json!(0), json!(false))]
    );
    // Orders the processor has not reported on keep the status their events give.
    let (_, order, _) = api.get("/v1/purchase-orders/PO-1", h).await;
    assert_eq!(
        (&order["status"], &order["received_quantity"]),
        (&json!("DRAFT"), &json!(0))
    );
    let (_, other, _) = api
        .get(
            "/v1/purchase-orders/PO-2",
            Some(("authorization", &bearer(&token("globex", "viewer")))),
        )
        .await;
    assert_eq!(
        other["status"], "APPROVED",
        "another tenant's PO-2: {other}"
    );

    // Why PO-2? Its decision, with every figure behind it.
    let (status, page, _) = api
        .get("/v1/replenishment-triggers?po_number=PO-2", h)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let t = &page["items"][0];
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
    for (field, value) in [
        ("evaluated_on", json!("INVENTORY_UPDATED")),
        ("rule_source", json!("category:food")),
        ("supplier_reason", json!("CHEAPEST")),
        ("on_hand", json!(5)),
        ("z", json!(1.645)),
        ("raw_need", json!(10.0)),
        ("quantity_after_pack", json!(12)),
        ("capped", json!(false)),
        ("unit_cost", json!("2.5000")),
        ("order_value", json!("30.0000")),
        ("review_period_days", Value::Null),
    ] {
        assert_eq!(t[field], value, "{field}: {t}");
    }
    // Decisions recorded before the explanation existed show nulls, not zeros.
    let (_, page, _) = api.get("/v1/replenishment-triggers?outcome=ORDER", h).await;
    let old = &page["items"][0];
    assert_eq!(
        (&old["po_number"], &old["on_hand"]),
        (&Value::Null, &Value::Null)
    );
    Ok(())
}

#[tokio::test]
async fn commands_the_tables_already_rule_out_are_refused_at_once() -> anyhow::Result<()> {
    let api = Api::start().await?;
    seed_receipt_and_trigger(&api).await?;
    let admin = bearer(&token("acme", "admin"));
    for role in ["viewer", "planner"] {
        let (status, body, _) = api
            .post(
                "/v1/purchase-orders/PO-1/approve",
                &bearer(&token("acme", role)),
                "",
                None,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role}: {body}");
    }
    let refusals = [
        ("PO-2/approve", "", StatusCode::CONFLICT, None),
        ("PO-404/approve", "", StatusCode::NOT_FOUND, None),
        ("PO%201/approve", "", StatusCode::UNPROCESSABLE_ENTITY, None),
        (
            "PO-2/cancel",
            r#"{"reason": "late", "line_numbers": [7]}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("/line_numbers/0"),
        ),
        (
            "PO-2/cancel",
            r#"{"reason": "late", "line_numbers": [1, 1]}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("/line_numbers/1"),
        ),
        (
            "PO-2/cancel",
            r#"{"reason": "late", "line_numbers": []}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("/line_numbers"),
        ),
        (
            "PO-2/cancel",
            r#"{"reason": " "}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("/reason"),
        ),
        (
            "PO-2/cancel",
            r#"{"reason": 5}"#,
            StatusCode::BAD_REQUEST,
            None,
        ),
    ];
    for (path, body, expected, pointer) in refusals {
        let (status, problem, location) = api
            .post(&format!("/v1/purchase-orders/{path}"), &admin, body, None)
            .await;
        assert_eq!(status, expected, "{path} {body}: {problem}");
        assert_eq!(problem["status"], expected.as_u16(), "{path}: {problem}");
        assert_eq!(location, None);
        if let Some(p) = pointer {
            assert_eq!(problem["pointer"], p, "{path} {body}: {problem}");
        }
    }
    let (status, problem, _) = api
        .post(
            "/v1/purchase-orders/PO-1/approve",
            &admin,
            "",
            Some("two words"),
        )
        .await;
    assert_eq!(
        (status, &problem["pointer"]),
        (StatusCode::BAD_REQUEST, &json!("Idempotency-Key"))
    );
    // Received in full: the order is closed.
    sqlx::query("UPDATE replenishment.purchase_order_lifecycle SET status = 'RECEIVED'")
        .execute(&api.db.pool)
        .await?;
    let (status, problem, _) = api
        .post(
            "/v1/purchase-orders/PO-2/cancel",
            &admin,
            r#"{"reason": "x"}"#,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");

    // A command resource: a UUID, of this tenant's order.
    let viewer = bearer(&token("acme", "viewer"));
    let h = Some(("authorization", viewer.as_str()));
    let (status, problem, content_type) = api
        .get("/v1/purchase-orders/PO-1/commands/not-a-uuid", h)
        .await;
    assert_eq!(
        (status, content_type.as_str(), &problem["pointer"]),
        (
            StatusCode::BAD_REQUEST,
            "application/problem+json",
            &json!("command_id")
        )
    );
    let unknown = format!("/v1/purchase-orders/PO-1/commands/{}", Uuid::new_v4());
    let (status, _, _) = api.get(&unknown, h).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    Ok(())
}

/// The commands on the commands topic, each with its key.
fn published_commands(
    kafka: &KafkaSettings,
) -> anyhow::Result<Vec<(String, PurchaseOrderCommand)>> {
    let spec = TopicCatalog::embedded().get("replenishment.po-commands")?;
    let consumer: BaseConsumer = kafka.consumer("composerp-test-commands").create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..spec.partitions {
        tpl.add_partition_offset(&spec.name, p, Offset::Offset(0))?;
    }
    consumer.assign(&tpl)?;
    let codec = Codec::embedded();
    let (mut found, mut last) = (Vec::new(), std::time::Instant::now());
    while last.elapsed() < Duration::from_secs(3) {
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m?;
            last = std::time::Instant::now();
            let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
            found.push((key, codec.decode(m.payload().unwrap_or_default())?));
        }
    }
    Ok(found)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_go_to_the_orders_owner_and_their_outcomes_show() -> anyhow::Result<()> {
    let w = Writable::start().await?;
    let api = &w.api;
    let admin = bearer(&token("acme", "admin"));
    // An approve and a cancel racing each other: both accepted, the processor decides.
    let (status, approve, location) = api
        .post("/v1/purchase-orders/PO-1/approve", &admin, "", None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{approve}");
    assert_eq!(approve["command_id"], approve["event_id"]);
    let approve_id = approve["command_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let href = format!("/v1/purchase-orders/PO-1/commands/{approve_id}");
    assert_eq!(
        (location.as_deref(), &approve["href"]),
        (Some(href.as_str()), &json!(href))
    );
    let (status, cancel, _) = api
        .post(
            "/v1/purchase-orders/PO-1/cancel",
            &admin,
            r#"{"reason": "supplier closed", "line_numbers": [2]}"#,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{cancel}");
    let cancel_id = cancel["command_id"].as_str().unwrap_or_default().to_owned();
    // A retried request with the same key names the same command, published once.
    let mut keyed = Vec::new();
    for _ in 0..2 {
        let (status, body, _) = api
            .post(
                "/v1/purchase-orders/PO-1/approve",
                &admin,
                "",
                Some("retry-1"),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        keyed.push(body["command_id"].clone());
    }
    assert_eq!(keyed[0], keyed[1]);

    let commands = published_commands(&w.kafka)?;
    assert_eq!(commands.len(), 3, "{commands:?}");
    assert!(commands.iter().all(|(key, c)| key == "acme|s1"
        && c.po_number == "PO-1"
        && c.location_id == "s1"
        && c.requested_by == "acme-user"));
    let cancel_command = commands
        .iter()
        .map(|(_, c)| c)
        .find(|c| c.event_id.to_string() == cancel_id)
        .expect("the cancel was published");
    assert_eq!(
        (
            cancel_command.action,
            cancel_command.reason.as_deref(),
            cancel_command.line_numbers.as_slice()
        ),
        (
            PurchaseOrderAction::CANCEL,
            Some("supplier closed"),
            &[2][..]
        )
    );

    // Nothing answered yet: pending. Who asked is a person, masked for a viewer.
    let viewer = bearer(&token("acme", "viewer"));
    let h = Some(("authorization", viewer.as_str()));
    let (status, outcome, _) = api.get(&href, h).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(
        (
            &outcome["state"],
            &outcome["action"],
            &outcome["requested_by"]
        ),
        (&json!("PENDING"), &json!("APPROVE"), &json!("a***"))
    );

    // The processor applies the approval and rejects the cancel that came after it.
    let events = Events::new(&w.kafka, w.codec.clone())?;
    let mut applied = samples::purchase_order_status_changed();
    (applied.tenant_id, applied.po_number) = ("acme".into(), "PO-1".into());
    applied.status = PurchaseOrderStatus::APPROVED;
    applied.previous_status = Some(PurchaseOrderStatus::DRAFT);
    applied.command_id = Some(EventId(approve_id.parse()?));
    for l in &mut applied.lines {
        (l.received, l.over_received) = (0, false);
    }
    applied.over_received = false;
    let published = |p: composerp_api::problem::Problem| anyhow::anyhow!("{}", p.detail);
    events
        .publish("replenishment.po-status", &applied)
        .await
        .map_err(published)?;
    let mut rejected = samples::purchase_order_command_rejected();
    (rejected.tenant_id, rejected.po_number) = ("acme".into(), "PO-1".into());
    rejected.command_id = EventId(cancel_id.parse()?);
    (rejected.action, rejected.code) = (PurchaseOrderAction::CANCEL, "STATUS_CHANGED".into());
    rejected.status = Some(PurchaseOrderStatus::APPROVED);
    events
        .publish("replenishment.po-rejections", &rejected)
        .await
        .map_err(published)?;

    let sink = w.sink("orders-test");
    let cancel_href = format!("/v1/purchase-orders/PO-1/commands/{cancel_id}");
    let (mut approved, mut refused) = (Value::Null, Value::Null);
    for _ in 0..150 {
        approved = api.get(&href, h).await.1;
        refused = api.get(&cancel_href, h).await.1;
        if approved["state"] == "APPLIED" && refused["state"] == "REJECTED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sink.stop().await?;
    assert_eq!(
        (&approved["state"], &approved["status"], &approved["code"]),
        (&json!("APPLIED"), &json!("APPROVED"), &Value::Null),
        "{approved}"
    );
    assert_eq!(
        (
            &refused["state"],
            &refused["code"],
            &refused["status"],
            &refused["action"]
        ),
        (
            &json!("REJECTED"),
            &json!("STATUS_CHANGED"),
            &json!("APPROVED"),
            &json!("CANCEL")
        ),
        "{refused}"
    );
    assert_eq!(refused["detail"], json!(rejected.detail));
    let (_, order, _) = api.get("/v1/purchase-orders/PO-1", h).await;
    assert_eq!(order["status"], "APPROVED", "{order}");

    // Another tenant sees neither the order's commands nor their outcome.
    let (status, _, _) = api
        .get(
            &href,
            Some(("authorization", &bearer(&token("globex", "viewer")))),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit.audit_log WHERE tenant_id = 'acme' AND outcome = 'accepted' \
         ORDER BY at",
    )
    .fetch_all(&api.db.pool)
    .await?;
    assert_eq!(audited, ["approve", "cancel", "approve"]);
    Ok(())
}
