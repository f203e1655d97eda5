//! A schema compiled once into a flat tree of nodes, walked by the direct encoder
//! ([`crate::encode`]) and the direct decoder ([`crate::decode`]).
//!
//! Named references are resolved at compile time, so neither walker looks a name up per record,
//! and the constructs neither supports (maps, unions other than `["null", X]`, apache-avro's
//! Rust-specific record attributes) are refused here, once.

use std::{
    collections::HashMap,
    sync::atomic::{AtomicUsize, Ordering},
};

use apache_avro::{
    Schema,
    schema::{InnerDecimalSchema, Name, UuidSchema},
};

/// Why a schema cannot be compiled for direct encoding or decoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// The schema uses a construct the direct encoder and decoder do not handle.
    #[error("direct Avro encoding does not support {0}")]
    Unsupported(&'static str),
    /// A named reference does not resolve to a type defined earlier in the schema.
    #[error("schema reference {0} is not defined before its use")]
    UnknownReference(String),
}

/// The address of the last `'static` string or slice found equal to an expected value.
///
/// serde's derived code passes the same static names every time, so later checks are a pointer
/// comparison, not a `memcmp`. The caller compares lengths first: equal address and length mean
/// equal contents, as `'static` data never changes.
#[derive(Debug, Default)]
struct SeenAt(AtomicUsize);

impl SeenAt {
    /// Whether the value at `at` is the expected one: remembered, or else `equal()`.
    #[inline]
    fn check(&self, at: usize, equal: impl FnOnce() -> bool) -> bool {
        if self.0.load(Ordering::Relaxed) == at {
            return true;
        }
        let equal = equal();
        if equal {
            self.0.store(at, Ordering::Relaxed);
        }
        equal
    }
}

/// A schema name (field or enum symbol) that serde's `&'static str` names are checked against.
#[derive(Debug)]
pub(crate) struct Expected {
    pub(crate) name: Box<str>,
    seen: SeenAt,
}

impl Expected {
    pub(crate) fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            seen: SeenAt::default(),
        }
    }

    /// Whether `key` is this name.
    #[inline]
    pub(crate) fn matches(&self, key: &'static str) -> bool {
        key.len() == self.name.len()
            && self
                .seen
                .check(key.as_ptr() as usize, || *self.name == *key)
    }
}

/// One field of a compiled record.
#[derive(Debug)]
pub(crate) struct Field {
    pub(crate) name: Expected,
    pub(crate) node: usize,
}

/// A compiled record: its short name, its fields in schema order, and the serde field lists
/// seen to equal them.
#[derive(Debug)]
pub(crate) struct Record {
    /// The record's name without namespace (what serde's derive passes as the struct name).
    pub(crate) name: Expected,
    pub(crate) fields: Box<[Field]>,
    /// The last serde field list found to name exactly these fields in this order, so a struct
    /// can be decoded as a sequence (see [`Record::fields_in_order`]).
    in_order: SeenAt,
}

impl Record {
    /// Whether serde's `fields` (a derived struct's field names, in declaration order) are
    /// exactly this record's fields in schema order.
    #[inline]
    pub(crate) fn fields_in_order(&self, fields: &'static [&'static str]) -> bool {
        fields.len() == self.fields.len()
            && self.in_order.check(fields.as_ptr() as usize, || {
                fields
                    .iter()
                    .zip(self.fields.iter())
                    .all(|(a, b)| *a == &*b.name.name)
            })
    }
}

/// One compiled schema node; children are indices into [`Program::nodes`].
#[derive(Debug)]
pub(crate) enum Node {
    /// `null`.
    Null,
    /// `boolean`.
    Boolean,
    /// `int`, `date`, `time-millis`.
    Int,
    /// `long` and the time and timestamp types based on it (except `time-millis`).
    Long,
    /// `float`.
    Float,
    /// `double`.
    Double,
    /// `string`, `uuid` on string.
    Str,
    /// `bytes`, `decimal` on bytes, `big-decimal`, `uuid` on bytes.
    Bytes,
    /// `fixed` and the logical types on it.
    Fixed(usize),
    /// A record; `None` while its fields are being compiled.
    Record(Option<Record>),
    /// An enum's symbols.
    Enum(Box<[Expected]>),
    /// An array of the node.
    Array(usize),
    /// A two-branch union with `null`: branch index of null, and the other branch's node.
    Optional {
        /// 0 for `["null", X]`, 1 for `[X, "null"]`.
        null_index: u8,
        /// Node of the non-null branch.
        some: usize,
    },
}

