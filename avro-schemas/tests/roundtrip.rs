//! Every Rust record against its `.avsc`: same fields, same types, and a lossless round trip
//! through the Confluent framing, the direct and the resolving decoder, and JSON.

use apache_avro::{Schema, types::Value, writer::datum::GenericDatumWriter};
use composerp_events::{
    Codec, DecodeError, Event, SchemaCatalog,
    pos::{SaleCompleted, SalesChannel},
    samples, wire,
};

/// Field names of the schema and of the serialized value must be equal, recursively.
fn assert_same_shape(path: &str, schema: &Schema, value: &Value) {
    match (schema, value) {
        (Schema::Record(r), Value::Record(fields)) => {
            let want: Vec<&str> = r.fields.iter().map(|f| f.name.as_str()).collect();
            let got: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(got, want, "{path}: Rust fields differ from the schema's");
            for (f, (_, v)) in r.fields.iter().zip(fields) {
                assert_same_shape(&format!("{path}.{}", f.name), &f.schema, v);
            }
        }
        (Schema::Array(a), Value::Array(items)) => {
            assert!(
                !items.is_empty(),
                "{path}: sample must fill arrays so their items are checked"
            );
            for v in items {
                assert_same_shape(&format!("{path}[]"), &a.items, v);
            }
        }
        (Schema::Union(u), v) => {
            if let Some(s) = u.variants().iter().find(|s| !matches!(s, Schema::Null))
                && !matches!(v, Value::Null)
            {
                assert_same_shape(path, s, v);
            }
        }
        _ => {}
    }
}

fn check<T: Event + PartialEq + std::fmt::Debug>(sample: T) {
    let catalog = SchemaCatalog::embedded();
    let entry = catalog
        .latest(T::FULL_NAME)
        .unwrap_or_else(|| panic!("{} has a schema", T::FULL_NAME));
    let value = apache_avro::to_value(&sample).expect("serializes to an Avro value");
    assert_same_shape(T::FULL_NAME, entry.schema, &value);
    let resolved = value
        .clone()
        .resolve(entry.schema)
        .expect("value validates against the schema");
    assert!(
        resolved.validate(entry.schema),
        "{} validates",
        T::FULL_NAME
    );

    let codec = Codec::embedded();
    let bytes = codec.encode(&sample).expect("encodes");
    let (id, _) = wire::split(&bytes).expect("framed");
    assert_eq!(id, entry.id, "written with the newest schema's id");
    let back: T = codec.decode(&bytes).expect("decodes directly");
    assert_eq!(back, sample, "{} round-trips", T::FULL_NAME);

    // The generic writer must produce the same bytes as the direct serializer.
    let w = GenericDatumWriter::builder(entry.schema)
        .build()
        .expect("writer");
    let generic = w.write_value_to_vec(resolved).expect("generic write");
    assert_eq!(
        &bytes[wire::HEADER_LEN..],
        generic.as_slice(),
        "{} direct and generic bytes",
        T::FULL_NAME
    );

    let json = serde_json::to_string(&sample).expect("json");
    let from_json: T = serde_json::from_str(&json).expect("json back");
    assert_eq!(from_json, sample, "{} JSON round-trips", T::FULL_NAME);
}

#[test]
fn every_record_round_trips_against_its_schema() {
    check(samples::sale_completed(3));
    check(samples::purchase_order_received());
    check(samples::inventory_adjusted());
    check(samples::transfer_shipped());
    check(samples::transfer_received());
    check(samples::inventory_transaction_created());
    check(samples::inventory_updated());
    check(samples::inventory_low_stock());
    check(samples::daily_item_sales());
    check(samples::forecast_generated());
    check(samples::forecast_updated());
    check(samples::demand_features_updated());
    check(samples::forecast_accuracy_updated());
    check(samples::demand_history_seeded());
    check(samples::replenishment_triggered());
    check(samples::purchase_order_created());
    check(samples::purchase_order_approved());
    check(samples::purchase_order_cancelled());
    check(samples::replenishment_rule());
    check(samples::replenishment_default_rule());
    check(samples::auto_approval_rule());
    check(samples::purchase_order_command());
    check(samples::purchase_order_command_rejected());
    check(samples::purchase_order_status_changed());
    check(samples::item());
    check(samples::location());
    check(samples::supplier());
    check(samples::supplier_item());
}

#[test]
fn every_schema_has_a_rust_type_and_every_type_a_schema() {
    let catalog = SchemaCatalog::embedded();
    for e in catalog.entries() {
        assert!(
            composerp_events::kind_of(&e.full_name).is_some(),
            "{} has no Rust type",
            e.full_name
        );
    }
    for k in composerp_events::KINDS {
        assert!(
            catalog.latest(k.full_name).is_some(),
            "{} has no schema",
            k.full_name
        );
    }
}

#[test]
fn a_v1_sale_decodes_with_the_v2_reader_schema() {
    let catalog = SchemaCatalog::embedded();
    let v1 = catalog.find("pos/SaleCompleted.v1").expect("v1 exists");
    let mut sample = samples::sale_completed(2);
    let Value::Record(mut fields) = apache_avro::to_value(&sample).expect("value") else {
        panic!("record expected")
    };
    fields.retain(|(n, _)| n != "loyalty_id" && n != "channel");
    let body = GenericDatumWriter::builder(v1.schema)
        .build()
        .expect("writer")
        .write_value_to_vec(Value::Record(fields).resolve(v1.schema).expect("fits v1"))
        .expect("v1 bytes");
    let mut framed = Vec::new();
    wire::write_header(&mut framed, v1.id);
    framed.extend_from_slice(&body);

    let decoded: SaleCompleted = Codec::embedded().decode(&framed).expect("v1 decodes as v2");
    sample.loyalty_id = None;
    sample.channel = SalesChannel::STORE;
    assert_eq!(decoded, sample, "v2 defaults fill the fields v1 lacks");
}

#[test]
fn garbage_wrong_ids_and_wrong_records_fail_with_reasons() {
    let codec = Codec::embedded();
    let err = codec
        .decode::<SaleCompleted>(b"not avro")
        .expect_err("garbage");
    assert_eq!(err.reason(), "not_confluent_framed");
    let mut unknown = vec![0, 0, 0, 0x7f, 0x7f];
    unknown.extend_from_slice(b"xx");
    assert!(matches!(
        codec.decode::<SaleCompleted>(&unknown),
        Err(DecodeError::UnknownSchemaId(32639))
    ));
    let item = codec.encode(&samples::item()).expect("item");
    let err = codec
        .decode::<SaleCompleted>(&item)
        .expect_err("an Item is not a sale");
    assert_eq!(err.reason(), "wrong_record_type");
    let mut truncated = codec.encode(&samples::sale_completed(2)).expect("sale");
    truncated.truncate(truncated.len() - 3);
    assert_eq!(
        codec
            .decode::<SaleCompleted>(&truncated)
            .expect_err("truncated")
            .reason(),
        "avro_decode"
    );
}
