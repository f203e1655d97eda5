//! A schema-driven Avro binary encoder: a `serde::Serializer` that walks a writer schema compiled
//! once ([`DirectEncoder`]) and appends straight to a `Vec<u8>`.
//!
//! apache-avro's `GenericDatumWriter::write_ser` looks every struct field up by name in a map and
//! goes through `io::Write`; this encoder takes the schema's fields in order and only checks that
//! serde's field name is the expected one. It writes exactly the bytes `write_ser` writes (with no
//! `target_block_size`, as [`crate::Codec`] builds it) for what it accepts: records whose fields
//! arrive in schema order, arrays of known length (one block: count, items, then 0; an empty
//! array is a single 0), enums, `["null", X]` unions in either order as `Option`, and the
//! primitive and logical types, with the same Rust-to-Avro type pairs `write_ser` accepts.
//!
//! Anything else (out-of-order or skipped fields, maps, general unions, sequences of unknown
//! length…) is refused with an [`EncodeFault`], so the caller can fall back to apache-avro.

use apache_avro::Schema;
use serde::{
    Serialize, Serializer,
    ser::{self, Impossible},
};

pub use crate::program::CompileError;
use crate::program::{Field, Node, Program};

/// Why a value was not encoded directly; apache-avro may still encode it (or explain why not).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeFault {
    /// The serde value kind does not fit the schema at this point.
    #[error("a serde {value} does not fit Avro {schema}")]
    Mismatch {
        /// What serde produced.
        value: &'static str,
        /// What the schema expects.
        schema: &'static str,
    },
    /// A struct field arrived out of schema order or with another name.
    #[error("struct field {got:?} where the schema expects {expected:?}")]
    FieldOrder {
        /// Field name given by serde.
        got: &'static str,
        /// Field name the schema has at this position ("" past the last field).
        expected: String,
    },
    /// A struct skipped a field (apache-avro would write the schema default).
    #[error("struct skipped field {0:?}")]
    SkippedField(&'static str),
    /// A struct ended before all schema fields were written.
    #[error("struct ended after {got} of the schema's {expected} fields")]
    MissingFields {
        /// Fields written.
        got: usize,
        /// Fields in the schema.
        expected: usize,
    },
    /// A sequence did not announce its length (apache-avro then writes sized blocks).
    #[error("sequence of unknown length")]
    UnknownLength,
    /// A sequence yielded another number of items than it announced.
    #[error("sequence announced {announced} items but yielded {yielded}")]
    LengthMismatch {
        /// Length hint.
        announced: usize,
        /// Items serialized.
        yielded: usize,
    },
    /// An enum variant names no symbol of the schema's enum.
    #[error("enum variant {0:?} is not a symbol of the schema")]
    UnknownSymbol(&'static str),
    /// A fixed-size value has the wrong length.
    #[error("{got} bytes for a fixed of {size}")]
    FixedSize {
        /// Bytes given.
        got: usize,
        /// Schema size.
        size: usize,
    },
    /// The value's `Serialize` implementation failed.
    #[error("{0}")]
    Custom(String),
}

impl ser::Error for EncodeFault {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        EncodeFault::Custom(msg.to_string())
    }
}

/// A writer schema compiled for direct encoding; build once per record type, share freely.
#[derive(Debug)]
pub struct DirectEncoder {
    program: Program,
}

impl DirectEncoder {
    /// Compiles `schema`, resolving named references; fails on constructs it does not write.
    pub fn compile(schema: &Schema) -> Result<Self, CompileError> {
        Program::compile(schema).map(|program| Self { program })
    }

    /// Appends the Avro binary of `value` to `out`; on error `out` is left as it was.
    pub fn encode<T: Serialize + ?Sized>(
        &self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeFault> {
        let start = out.len();
        let r = value.serialize(Enc {
            nodes: &self.program.nodes,
            node: &self.program.nodes[self.program.root],
            out,
        });
        if r.is_err() {
            out.truncate(start);
        }
        r
    }
}

/// Appends `n` zigzag-encoded as an Avro varint.
#[inline]
fn put_long(out: &mut Vec<u8>, n: i64) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    if z < 0x80 {
        // Lengths, counts, indices and small quantities: one byte.
        out.push(z as u8);
        return;
    }
    let mut buf = [0u8; 10];
    let mut i = 0;
    while z > 0x7f {
        buf[i] = (z as u8) | 0x80;
        z >>= 7;
        i += 1;
    }
    buf[i] = z as u8;
    out.extend_from_slice(&buf[..=i]);
}

