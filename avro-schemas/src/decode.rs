//! A schema-driven Avro binary decoder: a `serde::Deserializer` that walks a writer schema
//! compiled once ([`DirectDecoder`]) over a byte slice.
//!
//! apache-avro's `GenericDatumReader::read_deser` hands a derived struct its fields as a map, so
//! the struct matches every field name against its own, reads through `io::Read` one byte at a
//! time for varints, and copies every string and byte string into a fresh `Vec`. This decoder
//! reads from the slice, lends strings and bytes to the visitor, and hands a struct its fields
//! as a sequence when serde's field list is exactly the record's fields in schema order (checked
//! once per struct type, see [`crate::program::Record::fields_in_order`]); otherwise as a map,
//! like apache-avro.
//!
//! For what it accepts it yields the value `read_deser` yields (without a reader schema, not
//! human-readable, as [`crate::Codec`] builds it): the same serde calls are accepted for the
//! same schema nodes, unions `["null", X]` are read the same way, and varints, lengths, booleans
//! and enum indices are checked the same way. The one difference is that strings and bytes are
//! lent (`visit_borrowed_str`, `visit_borrowed_bytes`) rather than given (`visit_string`,
//! `visit_byte_buf`); serde's own types and Composerp's treat both alike.
//!
//! Anything it does not handle (`u64`, `i128`, `char`, tuples, Rust enums over general unions,
//! a visitor that only takes maps…) is refused with a [`DecodeFault`], as is malformed input,
//! so the caller can let apache-avro decode the record (or explain why it cannot).

use apache_avro::Schema;
use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor, value::StrDeserializer,
};

use crate::program::{CompileError, Expected, Field, Node, Program, Record};

/// Why a record was not decoded directly; apache-avro may still decode it (or explain why not).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeFault {
    /// The bytes end inside a value.
    #[error("the record ends inside a value")]
    Eof,
    /// A varint runs over ten bytes.
    #[error("a varint runs over ten bytes")]
    VarintOverflow,
    /// A value does not fit the integer type read or asked for.
    #[error("{value} does not fit {ty}")]
    OutOfRange {
        /// The value read.
        value: i64,
        /// The type it was read as.
        ty: &'static str,
    },
    /// A string is not UTF-8.
    #[error("a string is not UTF-8")]
    Utf8,
    /// A boolean byte is neither 0 nor 1.
    #[error("{0} is not a boolean")]
    Boolean(u8),
    /// A union branch index outside the union.
    #[error("union branch {0} of a two-branch union")]
    Branch(i64),
    /// An enum index outside the symbols.
    #[error("enum symbol index {index} of {symbols} symbols")]
    Symbol {
        /// Index read.
        index: i64,
        /// Number of symbols.
        symbols: usize,
    },
    /// What serde asks for does not fit the schema at this point.
    #[error("a serde {wanted} does not fit Avro {schema}")]
    Mismatch {
        /// What serde asked for.
        wanted: &'static str,
        /// What the schema has.
        schema: &'static str,
    },
    /// The visitor or a value's `Deserialize` implementation failed.
    #[error("{0}")]
    Custom(String),
}

impl de::Error for DecodeFault {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        DecodeFault::Custom(msg.to_string())
    }
}

/// A writer schema compiled for direct decoding; build once per schema, share freely.
#[derive(Debug)]
pub struct DirectDecoder {
    program: Program,
}

impl DirectDecoder {
    /// Compiles `schema`, resolving named references; fails on constructs it does not read.
    pub fn compile(schema: &Schema) -> Result<Self, CompileError> {
        Program::compile(schema).map(|program| Self { program })
    }

    /// Decodes one value from the front of `input` and advances `input` past it; on error
    /// `input` is left wherever reading stopped.
    pub fn decode<'de, T: Deserialize<'de>>(
        &self,
        input: &mut &'de [u8],
    ) -> Result<T, DecodeFault> {
        let nodes = &self.program.nodes[..];
        T::deserialize(Dec {
            nodes,
            node: &nodes[self.program.root],
            input,
        })
    }
}

