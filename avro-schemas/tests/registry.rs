//! The registry path against an in-process double of exactly the endpoints Composerp uses:
//! `POST /subjects/{subject}/versions` and `GET /schemas/ids/{id}`.

use std::sync::{Arc, Mutex};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{get, post},
};
use composerp_events::{Codec, RegistryClient, SchemaCatalog, pos::SaleCompleted, samples, wire};
use serde_json::{Value, json};

#[derive(Default)]
struct Registry {
    /// id -> (subject, schema text)
    schemas: Vec<(String, String)>,
    calls: Vec<String>,
}

type Shared = Arc<Mutex<Registry>>;

async fn register(
    State(r): State<Shared>,
    Path(subject): Path<String>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let mut r = r.lock().expect("lock");
    r.calls.push(format!("POST /subjects/{subject}/versions"));
    let Some(schema) = body["schema"].as_str() else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error_code": 42201, "message": "no schema"})),
        );
    };
    if body["schemaType"] != "AVRO" {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error_code": 42201, "message": "not avro"})),
        );
    }
    let existing = r
        .schemas
        .iter()
        .position(|(s, t)| *s == subject && t == schema);
    let id = match existing {
        Some(i) => i + 1,
        None => {
            r.schemas.push((subject, schema.to_owned()));
            r.schemas.len()
        }
    };
    // Ids far from the embedded ones prove the codec uses the registry's.
    (StatusCode::OK, Json(json!({ "id": 5000 + id })))
}

async fn by_id(State(r): State<Shared>, Path(id): Path<u32>) -> (StatusCode, Json<Value>) {
    let mut r = r.lock().expect("lock");
    r.calls.push(format!("GET /schemas/ids/{id}"));
    match id.checked_sub(5001).and_then(|i| r.schemas.get(i as usize)) {
        Some((_, text)) => (StatusCode::OK, Json(json!({ "schema": text }))),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error_code": 40403, "message": "Schema not found"})),
        ),
    }
}

async fn start() -> anyhow::Result<(String, Shared)> {
    let state: Shared = Arc::default();
    let app = Router::new()
        .route("/subjects/{subject}/versions", post(register))
        .route("/schemas/ids/{id}", get(by_id))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, state))
}

#[tokio::test]
async fn records_are_written_with_registry_ids_and_read_by_fetching_unknown_ids()
-> anyhow::Result<()> {
    let (url, state) = start().await?;
    let writer = Codec::with_registry(RegistryClient::new(&url)?).await?;
    let latest = SchemaCatalog::embedded()
        .entries()
        .iter()
        .map(|e| &e.full_name)
        .collect::<std::collections::HashSet<_>>();
    assert_eq!(
        state.lock().expect("lock").schemas.len(),
        latest.len(),
        "one registration per record"
    );

    let sale = samples::sale_completed(3);
    let bytes = writer.encode(&sale)?;
    let (id, _) = wire::split(&bytes)?;
    assert!(id > 5000, "registry id used, got {id}");

    // Another process registering the same schemas gets the same ids and needs no look-up.
    let reader = Codec::with_registry(RegistryClient::new(&url)?).await?;
    state.lock().expect("lock").calls.clear();
    let back: SaleCompleted = reader.decode_async(&bytes).await?;
    assert_eq!(back, sale);
    let again: SaleCompleted = reader.decode_async(&bytes).await?;
    assert_eq!(again, sale);
    assert!(
        state.lock().expect("lock").calls.is_empty(),
        "decoding is served from the cache"
    );

    // An id the registry never issued is a clear decode error, not a panic.
    let mut unknown = bytes.clone();
    unknown[1..5].copy_from_slice(&9_999u32.to_be_bytes());
    let err = reader
        .decode_async::<SaleCompleted>(&unknown)
        .await
        .expect_err("unknown id");
    assert_eq!(err.reason(), "schema_registry", "{err}");
    Ok(())
}

#[tokio::test]
async fn an_older_version_registered_by_another_producer_is_fetched_and_resolved()
-> anyhow::Result<()> {
    let (url, state) = start().await?;
    let client = RegistryClient::new(&url)?;
    let v1 = SchemaCatalog::embedded()
        .find("pos/SaleCompleted.v1")
        .expect("v1");
    let v1_id = client
        .register("composerp.pos.v1.SaleCompleted", &v1.text)
        .await?;

    // Write a v1 record the way an old producer would.
    let mut sale = samples::sale_completed(2);
    let apache_avro::types::Value::Record(mut fields) = apache_avro::to_value(&sale)? else {
        unreachable!()
    };
    fields.retain(|(n, _)| n != "loyalty_id" && n != "channel");
    let body = apache_avro::writer::datum::GenericDatumWriter::builder(v1.schema)
        .build()?
        .write_value_to_vec(apache_avro::types::Value::Record(fields).resolve(v1.schema)?)?;
    let mut framed = Vec::new();
    wire::write_header(&mut framed, v1_id);
    framed.extend_from_slice(&body);

    let reader = Codec::with_registry(client).await?;
    let back: SaleCompleted = reader.decode_async(&framed).await?;
    sale.loyalty_id = None;
    sale.channel = Default::default();
    assert_eq!(back, sale);
    let gets = |s: &Shared| {
        s.lock()
            .expect("lock")
            .calls
            .iter()
            .filter(|c| c.starts_with("GET"))
            .count()
    };
    assert_eq!(gets(&state), 1, "the v1 schema is fetched once");
    let _: SaleCompleted = reader.decode_async(&framed).await?;
    assert_eq!(gets(&state), 1, "and then cached");
    Ok(())
}