/// Appends a length-prefixed byte string.
#[inline]
fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_long(out, b.len() as i64);
    out.extend_from_slice(b);
}

/// The serializer for one value at one schema node.
struct Enc<'p, 'o> {
    nodes: &'p [Node],
    node: &'p Node,
    out: &'o mut Vec<u8>,
}

impl<'p> Enc<'p, '_> {
    fn mismatch(&self, value: &'static str) -> EncodeFault {
        EncodeFault::Mismatch {
            value,
            schema: self.node.kind(),
        }
    }

    fn int(self, value: &'static str, v: i32) -> Result<(), EncodeFault> {
        match self.node {
            Node::Int => {
                put_long(self.out, i64::from(v));
                Ok(())
            }
            _ => Err(self.mismatch(value)),
        }
    }

    fn long(self, value: &'static str, v: i64) -> Result<(), EncodeFault> {
        match self.node {
            Node::Long => {
                put_long(self.out, v);
                Ok(())
            }
            _ => Err(self.mismatch(value)),
        }
    }
}

impl<'p, 'o> Serializer for Enc<'p, 'o> {
    type Ok = ();
    type Error = EncodeFault;
    type SerializeSeq = SeqEnc<'p, 'o>;
    type SerializeTuple = Impossible<(), EncodeFault>;
    type SerializeTupleStruct = Impossible<(), EncodeFault>;
    type SerializeTupleVariant = Impossible<(), EncodeFault>;
    type SerializeMap = Impossible<(), EncodeFault>;
    type SerializeStruct = StructEnc<'p, 'o>;
    type SerializeStructVariant = Impossible<(), EncodeFault>;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_bool(self, v: bool) -> Result<(), EncodeFault> {
        match self.node {
            Node::Boolean => {
                self.out.push(u8::from(v));
                Ok(())
            }
            _ => Err(self.mismatch("bool")),
        }
    }

    fn serialize_i8(self, v: i8) -> Result<(), EncodeFault> {
        self.int("i8", i32::from(v))
    }

    fn serialize_i16(self, v: i16) -> Result<(), EncodeFault> {
        self.int("i16", i32::from(v))
    }

    fn serialize_i32(self, v: i32) -> Result<(), EncodeFault> {
        self.int("i32", v)
    }

    fn serialize_i64(self, v: i64) -> Result<(), EncodeFault> {
        self.long("i64", v)
    }

    fn serialize_u8(self, v: u8) -> Result<(), EncodeFault> {
        self.int("u8", i32::from(v))
    }

    fn serialize_u16(self, v: u16) -> Result<(), EncodeFault> {
        self.int("u16", i32::from(v))
    }

    fn serialize_u32(self, v: u32) -> Result<(), EncodeFault> {
        self.long("u32", i64::from(v))
    }

    fn serialize_u64(self, _: u64) -> Result<(), EncodeFault> {
        // apache-avro writes u64 only into its own 8-byte fixed; leave that to it.
        Err(self.mismatch("u64"))
    }

    fn serialize_f32(self, v: f32) -> Result<(), EncodeFault> {
        match self.node {
            Node::Float => {
                self.out.extend_from_slice(&v.to_le_bytes());
                Ok(())
            }
            _ => Err(self.mismatch("f32")),
        }
    }

    fn serialize_f64(self, v: f64) -> Result<(), EncodeFault> {
        match self.node {
            Node::Double => {
                self.out.extend_from_slice(&v.to_le_bytes());
                Ok(())
            }
            _ => Err(self.mismatch("f64")),
        }
    }

    fn serialize_char(self, v: char) -> Result<(), EncodeFault> {
        match self.node {
            Node::Str => {
                put_bytes(self.out, v.encode_utf8(&mut [0; 4]).as_bytes());
                Ok(())
            }
            _ => Err(self.mismatch("char")),
        }
    }

    fn serialize_str(self, v: &str) -> Result<(), EncodeFault> {
        match self.node {
            Node::Str => {
                put_bytes(self.out, v.as_bytes());
                Ok(())
            }
            _ => Err(self.mismatch("str")),
        }
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), EncodeFault> {
        match self.node {
            Node::Bytes => {
                put_bytes(self.out, v);
                Ok(())
            }
            Node::Fixed(size) if *size == v.len() => {
                self.out.extend_from_slice(v);
                Ok(())
            }
            Node::Fixed(size) => Err(EncodeFault::FixedSize {
                got: v.len(),
                size: *size,
            }),
            _ => Err(self.mismatch("bytes")),
        }
    }