impl Node {
    /// The Avro kind, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Boolean => "boolean",
            Node::Int => "int",
            Node::Long => "long",
            Node::Float => "float",
            Node::Double => "double",
            Node::Str => "string",
            Node::Bytes => "bytes",
            Node::Fixed(_) => "fixed",
            Node::Record(_) => "record",
            Node::Enum(_) => "enum",
            Node::Array(_) => "array",
            Node::Optional { .. } => "union with null",
        }
    }
}

/// A compiled schema: its nodes and the index of the root.
#[derive(Debug)]
pub(crate) struct Program {
    pub(crate) nodes: Vec<Node>,
    pub(crate) root: usize,
}

impl Program {
    /// Compiles `schema`, resolving named references; fails on constructs it does not handle.
    pub(crate) fn compile(schema: &Schema) -> Result<Self, CompileError> {
        let mut c = Compiler {
            nodes: Vec::new(),
            names: HashMap::new(),
        };
        let root = c.node(schema)?;
        Ok(Self {
            nodes: c.nodes,
            root,
        })
    }
}

/// Record attributes with which apache-avro maps records to Rust tuples or unions of records;
/// both walkers would read such records differently from apache-avro, so they are refused.
const RUST_RECORD_ATTRIBUTES: [&str; 2] = [
    "org.apache.avro.rust.tuple",
    "org.apache.avro.rust.union_of_records",
];

struct Compiler {
    nodes: Vec<Node>,
    names: HashMap<Name, usize>,
}

impl Compiler {
    fn push(&mut self, n: Node) -> usize {
        self.nodes.push(n);
        self.nodes.len() - 1
    }

    fn named(&mut self, name: &Name, n: Node) -> usize {
        let i = self.push(n);
        self.names.insert(name.clone(), i);
        i
    }

    fn node(&mut self, schema: &Schema) -> Result<usize, CompileError> {
        let n = match schema {
            Schema::Null => Node::Null,
            Schema::Boolean => Node::Boolean,
            Schema::Int | Schema::Date | Schema::TimeMillis => Node::Int,
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => Node::Long,
            Schema::Float => Node::Float,
            Schema::Double => Node::Double,
            Schema::String | Schema::Uuid(UuidSchema::String) => Node::Str,
            Schema::Bytes | Schema::BigDecimal | Schema::Uuid(UuidSchema::Bytes) => Node::Bytes,
            Schema::Decimal(d) => match &d.inner {
                InnerDecimalSchema::Bytes => Node::Bytes,
                InnerDecimalSchema::Fixed(f) => return Ok(self.named(&f.name, Node::Fixed(f.size))),
            },
            Schema::Fixed(f) | Schema::Uuid(UuidSchema::Fixed(f)) | Schema::Duration(f) => {
                return Ok(self.named(&f.name, Node::Fixed(f.size)));
            }
            Schema::Enum(e) => {
                let symbols = e.symbols.iter().map(|s| Expected::new(s)).collect();
                return Ok(self.named(&e.name, Node::Enum(symbols)));
            }
            Schema::Record(r) => {
                if RUST_RECORD_ATTRIBUTES
                    .iter()
                    .any(|a| r.attributes.contains_key(*a))
                {
                    return Err(CompileError::Unsupported(
                        "records apache-avro maps to Rust tuples or unions",
                    ));
                }
                // Registered before its fields so recursive references resolve.
                let i = self.named(&r.name, Node::Record(None));
                let mut fields = Vec::with_capacity(r.fields.len());
                for f in &r.fields {
                    fields.push(Field {
                        name: Expected::new(&f.name),
                        node: self.node(&f.schema)?,
                    });
                }
                self.nodes[i] = Node::Record(Some(Record {
                    name: Expected::new(r.name.name()),
                    fields: fields.into_boxed_slice(),
                    in_order: SeenAt::default(),
                }));
                return Ok(i);
            }
            Schema::Array(a) => Node::Array(self.node(&a.items)?),
            Schema::Union(u) => match u.variants() {
                [Schema::Null, other] => Node::Optional {
                    null_index: 0,
                    some: self.node(other)?,
                },
                [other, Schema::Null] => Node::Optional {
                    null_index: 1,
                    some: self.node(other)?,
                },
                _ => return Err(CompileError::Unsupported("unions other than [null, X]")),
            },
            Schema::Ref { name } => {
                return self
                    .names
                    .get(name)
                    .copied()
                    .ok_or_else(|| CompileError::UnknownReference(name.to_string()));
            }
            Schema::Map(_) => return Err(CompileError::Unsupported("maps")),
        };
        Ok(self.push(n))
    }
}