/// The node of the null branch of a union.
static NULL: Node = Node::Null;

/// Reads an Avro varint (without zigzag) as apache-avro does: at most ten bytes, bits past the
/// 64th dropped.
#[inline]
fn varint(input: &mut &[u8]) -> Result<u64, DecodeFault> {
    if let Some((&b, rest)) = input.split_first()
        && b < 0x80
    {
        // Lengths, counts, indices and small quantities: one byte.
        *input = rest;
        return Ok(u64::from(b));
    }
    let mut value = 0u64;
    for j in 0..10 {
        let (&b, rest) = input.split_first().ok_or(DecodeFault::Eof)?;
        *input = rest;
        value |= u64::from(b & 0x7f) << (j * 7);
        if b < 0x80 {
            return Ok(value);
        }
    }
    Err(DecodeFault::VarintOverflow)
}

/// Reads a zigzag-encoded `long`.
#[inline]
fn long(input: &mut &[u8]) -> Result<i64, DecodeFault> {
    let z = varint(input)?;
    Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
}

/// Reads a zigzag-encoded `int`.
#[inline]
fn int(input: &mut &[u8]) -> Result<i32, DecodeFault> {
    let v = long(input)?;
    i32::try_from(v).map_err(|_| DecodeFault::OutOfRange {
        value: v,
        ty: "int",
    })
}

/// Takes `n` bytes off the front of `input`.
#[inline]
fn take<'de>(input: &mut &'de [u8], n: usize) -> Result<&'de [u8], DecodeFault> {
    if input.len() < n {
        return Err(DecodeFault::Eof);
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

/// Takes a length-prefixed byte string off the front of `input`.
#[inline]
fn bytes<'de>(input: &mut &'de [u8]) -> Result<&'de [u8], DecodeFault> {
    let len = long(input)?;
    let len = usize::try_from(len).map_err(|_| DecodeFault::OutOfRange {
        value: len,
        ty: "length",
    })?;
    take(input, len)
}

/// Reads an array or map block header: the number of items in the block, 0 at the end.
#[inline]
fn block(input: &mut &[u8]) -> Result<u64, DecodeFault> {
    let count = long(input)?;
    if count < 0 {
        // A negative count is followed by the block's size in bytes, which is not needed.
        long(input)?;
    }
    Ok(count.unsigned_abs())
}

/// The deserializer for one value at one schema node.
struct Dec<'p, 'a, 'de> {
    nodes: &'p [Node],
    node: &'p Node,
    input: &'a mut &'de [u8],
}

impl<'p, 'a, 'de> Dec<'p, 'a, 'de> {
    fn at(&mut self, node: usize) -> Dec<'p, '_, 'de> {
        Dec {
            nodes: self.nodes,
            node: &self.nodes[node],
            input: self.input,
        }
    }

    fn mismatch(&self, wanted: &'static str) -> DecodeFault {
        DecodeFault::Mismatch {
            wanted,
            schema: self.node.kind(),
        }
    }

    /// At a `["null", X]` union, reads the branch and moves to its node, as apache-avro does
    /// for every request but `Option` and enums; elsewhere stays.
    #[inline]
    fn branch(mut self) -> Result<Self, DecodeFault> {
        if let Node::Optional { null_index, some } = *self.node {
            self.node = match long(self.input)? {
                i if i == i64::from(null_index) => &NULL,
                i if i == i64::from(1 - null_index) => &self.nodes[some],
                i => return Err(DecodeFault::Branch(i)),
            };
        }
        Ok(self)
    }

    fn small_int<T: TryFrom<i32>>(self, ty: &'static str) -> Result<T, DecodeFault> {
        let me = self.branch()?;
        match me.node {
            Node::Int => {
                let v = int(me.input)?;
                T::try_from(v).map_err(|_| DecodeFault::OutOfRange {
                    value: i64::from(v),
                    ty,
                })
            }
            _ => Err(me.mismatch(ty)),
        }
    }

    fn record(&self, name: &'static str) -> Option<&'p Record> {
        match self.node {
            Node::Record(Some(r)) if r.name.matches(name) => Some(r),
            _ => None,
        }
    }
}

