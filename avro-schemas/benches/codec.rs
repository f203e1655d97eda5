//! SaleCompleted encode and decode, ns/record, against apache-avro's generic `Value` path
//! measured in the same run (the ratio is what BENCHMARKS.md quotes); decode also against
//! apache-avro's `read_deser` and encode against its `write_ser` (the serde paths the codec
//! falls back to when its direct decoder or encoder declines), encode for two ledger records as
//! well.
#![allow(missing_docs)] // criterion_group! generates an undocumented public function.

use std::hint::black_box;

use apache_avro::{
    reader::datum::GenericDatumReader, types::Value, writer::datum::GenericDatumWriter,
};
use composerp_events::{Codec, Event, SchemaCatalog, pos::SaleCompleted, samples, wire};
use criterion::{Criterion, criterion_group, criterion_main};

fn v1_bytes(sale: &SaleCompleted) -> Vec<u8> {
    let v1 = SchemaCatalog::embedded()
        .find("pos/SaleCompleted.v1")
        .expect("v1");
    let Value::Record(mut fields) = apache_avro::to_value(sale).expect("value") else {
        unreachable!()
    };
    fields.retain(|(n, _)| n != "loyalty_id" && n != "channel");
    let body = GenericDatumWriter::builder(v1.schema)
        .build()
        .expect("writer")
        .write_value_to_vec(Value::Record(fields).resolve(v1.schema).expect("v1"))
        .expect("bytes");
    let mut out = Vec::new();
    wire::write_header(&mut out, v1.id);
    out.extend_from_slice(&body);
    out
}

/// apache-avro's `write_ser` with the settings of the codec's fallback writer.
fn write_ser_writer(full_name: &str) -> GenericDatumWriter<'static> {
    let schema = SchemaCatalog::embedded()
        .latest(full_name)
        .expect("schema")
        .schema;
    GenericDatumWriter::builder(schema)
        .validate(false)
        .build()
        .expect("writer")
}

/// Framed encode through the codec and through apache-avro's `write_ser`, same buffer reuse.
fn bench_encode<T: Event>(c: &mut Criterion, group: &str, value: &T) {
    let codec = Codec::embedded();
    let id = codec.writer_id(T::FULL_NAME).expect("id");
    let reference = write_ser_writer(T::FULL_NAME);
    let mut buf = Vec::with_capacity(256);
    let mut g = c.benchmark_group(group);
    g.bench_function("encode", |b| {
        b.iter(|| {
            buf.clear();
            codec.encode_into(black_box(value), &mut buf).expect("ok");
        })
    });
    g.bench_function("encode_write_ser_baseline", |b| {
        b.iter(|| {
            buf.clear();
            wire::write_header(&mut buf, id);
            reference.write_ser(&mut buf, black_box(value)).expect("ok");
        })
    });
    g.finish();
}

fn bench(c: &mut Criterion) {
    let codec = Codec::embedded();
    let sale = samples::sale_completed(3);
    let bytes = codec.encode(&sale).expect("encode");
    let old = v1_bytes(&sale);
    let schema = SchemaCatalog::embedded()
        .latest("composerp.pos.v1.SaleCompleted")
        .expect("schema")
        .schema;
    let generic_reader = GenericDatumReader::builder(schema).build().expect("reader");
    let generic_writer = GenericDatumWriter::builder(schema).build().expect("writer");

    let mut g = c.benchmark_group("sale_completed_3_lines");
    g.bench_function("decode", |b| {
        b.iter(|| {
            codec
                .decode::<SaleCompleted>(black_box(&bytes))
                .expect("ok")
        })
    });
    let read_deser = GenericDatumReader::builder(schema).build().expect("reader");
    g.bench_function("decode_read_deser_baseline", |b| {
        b.iter(|| {
            let mut body = &black_box(&bytes)[wire::HEADER_LEN..];
            read_deser
                .read_deser::<SaleCompleted>(&mut body)
                .expect("ok")
        })
    });
    g.bench_function("decode_v1_resolved", |b| {
        b.iter(|| codec.decode::<SaleCompleted>(black_box(&old)).expect("ok"))
    });
    g.bench_function("decode_generic_value_baseline", |b| {
        b.iter(|| {
            let mut body = &black_box(&bytes)[wire::HEADER_LEN..];
            let v = generic_reader.read_value(&mut body).expect("ok");
            apache_avro::from_value::<SaleCompleted>(&v).expect("ok")
        })
    });
    let mut buf = Vec::with_capacity(256);
    g.bench_function("encode", |b| {
        b.iter(|| {
            buf.clear();
            codec.encode_into(black_box(&sale), &mut buf).expect("ok");
        })
    });
    let id = codec.writer_id(SaleCompleted::FULL_NAME).expect("id");
    let write_ser = write_ser_writer(SaleCompleted::FULL_NAME);
    g.bench_function("encode_write_ser_baseline", |b| {
        b.iter(|| {
            buf.clear();
            wire::write_header(&mut buf, id);
            write_ser.write_ser(&mut buf, black_box(&sale)).expect("ok");
        })
    });
    g.bench_function("encode_generic_value_baseline", |b| {
        b.iter(|| {
            let v = apache_avro::to_value(black_box(&sale)).expect("ok");
            generic_writer
                .write_value_to_vec(v.resolve(schema).expect("ok"))
                .expect("ok")
        })
    });
    g.finish();

    bench_encode(c, "inventory_updated", &samples::inventory_updated());
    bench_encode(
        c,
        "inventory_transaction_created",
        &samples::inventory_transaction_created(),
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