/// A schema with what the catalog does not use yet, and Rust types mirroring it, shared by the
/// encoder's and decoder's tests.
#[cfg(test)]
pub(crate) mod shapes {
    use serde::{Deserialize, Serialize};

    /// `[X, "null"]` unions, a named type used twice (the second time as a reference), fixed,
    /// float, a nested array, a logical type and an int read as `u16`.
    pub(crate) const OTHER_SHAPES: &str = r#"{"type":"record","name":"Shapes","namespace":"t","fields":[
        {"name":"late_null","type":["string","null"]},
        {"name":"late_null_enum","type":[{"type":"enum","name":"Colour","symbols":["RED","GREEN"]},"null"]},
        {"name":"colour","type":"Colour"},
        {"name":"inner","type":{"type":"record","name":"Inner","fields":[
            {"name":"f","type":"float"},{"name":"fx","type":{"type":"fixed","name":"Four","size":4}}]}},
        {"name":"inners","type":{"type":"array","items":"Inner"}},
        {"name":"maybe_inner","type":["null","Inner"]},
        {"name":"grid","type":{"type":"array","items":{"type":"array","items":"long"}}},
        {"name":"day","type":{"type":"int","logicalType":"date"}},
        {"name":"big","type":{"type":"long","logicalType":"timestamp-millis"}},
        {"name":"small","type":"int"}
    ]}"#;

    /// The enum `Colour`.
    #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
    #[allow(clippy::upper_case_acronyms)]
    pub(crate) enum Colour {
        RED,
        GREEN,
    }

    /// The record `Inner`.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub(crate) struct Inner {
        pub(crate) f: f32,
        #[serde(with = "fixed4")]
        pub(crate) fx: [u8; 4],
    }

    /// A `[u8; 4]` as Avro bytes (serde's arrays are tuples).
    pub(crate) mod fixed4 {
        use serde::{Deserializer, Serializer, de};

        pub fn serialize<S: Serializer>(v: &[u8; 4], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(v)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 4], D::Error> {
            struct V;
            impl de::Visitor<'_> for V {
                type Value = [u8; 4];
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("four bytes")
                }
                fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<[u8; 4], E> {
                    v.try_into().map_err(E::custom)
                }
            }
            d.deserialize_bytes(V)
        }
    }

    /// The record `Shapes`.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub(crate) struct Shapes {
        pub(crate) late_null: Option<String>,
        pub(crate) late_null_enum: Option<Colour>,
        pub(crate) colour: Colour,
        pub(crate) inner: Inner,
        pub(crate) inners: Vec<Inner>,
        pub(crate) maybe_inner: Option<Inner>,
        pub(crate) grid: Vec<Vec<i64>>,
        pub(crate) day: i32,
        pub(crate) big: i64,
        pub(crate) small: u16,
    }

    /// A value with every option set and every array filled, then one with none.
    pub(crate) fn both_rounds() -> [Shapes; 2] {
        let inner = Inner {
            f: -1.5,
            fx: [1, 2, 3, 0xff],
        };
        let full = Shapes {
            late_null: Some("x".into()),
            late_null_enum: Some(Colour::GREEN),
            colour: Colour::RED,
            inner: inner.clone(),
            inners: vec![inner.clone(), inner.clone()],
            maybe_inner: Some(inner),
            grid: vec![vec![], vec![1, -2, 3], vec![i64::MIN]],
            day: -3,
            big: 1 << 50,
            small: u16::MAX,
        };
        let empty = Shapes {
            late_null: None,
            late_null_enum: None,
            maybe_inner: None,
            inners: vec![],
            grid: vec![],
            ..full.clone()
        };
        [full, empty]
    }
}