impl<'de> Deserializer<'de> for Dec<'_, '_, 'de> {
    type Error = DecodeFault;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeFault> {
        let me = self.branch()?;
        match me.node {
            Node::Null => visitor.visit_unit(),
            Node::Boolean => me.deserialize_bool(visitor),
            Node::Int => visitor.visit_i32(int(me.input)?),
            Node::Long => visitor.visit_i64(long(me.input)?),
            Node::Float => me.deserialize_f32(visitor),
            Node::Double => me.deserialize_f64(visitor),
            Node::Str => me.deserialize_str(visitor),
            Node::Bytes | Node::Fixed(_) => me.deserialize_bytes(visitor),
            Node::Record(Some(r)) => visitor.visit_map(RecordMap::new(me.nodes, r, me.input)),
            Node::Enum(symbols) => visitor.visit_enum(EnumDec {
                symbols,
                input: me.input,
            }),
            Node::Array(_) => me.deserialize_seq(visitor),
            Node::Record(None) | Node::Optional { .. } => Err(me.mismatch("any")),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeFault> {
        let me = self.branch()?;
        match me.node {
            Node::Boolean => match take(me.input, 1)?[0] {
                0 => visitor.visit_bool(false),
                1 => visitor.visit_bool(true),
                b => Err(DecodeFault::Boolean(b)),
            },
            _ => Err(me.mismatch("bool")),
        }
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeFault> {
        visitor.visit_i8(self.small_int("i8")?)
    }

    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeFault> {
        visitor.visit_i16(self.small_int("i16")?)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeFault> {
        visitor.visit_i32(self.small_int("i32")?)
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeFault> {
        visitor.visit_u8(self.small_int("u8")?)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeFault> {
        visitor.visit_u16(self.small_int("u16")?)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeFault> {
        let me = self.branch()?;
        match me.node {
            Node::Long => visitor.visit_i64(long(me.input)?),
            _ => Err(me.mismatch("i64")),
        }
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeFault> {
        let me = self.branch()?;
        match me.node {
            Node::Long => {
                let v = long(me.input)?;
                let v = u32::try_from(v).map_err(|_| DecodeFault::OutOfRange {
                    value: v,
                    ty: "u32",
                })?;
                visitor.visit_u32(v)
            }
            _ => Err(me.mismatch("u32")),
        }
    }

    fn deserialize_u64<V: Visitor<'de>>(self, _: V) -> Result<V::Value, DecodeFault> {
        Err(self.mismatch("u64"))
    }

    fn deserialize_i128<V: Visitor<'de>>(self, _: V) -> Result<V::Value, DecodeFault> {
        Err(self.mismatch("i128"))
    }

    fn deserialize_u128<V: Visitor<'de>>(self, _: V) -> Result<V::Value, DecodeFault> {
        Err(self.mismatch("u128"))
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeFault> {
        let me = self.branch()?;
        match me.node {
            Node::Float => {
                let b = take(me.input, 4)?;
                visitor.visit_f32(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            _ => Err(me.mismatch("f32")),
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeFault> {
        let me = self.branch()?;
        match me.node {
            Node::Double => {
                let b: [u8; 8] = take(me.input, 8)?.try_into().expect("eight bytes");
                visitor.visit_f64(f64::from_le_bytes(b))
            }
            _ => Err(me.mismatch("f64")),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, _: V) -> Result<V::Value, DecodeFault> {
        Err(self.mismatch("char"))
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeFault> {
        let me = self.branch()?;
        match me.node {
            Node::Str => {
                let s = std::str::from_utf8(bytes(me.input)?).map_err(|_| DecodeFault::Utf8)?;
                visitor.visit_borrowed_str(s)
            }
            _ => Err(me.mismatch("string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeFault> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeFault> {
        let me = self.branch()?;
        match *me.node {
            Node::Bytes => visitor.visit_borrowed_bytes(bytes(me.input)?),
            Node::Fixed(size) => visitor.visit_borrowed_bytes(take(me.input, size)?),
            _ => Err(me.mismatch("bytes")),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeFault> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, DecodeFault> {
        let Node::Optional { null_index, some } = *self.node else {
            return Err(self.mismatch("option"));
        };
        match long(self.input)? {
            i if i == i64::from(null_index) => visitor.visit_none(),
            i if i == i64::from(1 - null_index) => visitor.visit_some(self.at(some)),
            i => Err(DecodeFault::Branch(i)),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeFault> {
        let me = self.branch()?;
        match me.node {
            Node::Null => visitor.visit_unit(),
            _ => Err(me.mismatch("unit")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeFault> {
        let me = self.branch()?;
        match me.record(name) {
            Some(r) if r.fields.is_empty() => visitor.visit_unit(),
            _ => Err(me.mismatch("unit struct")),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeFault> {
        let mut me = self.branch()?;
        match me.record(name) {
            Some(r) if r.fields.len() == 1 => visitor.visit_newtype_struct(me.at(r.fields[0].node)),
            _ => Err(me.mismatch("newtype struct")),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeFault> {
        let me = self.branch()?;
        match *me.node {
            Node::Array(item) => {
                let remaining = block(me.input)?;
                visitor.visit_seq(ArraySeq {
                    nodes: me.nodes,
                    item: &me.nodes[item],
                    input: me.input,
                    remaining,
                })
            }
            _ => Err(me.mismatch("seq")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, DecodeFault> {
        Err(self.mismatch("tuple"))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        _: V,
    ) -> Result<V::Value, DecodeFault> {
        Err(self.mismatch("tuple struct"))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeFault> {
        let me = self.branch()?;
        match me.node {
            Node::Record(Some(r)) => visitor.visit_map(RecordMap::new(me.nodes, r, me.input)),
            _ => Err(me.mismatch("map")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeFault> {
        let me = self.branch()?;
        let Some(r) = me.record(name) else {
            return Err(me.mismatch("struct"));
        };
        if r.fields_in_order(fields) {
            visitor.visit_seq(RecordSeq {
                nodes: me.nodes,
                fields: &r.fields,
                input: me.input,
            })
        } else {
            visitor.visit_map(RecordMap::new(me.nodes, r, me.input))
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeFault> {
        match self.node {
            Node::Enum(symbols) => visitor.visit_enum(EnumDec {
                symbols,
                input: self.input,
            }),
            _ => Err(self.mismatch("enum")),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeFault> {
        match self.node {
            Node::Str => self.deserialize_str(visitor),
            _ => Err(self.mismatch("identifier")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeFault> {
        self.deserialize_any(visitor)
    }
}

/// A record's fields as a sequence, in schema order.
struct RecordSeq<'p, 'a, 'de> {
    nodes: &'p [Node],
    fields: &'p [Field],
    input: &'a mut &'de [u8],
}

impl<'de> SeqAccess<'de> for RecordSeq<'_, '_, 'de> {
    type Error = DecodeFault;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DecodeFault> {
        let Some((field, rest)) = self.fields.split_first() else {
            return Ok(None);
        };
        self.fields = rest;
        seed.deserialize(Dec {
            nodes: self.nodes,
            node: &self.nodes[field.node],
            input: self.input,
        })
        .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.fields.len())
    }
}

/// A record's fields as a map from field name to value, in schema order.
struct RecordMap<'p, 'a, 'de> {
    nodes: &'p [Node],
    fields: &'p [Field],
    input: &'a mut &'de [u8],
    next: usize,
}

impl<'p, 'a, 'de> RecordMap<'p, 'a, 'de> {
    fn new(nodes: &'p [Node], record: &'p Record, input: &'a mut &'de [u8]) -> Self {
        Self {
            nodes,
            fields: &record.fields,
            input,
            next: 0,
        }
    }
}

impl<'de> MapAccess<'de> for RecordMap<'_, '_, 'de> {
    type Error = DecodeFault;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DecodeFault> {
        match self.fields.get(self.next) {
            Some(f) => seed.deserialize(identifier(&f.name)).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DecodeFault> {
        let f = self.fields.get(self.next).ok_or(DecodeFault::Mismatch {
            wanted: "value",
            schema: "the end of a record",
        })?;
        self.next += 1;
        seed.deserialize(Dec {
            nodes: self.nodes,
            node: &self.nodes[f.node],
            input: self.input,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.fields.len() - self.next)
    }
}

/// A field name or enum symbol, offered as a string.
fn identifier(name: &Expected) -> StrDeserializer<'_, DecodeFault> {
    StrDeserializer::new(&name.name)
}

/// The items of an array, block by block.
struct ArraySeq<'p, 'a, 'de> {
    nodes: &'p [Node],
    item: &'p Node,
    input: &'a mut &'de [u8],
    /// Items left in the current block; 0 after the last block.
    remaining: u64,
}

impl<'de> SeqAccess<'de> for ArraySeq<'_, '_, 'de> {
    type Error = DecodeFault;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DecodeFault> {
        if self.remaining == 0 {
            return Ok(None);
        }
        let value = seed.deserialize(Dec {
            nodes: self.nodes,
            node: self.item,
            input: self.input,
        })?;
        self.remaining -= 1;
        if self.remaining == 0 {
            self.remaining = block(self.input)?;
        }
        Ok(Some(value))
    }

    fn size_hint(&self) -> Option<usize> {
        // Capped by the bytes left, so a corrupt count cannot reserve much memory.
        Some(usize::try_from(self.remaining).map_or(self.input.len(), |n| n.min(self.input.len())))
    }
}

/// An enum value: the symbol at the index read, as a unit variant.
struct EnumDec<'p, 'a, 'de> {
    symbols: &'p [Expected],
    input: &'a mut &'de [u8],
}

impl<'de, 'p> EnumAccess<'de> for EnumDec<'p, '_, 'de> {
    type Error = DecodeFault;
    type Variant = UnitOnly;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, UnitOnly), DecodeFault> {
        let index = long(self.input)?;
        let symbol = usize::try_from(index)
            .ok()
            .and_then(|i| self.symbols.get(i))
            .ok_or(DecodeFault::Symbol {
                index,
                symbols: self.symbols.len(),
            })?;
        Ok((seed.deserialize(identifier(symbol))?, UnitOnly))
    }
}

/// The variant of an Avro enum value, which never carries data.
struct UnitOnly;

impl<'de> VariantAccess<'de> for UnitOnly {
    type Error = DecodeFault;

    fn unit_variant(self) -> Result<(), DecodeFault> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _: T) -> Result<T::Value, DecodeFault> {
        Err(de::Error::invalid_type(
            de::Unexpected::UnitVariant,
            &"newtype variant",
        ))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, DecodeFault> {
        Err(de::Error::invalid_type(
            de::Unexpected::UnitVariant,
            &"tuple variant",
        ))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, DecodeFault> {
        Err(de::Error::invalid_type(
            de::Unexpected::UnitVariant,
            &"struct variant",
        ))
    }
}

#[cfg(test)]
mod tests {
    use apache_avro::reader::datum::GenericDatumReader;
    use serde::{Deserialize, Serialize, de::DeserializeOwned};

    use super::*;
    use crate::{
        Codec, Event, EventId, KeyParts, SchemaCatalog, Timestamp,
        inventory::*,
        program::shapes::{self, Colour, OTHER_SHAPES, Shapes},
        samples, wire,
    };

    /// What apache-avro's `read_deser` makes of `bytes`, and the bytes it leaves.
    fn apache<T: DeserializeOwned>(
        schema: &Schema,
        bytes: &[u8],
    ) -> Result<(T, usize), apache_avro::Error> {
        let mut rest = bytes;
        let v = GenericDatumReader::builder(schema)
            .build()
            .expect("reader")
            .read_deser(&mut rest)?;
        Ok((v, rest.len()))
    }

    /// Whenever the direct decoder reads `bytes`, apache-avro reads the same value and leaves
    /// the same bytes; returns whether the direct decoder read them.
    fn agrees<T: DeserializeOwned + PartialEq + std::fmt::Debug>(
        direct: &DirectDecoder,
        schema: &Schema,
        bytes: &[u8],
    ) -> bool {
        let mut rest = bytes;
        let Ok(value) = direct.decode::<T>(&mut rest) else {
            return false;
        };
        match apache::<T>(schema, bytes) {
            Ok((reference, left)) => {
                assert_eq!(value, reference, "value of {bytes:?}");
                assert_eq!(rest.len(), left, "bytes left of {bytes:?}");
            }
            Err(e) => {
                panic!("direct decoder read {value:?} where apache-avro fails ({e}): {bytes:?}")
            }
        }
        true
    }

    fn body<T: Event>(value: &T) -> Vec<u8> {
        Codec::embedded().encode(value).expect("encodes")[wire::HEADER_LEN..].to_vec()
    }

    fn latest(full_name: &str) -> &'static Schema {
        SchemaCatalog::embedded()
            .latest(full_name)
            .expect("schema")
            .schema
    }

    /// Flips bits at every byte of `value`'s body and cuts it at every length: the direct
    /// decoder never panics, and whatever it reads apache-avro reads alike.
    fn mutations_agree<T: Event + PartialEq + std::fmt::Debug>(value: &T) {
        let schema = latest(T::FULL_NAME);
        let direct = DirectDecoder::compile(schema).expect("compiles");
        let good = body(value);
        assert!(
            agrees::<T>(&direct, schema, &good),
            "{} decodes",
            T::FULL_NAME
        );
        let mut read = 0;
        for at in 0..good.len() {
            for mask in [0x01, 0x02, 0x40, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[at] ^= mask;
                read += usize::from(agrees::<T>(&direct, schema, &bad));
            }
            assert!(
                !agrees::<T>(&direct, schema, &good[..at]),
                "{} cut at {at}",
                T::FULL_NAME
            );
        }
        // Most flips land in strings, numbers and ids, which still read.
        assert!(read > 0, "{}: no mutation read", T::FULL_NAME);
    }

    #[test]
    fn mutated_inputs_decode_as_apache_avro_decodes_them_or_not_at_all() {
        mutations_agree(&samples::sale_completed(3));
        mutations_agree(&samples::purchase_order_received());
        mutations_agree(&samples::inventory_adjusted());
        mutations_agree(&samples::transfer_shipped());
        mutations_agree(&samples::transfer_received());
        mutations_agree(&samples::item());
        mutations_agree(&samples::location());
        mutations_agree(&samples::purchase_order_created());
    }

    #[test]
    fn varints_decode_as_apache_avro_decodes_them() {
        let schema = Schema::parse_str(
            r#"{"type":"record","name":"N","fields":[
                {"name":"i","type":"int"},{"name":"l","type":"long"}]}"#,
        )
        .expect("schema");
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct N {
            i: i32,
            l: i64,
        }
        let direct = DirectDecoder::compile(&schema).expect("compiles");
        let writer = apache_avro::writer::datum::GenericDatumWriter::builder(&schema)
            .build()
            .expect("writer");
        for shift in 0..63 {
            for l in [
                1i64 << shift,
                (1 << shift) - 1,
                -(1 << shift),
                -(1 << shift) - 1,
            ] {
                let n = N { i: l as i32, l };
                let bytes = writer.write_ser_to_vec(&n).expect("encodes");
                assert!(agrees::<N>(&direct, &schema, &bytes), "{l}");
            }
        }
        // Ten bytes whose last carries bits past the 64th: both drop them.
        let mut ten = vec![0];
        ten.extend([0xff; 9]);
        ten.push(0x7f);
        assert!(agrees::<N>(&direct, &schema, &ten));
        // Eleven bytes: both refuse. An int over i32: both refuse.
        let mut eleven = vec![0];
        eleven.extend([0x80; 10]);
        eleven.push(0);
        assert_eq!(
            direct.decode::<N>(&mut &eleven[..]),
            Err(DecodeFault::VarintOverflow)
        );
        assert!(apache::<N>(&schema, &eleven).is_err());
        let wide = [0x80, 0x80, 0x80, 0x80, 0x10, 0];
        assert!(matches!(
            direct.decode::<N>(&mut &wide[..]),
            Err(DecodeFault::OutOfRange { ty: "int", .. })
        ));
        assert!(apache::<N>(&schema, &wide).is_err());
    }

    #[test]
    fn other_schema_shapes_decode_as_apache_avro_decodes_them() {
        let schema = Schema::parse_str(OTHER_SHAPES).expect("schema");
        let direct = DirectDecoder::compile(&schema).expect("compiles");
        let writer = apache_avro::writer::datum::GenericDatumWriter::builder(&schema)
            .build()
            .expect("writer");
        for v in shapes::both_rounds() {
            let bytes = writer.write_ser_to_vec(&v).expect("encodes");
            let mut rest = &bytes[..];
            assert_eq!(direct.decode::<Shapes>(&mut rest), Ok(v.clone()));
            assert!(rest.is_empty());
            assert!(agrees::<Shapes>(&direct, &schema, &bytes));
        }
        // Arrays written in blocks with byte sizes (negative counts), as other writers may.
        let mut blocked = Vec::new();
        let v = &shapes::both_rounds()[1];
        let body = writer.write_ser_to_vec(v).expect("encodes");
        // late_null (branch 1 = null), late_null_enum (null), colour RED, inner: f and fx.
        let head = 1 + 1 + 1 + 4 + 4;
        blocked.extend_from_slice(&body[..head]);
        let inner = &body[head - 8..head];
        blocked.extend([3, 32]); // a block of -2 items, 16 bytes
        blocked.extend_from_slice(inner);
        blocked.extend_from_slice(inner);
        blocked.extend([2]); // a block of 1 item
        blocked.extend_from_slice(inner);
        blocked.push(0);
        blocked.extend_from_slice(&body[head + 1..]);
        let mut rest = &blocked[..];
        let got = direct.decode::<Shapes>(&mut rest).expect("decodes blocks");
        assert_eq!(got.inners, vec![v.inner.clone(); 3]);
        assert!(rest.is_empty());
        assert!(agrees::<Shapes>(&direct, &schema, &blocked));
    }

    #[test]
    fn structs_in_another_field_order_are_read_as_maps() {
        let schema = Schema::parse_str(OTHER_SHAPES).expect("schema");
        let direct = DirectDecoder::compile(&schema).expect("compiles");
        #[derive(Debug, PartialEq, Deserialize)]
        struct Inner {
            #[serde(deserialize_with = "shapes::fixed4::deserialize")]
            fx: [u8; 4],
            f: f32,
        }
        #[derive(Debug, PartialEq, Deserialize)]
        #[serde(rename = "Shapes")]
        struct Reordered {
            small: u16,
            colour: Colour,
            inner: Inner,
            #[serde(flatten)]
            rest: std::collections::BTreeMap<String, serde_json::Value>,
        }
        // The round without records in arrays and options, which `flatten` reads as JSON values.
        let v = &shapes::both_rounds()[1];
        let bytes = apache_avro::writer::datum::GenericDatumWriter::builder(&schema)
            .build()
            .expect("writer")
            .write_ser_to_vec(v)
            .expect("encodes");
        let mut rest = &bytes[..];
        let got: Reordered = direct.decode(&mut rest).expect("decodes as a map");
        assert_eq!(
            (got.small, got.colour, got.inner.f, got.inner.fx),
            (v.small, v.colour, v.inner.f, v.inner.fx)
        );
        assert_eq!(got.rest["big"], serde_json::json!(1i64 << 50));
        assert!(rest.is_empty());
    }

    #[test]
    fn what_it_does_not_read_is_refused() {
        let schema = Schema::parse_str(OTHER_SHAPES).expect("schema");
        let direct = DirectDecoder::compile(&schema).expect("compiles");
        let bytes = apache_avro::writer::datum::GenericDatumWriter::builder(&schema)
            .build()
            .expect("writer")
            .write_ser_to_vec(&shapes::both_rounds()[0])
            .expect("encodes");
        // Another struct name than the record's, as apache-avro refuses it too.
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Other {
            late_null: Option<String>,
        }
        assert!(matches!(
            direct.decode::<Other>(&mut &bytes[..]),
            Err(DecodeFault::Mismatch {
                wanted: "struct",
                ..
            })
        ));
        let long = DirectDecoder::compile(&Schema::Long).expect("long");
        for wanted in ["u64", "i32"] {
            let r = match wanted {
                "u64" => long.decode::<u64>(&mut &[2u8][..]).map(|_| ()),
                _ => long.decode::<i32>(&mut &[2u8][..]).map(|_| ()),
            };
            assert!(matches!(r, Err(DecodeFault::Mismatch { .. })), "{wanted}");
        }
        assert_eq!(long.decode::<i64>(&mut &[3u8][..]), Ok(-2));
        let s = DirectDecoder::compile(&Schema::String).expect("string");
        assert_eq!(
            s.decode::<String>(&mut &[4u8, 0xff, 0xfe][..]),
            Err(DecodeFault::Utf8)
        );
        assert_eq!(
            s.decode::<String>(&mut &[6u8, b'a'][..]),
            Err(DecodeFault::Eof)
        );
        let b = DirectDecoder::compile(&Schema::Boolean).expect("boolean");
        assert_eq!(
            b.decode::<bool>(&mut &[2u8][..]),
            Err(DecodeFault::Boolean(2))
        );
    }

    #[test]
    fn records_apache_avro_maps_to_rust_tuples_do_not_compile() {
        let schema = Schema::parse_str(
            r#"{"type":"record","name":"T","org.apache.avro.rust.tuple":true,
                "fields":[{"name":"field_0","type":"long"}]}"#,
        )
        .expect("schema");
        assert!(matches!(
            DirectDecoder::compile(&schema),
            Err(CompileError::Unsupported(_))
        ));
    }

    /// InventoryLowStock with its tenant as a one-tuple, which apache-avro reads and the
    /// direct decoder refuses.
    mod one_tuple {
        use super::*;

        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub(super) struct InventoryLowStock {
            pub event_id: EventId,
            pub tenant_id: (String,),
            pub occurred_at: Timestamp,
            pub produced_at: Timestamp,
            pub source: String,
            pub location_id: String,
            pub item_id: String,
            pub available: i64,
            pub inventory_position: i64,
            pub threshold: i64,
            pub threshold_kind: ThresholdKind,
            pub source_event_id: EventId,
        }

        impl Event for InventoryLowStock {
            const FULL_NAME: &'static str = crate::inventory::InventoryLowStock::FULL_NAME;
            fn event_id(&self) -> EventId {
                self.event_id
            }
            fn tenant_id(&self) -> &str {
                &self.tenant_id.0
            }
            fn occurred_at(&self) -> Timestamp {
                self.occurred_at
            }
            fn key_parts(&self) -> KeyParts<'_> {
                KeyParts {
                    tenant: &self.tenant_id.0,
                    ..Default::default()
                }
            }
        }
    }

    #[test]
    fn the_codec_falls_back_to_apache_avro_when_the_direct_decoder_declines() {
        let s = samples::inventory_low_stock();
        let codec = Codec::embedded();
        let framed = codec.encode(&s).expect("encodes");
        let schema = latest(InventoryLowStock::FULL_NAME);
        let direct = DirectDecoder::compile(schema).expect("compiles");
        assert!(matches!(
            direct.decode::<one_tuple::InventoryLowStock>(&mut &framed[wire::HEADER_LEN..]),
            Err(DecodeFault::Mismatch {
                wanted: "tuple",
                ..
            })
        ));
        let got: one_tuple::InventoryLowStock = codec.decode(&framed).expect("falls back");
        assert_eq!(got.tenant_id.0, s.tenant_id);
        assert_eq!(got.source_event_id, s.source_event_id);
        // Garbage still fails with apache-avro's error, after the direct decoder declines.
        let mut bad = framed.clone();
        bad.truncate(wire::HEADER_LEN + 3);
        assert!(matches!(
            codec.decode::<InventoryLowStock>(&bad),
            Err(crate::DecodeError::Avro { .. })
        ));
    }
}