    fn serialize_none(self) -> Result<(), EncodeFault> {
        match self.node {
            Node::Optional { null_index, .. } => {
                // Zigzag of 0 is 0 and of 1 is 2.
                self.out.push(null_index << 1);
                Ok(())
            }
            _ => Err(self.mismatch("none")),
        }
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), EncodeFault> {
        match self.node {
            Node::Optional { null_index, some } => {
                self.out.push((1 - null_index) << 1);
                value.serialize(Enc {
                    nodes: self.nodes,
                    node: &self.nodes[*some],
                    out: self.out,
                })
            }
            _ => Err(self.mismatch("some")),
        }
    }

    fn serialize_unit(self) -> Result<(), EncodeFault> {
        match self.node {
            Node::Null => Ok(()),
            _ => Err(self.mismatch("unit")),
        }
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), EncodeFault> {
        Err(self.mismatch("unit struct"))
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        variant_index: u32,
        variant: &'static str,
    ) -> Result<(), EncodeFault> {
        let Node::Enum(symbols) = self.node else {
            return Err(self.mismatch("unit variant"));
        };
        // Variants are normally declared in symbol order; otherwise find the symbol by name.
        let index = match symbols.get(variant_index as usize) {
            Some(s) if s.matches(variant) => variant_index as usize,
            _ => symbols
                .iter()
                .position(|s| s.matches(variant))
                .ok_or(EncodeFault::UnknownSymbol(variant))?,
        };
        put_long(self.out, index as i64);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), EncodeFault> {
        Err(self.mismatch("newtype struct"))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), EncodeFault> {
        Err(self.mismatch("newtype variant"))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<SeqEnc<'p, 'o>, EncodeFault> {
        let Node::Array(item) = self.node else {
            return Err(self.mismatch("seq"));
        };
        let len = len.ok_or(EncodeFault::UnknownLength)?;
        if len != 0 {
            put_long(self.out, len as i64);
        }
        Ok(SeqEnc {
            nodes: self.nodes,
            item: &self.nodes[*item],
            out: self.out,
            announced: len,
            yielded: 0,
        })
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, EncodeFault> {
        Err(self.mismatch("tuple"))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, EncodeFault> {
        Err(self.mismatch("tuple struct"))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, EncodeFault> {
        Err(self.mismatch("tuple variant"))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, EncodeFault> {
        Err(self.mismatch("map"))
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<StructEnc<'p, 'o>, EncodeFault> {
        match self.node {
            Node::Record(Some(record)) => Ok(StructEnc {
                nodes: self.nodes,
                fields: &record.fields,
                out: self.out,
                next: 0,
            }),
            _ => Err(self.mismatch("struct")),
        }
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, EncodeFault> {
        Err(self.mismatch("struct variant"))
    }
}

/// Writes a record's fields in schema order.
struct StructEnc<'p, 'o> {
    nodes: &'p [Node],
    fields: &'p [Field],
    out: &'o mut Vec<u8>,
    next: usize,
}

impl ser::SerializeStruct for StructEnc<'_, '_> {
    type Ok = ();
    type Error = EncodeFault;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), EncodeFault> {
        match self.fields.get(self.next) {
            Some(f) if f.name.matches(key) => {
                self.next += 1;
                value.serialize(Enc {
                    nodes: self.nodes,
                    node: &self.nodes[f.node],
                    out: self.out,
                })
            }
            f => Err(EncodeFault::FieldOrder {
                got: key,
                expected: f.map(|f| f.name.name.to_string()).unwrap_or_default(),
            }),
        }
    }

    fn skip_field(&mut self, key: &'static str) -> Result<(), EncodeFault> {
        Err(EncodeFault::SkippedField(key))
    }

    fn end(self) -> Result<(), EncodeFault> {
        if self.next == self.fields.len() {
            Ok(())
        } else {
            Err(EncodeFault::MissingFields {
                got: self.next,
                expected: self.fields.len(),
            })
        }
    }
}

/// Writes the items of an array block; `end` closes it with the 0 block.
struct SeqEnc<'p, 'o> {
    nodes: &'p [Node],
    item: &'p Node,
    out: &'o mut Vec<u8>,
    announced: usize,
    yielded: usize,
}

impl ser::SerializeSeq for SeqEnc<'_, '_> {
    type Ok = ();
    type Error = EncodeFault;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeFault> {
        self.yielded += 1;
        value.serialize(Enc {
            nodes: self.nodes,
            node: self.item,
            out: self.out,
        })
    }

    fn end(self) -> Result<(), EncodeFault> {
        if self.yielded != self.announced {
            return Err(EncodeFault::LengthMismatch {
                announced: self.announced,
                yielded: self.yielded,
            });
        }
        self.out.push(0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use apache_avro::writer::datum::GenericDatumWriter;
    use serde::Deserialize;

    use super::*;
    use crate::{
        Codec, Event, EventId, KeyParts, Money, SchemaCatalog, Timestamp,
        decode::DirectDecoder,
        inventory::*,
        pos::*,
        program::shapes::{self, Colour, OTHER_SHAPES},
        samples, wire,
    };

    /// apache-avro's bytes for `value`, written with the settings of `Codec`'s fallback writer.
    fn reference<T: Serialize>(schema: &Schema, value: &T) -> Vec<u8> {
        GenericDatumWriter::builder(schema)
            .validate(false)
            .build()
            .expect("writer")
            .write_ser_to_vec(value)
            .expect("apache-avro encodes")
    }

    /// The direct encoder must accept `value`, match apache-avro byte for byte, and the codec
    /// must write those bytes; the direct decoder and the codec must read them back.
    fn check<T: Event + PartialEq + std::fmt::Debug>(value: &T) {
        let schema = SchemaCatalog::embedded()
            .latest(T::FULL_NAME)
            .expect("schema")
            .schema;
        let direct = DirectEncoder::compile(schema).expect("compiles");
        let mut got = vec![0xaa]; // appends after what is there
        direct
            .encode(value, &mut got)
            .unwrap_or_else(|e| panic!("{} encodes directly: {e}", T::FULL_NAME));
        assert_eq!(got[0], 0xaa);
        assert_eq!(
            got[1..],
            reference(schema, value),
            "{} bytes of {value:?}",
            T::FULL_NAME
        );

        let codec = Codec::embedded();
        let framed = codec.encode(value).expect("codec encodes");
        assert_eq!(framed[wire::HEADER_LEN..], got[1..], "{}", T::FULL_NAME);
        let back: T = codec.decode(&framed).expect("decodes");
        assert_eq!(&back, value, "{} round-trips", T::FULL_NAME);
        let mut body = &got[1..];
        let direct: T = DirectDecoder::compile(schema)
            .expect("compiles")
            .decode(&mut body)
            .unwrap_or_else(|e| panic!("{} decodes directly: {e}", T::FULL_NAME));
        assert_eq!(&direct, value, "{} decodes directly", T::FULL_NAME);
        assert!(body.is_empty(), "{} read to the end", T::FULL_NAME);
    }

    #[test]
    fn every_sample_encodes_directly_with_apache_avro_bytes() {
        check(&samples::sale_completed(3));
        check(&samples::purchase_order_received());
        check(&samples::inventory_adjusted());
        check(&samples::transfer_shipped());
        check(&samples::transfer_received());
        check(&samples::inventory_transaction_created());
        check(&samples::inventory_updated());
        check(&samples::inventory_low_stock());
        check(&samples::daily_item_sales());
        check(&samples::forecast_generated());
        check(&samples::forecast_updated());
        check(&samples::demand_features_updated());
        check(&samples::forecast_accuracy_updated());
        check(&samples::demand_history_seeded());
        check(&samples::replenishment_triggered());
        check(&samples::purchase_order_created());
        check(&samples::purchase_order_approved());
        check(&samples::purchase_order_cancelled());
        check(&samples::replenishment_rule());
        check(&samples::replenishment_default_rule());
        check(&samples::auto_approval_rule());
        check(&samples::purchase_order_command());
        check(&samples::purchase_order_command_rejected());
        check(&samples::purchase_order_status_changed());
        check(&samples::item());
        check(&samples::location());
        check(&samples::supplier());
        check(&samples::supplier_item());
    }

    #[test]
    fn every_catalog_schema_compiles() {
        for e in SchemaCatalog::embedded().entries() {
            DirectEncoder::compile(e.schema).unwrap_or_else(|err| panic!("{}: {err}", e.path));
        }
    }

    #[test]
    fn edge_values_match_apache_avro() {
        // Empty, single and long arrays (a count of 70 needs a two-byte varint).
        for n in [0, 1, 2, 70] {
            check(&samples::sale_completed(n));
        }
        let mut sale = samples::sale_completed(2);
        sale.loyalty_id = None;
        sale.attributes = None;
        sale.channel = SalesChannel::SHIP_FROM_STORE;
        sale.store_id = "Größe-ß-店舗-🛒".into();
        sale.receipt_id = String::new();
        sale.occurred_at = Timestamp(i64::MIN);
        sale.produced_at = Timestamp(i64::MAX);
        for l in &mut sale.lines {
            l.line_number = i32::MIN;
            l.quantity = -1;
            l.unit_price = Money(i64::MIN);
            l.discount = Money(-1);
            l.return_condition = Some(ReturnCondition::SELLABLE);
            l.reservation_id = Some("é".repeat(200));
        }
        sale.lines[1].line_number = i32::MAX;
        sale.lines[1].return_condition = None;
        sale.lines[1].reservation_id = None;
        check(&sale);

        let mut upd = samples::inventory_updated();
        for (i, v) in [
            &mut upd.sequence,
            &mut upd.on_hand,
            &mut upd.on_order,
            &mut upd.in_transit,
            &mut upd.reserved,
            &mut upd.damaged,
            &mut upd.backordered,
            &mut upd.available,
            &mut upd.available_raw,
            &mut upd.inventory_position,
        ]
        .into_iter()
        .enumerate()
        {
            *v = [
                i64::MIN,
                i64::MAX,
                -1,
                0,
                63,
                -64,
                64,
                -65,
                1 << 35,
                -(1 << 56),
            ][i];
        }
        upd.valuation_rate = Money(i64::MAX);
        upd.stock_value = Money(-123_456_789);
        upd.negative_on_hand = true;
        for rp in [None, Some(-1), Some(i64::MIN), Some(0)] {
            upd.reorder_point = rp;
            check(&upd);
        }

        let mut adj = samples::inventory_adjusted();
        adj.adjustment_type = AdjustmentType::BACKORDER_FILL;
        adj.quantity = -42;
        adj.write_off_source = None;
        adj.reservation_id = None;
        adj.order_ref = None;
        adj.unit_cost = None;
        adj.note = None;
        adj.attributes = None;
        check(&adj);

        let mut shipped = samples::transfer_shipped();
        shipped.lines.clear();
        shipped.attributes = Some("{\"ключ\":\"значение\"}".into());
        check(&shipped);

        let mut itc = samples::inventory_transaction_created();
        itc.document_ref = None;
        itc.incoming_rate = None;
        itc.transaction_type = TransactionType::WRITE_OFF;
        itc.ledger = LedgerKind::WSLE;
        itc.source_line = -7;
        itc.source_event_id = EventId::NIL;
        check(&itc);
    }

    #[test]
    fn varints_match_apache_avro_across_the_range() {
        let schema = Schema::parse_str(
            r#"{"type":"record","name":"N","fields":[
                {"name":"i","type":"int"},{"name":"l","type":"long"}]}"#,
        )
        .expect("schema");
        #[derive(Serialize)]
        struct N {
            i: i32,
            l: i64,
        }
        let direct = DirectEncoder::compile(&schema).expect("compiles");
        let mut values: Vec<i64> = vec![0, 1, -1, i64::MIN, i64::MAX];
        for shift in 0..63 {
            values.extend([
                1 << shift,
                (1 << shift) - 1,
                -(1 << shift),
                -(1 << shift) - 1,
            ]);
        }
        for l in values {
            let n = N { i: l as i32, l };
            let mut got = Vec::new();
            direct.encode(&n, &mut got).expect("encodes");
            assert_eq!(got, reference(&schema, &n), "{l}");
        }
    }

    #[test]
    fn other_schema_shapes_match_apache_avro() {
        let schema = Schema::parse_str(OTHER_SHAPES).expect("schema");
        let direct = DirectEncoder::compile(&schema).expect("compiles");
        for (round, v) in shapes::both_rounds().iter().enumerate() {
            let mut got = Vec::new();
            direct.encode(v, &mut got).expect("encodes");
            assert_eq!(got, reference(&schema, v), "round {round}");
        }
    }

    #[test]
    fn maps_and_general_unions_do_not_compile() {
        for (text, what) in [
            (r#"{"type":"map","values":"long"}"#, "maps"),
            (r#"["null","long","string"]"#, "unions other than [null, X]"),
            (r#"["long","string"]"#, "unions other than [null, X]"),
        ] {
            let schema = Schema::parse_str(text).expect("schema");
            assert_eq!(
                DirectEncoder::compile(&schema).expect_err(text),
                CompileError::Unsupported(what)
            );
        }
    }

    #[test]
    fn what_it_cannot_write_is_refused_and_out_is_left_alone() {
        let schema = Schema::parse_str(OTHER_SHAPES).expect("schema");
        let direct = DirectEncoder::compile(&schema).expect("compiles");

        #[derive(Serialize)]
        struct Swapped {
            colour: Colour,
            late_null: Option<String>,
        }
        let mut out = vec![7];
        let e = direct
            .encode(
                &Swapped {
                    colour: Colour::RED,
                    late_null: None,
                },
                &mut out,
            )
            .expect_err("out of order");
        assert_eq!(
            e,
            EncodeFault::FieldOrder {
                got: "colour",
                expected: "late_null".into()
            }
        );
        assert_eq!(out, [7]);

        #[derive(Serialize)]
        struct Skips {
            #[serde(skip_serializing_if = "Option::is_none")]
            late_null: Option<String>,
        }
        let e = direct
            .encode(&Skips { late_null: None }, &mut out)
            .expect_err("skipped");
        assert_eq!(e, EncodeFault::SkippedField("late_null"));

        #[derive(Serialize)]
        struct Short {
            late_null: Option<String>,
        }
        let e = direct
            .encode(&Short { late_null: None }, &mut out)
            .expect_err("short");
        assert_eq!(
            e,
            EncodeFault::MissingFields {
                got: 1,
                expected: 10
            }
        );

        let long = DirectEncoder::compile(&Schema::Long).expect("long");
        assert!(matches!(
            long.encode(&1i32, &mut out),
            Err(EncodeFault::Mismatch { .. })
        ));
        assert!(matches!(
            long.encode(&1u64, &mut out),
            Err(EncodeFault::Mismatch { .. })
        ));
        let array = DirectEncoder::compile(
            &Schema::parse_str(r#"{"type":"array","items":"long"}"#).expect("array"),
        )
        .expect("array");
        let unsized_seq = serde_json::json!([1, 2]);
        assert!(array.encode(&unsized_seq, &mut out).is_err());
        assert_eq!(out, [7]);
    }

    /// InventoryLowStock with its fields in another order than the schema's.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct LowStockReordered {
        item_id: String,
        location_id: String,
        event_id: EventId,
        tenant_id: String,
        occurred_at: Timestamp,
        produced_at: Timestamp,
        source: String,
        available: i64,
        inventory_position: i64,
        threshold: i64,
        threshold_kind: ThresholdKind,
        source_event_id: EventId,
    }

    impl Event for LowStockReordered {
        const FULL_NAME: &'static str = InventoryLowStock::FULL_NAME;
        fn event_id(&self) -> EventId {
            self.event_id
        }
        fn tenant_id(&self) -> &str {
            &self.tenant_id
        }
        fn occurred_at(&self) -> Timestamp {
            self.occurred_at
        }
        fn key_parts(&self) -> KeyParts<'_> {
            KeyParts {
                tenant: &self.tenant_id,
                location: Some(&self.location_id),
                ..Default::default()
            }
        }
    }

    #[test]
    fn the_codec_falls_back_to_apache_avro_for_fields_out_of_order() {
        let s = samples::inventory_low_stock();
        let r = LowStockReordered {
            item_id: s.item_id.clone(),
            location_id: s.location_id.clone(),
            event_id: s.event_id,
            tenant_id: s.tenant_id.clone(),
            occurred_at: s.occurred_at,
            produced_at: s.produced_at,
            source: s.source.clone(),
            available: s.available,
            inventory_position: s.inventory_position,
            threshold: s.threshold,
            threshold_kind: s.threshold_kind,
            source_event_id: s.source_event_id,
        };
        let schema = SchemaCatalog::embedded()
            .latest(InventoryLowStock::FULL_NAME)
            .expect("schema")
            .schema;
        assert!(matches!(
            DirectEncoder::compile(schema)
                .expect("compiles")
                .encode(&r, &mut Vec::new()),
            Err(EncodeFault::FieldOrder { .. })
        ));
        let codec = Codec::embedded();
        let mut out = b"prefix".to_vec();
        codec.encode_into(&r, &mut out).expect("falls back");
        assert_eq!(out[..6], *b"prefix");
        assert_eq!(out[6..], codec.encode(&s).expect("direct")[..]);
        // apache-avro's deserializer wants the struct named as the record: decode as the real type.
        assert_eq!(
            codec
                .decode::<InventoryLowStock>(&out[6..])
                .expect("decodes"),
            s
        );
    }
}
