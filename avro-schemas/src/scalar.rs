//! Scalar types shared by every record: ids, instants, days and money.
//!
//! Each type has two serde forms: the Avro form (uuid string, `timestamp-micros` long, `date`
//! int, `decimal(18,4)` bytes) when the format is not human readable, and a readable JSON form
//! (uuid, RFC 3339, `YYYY-MM-DD`, decimal string) for `produce`, `tail` and the API.

use std::{fmt, str::FromStr};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use sha1::Digest;
use uuid::Uuid;

/// Namespace of the deterministic (v5) ids Composerp derives from input events.
const DERIVED_NAMESPACE: Uuid = Uuid::from_u128(0x6d0c_5f0e_1f7a_4a53_9a4c_2b1e_9c3d_7e21);

/// Identifier of one event: a UUID, written as its canonical string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub Uuid);

impl EventId {
    /// The all-zero id, for "none yet".
    pub const NIL: EventId = EventId(Uuid::nil());

    /// A fresh random id, for events that originate here.
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }

    /// A deterministic id derived from this one, so replays and duplicates yield the same id.
    pub fn derive(&self, parts: &[&[u8]]) -> Self {
        let mut h = name_hasher();
        h.update(self.0.as_bytes());
        for p in parts {
            h.update([0x1f]);
            h.update(p);
        }
        Self(v5(h))
    }

    /// A deterministic id from arbitrary text, e.g. a generator's seed and counter.
    pub fn from_name(name: &str) -> Self {
        Self::from_name_parts(&[name.as_bytes()])
    }

    /// The id [`EventId::from_name`] gives for the concatenation of `parts`, built without it.
    pub fn from_name_parts(parts: &[&[u8]]) -> Self {
        let mut h = name_hasher();
        for p in parts {
            h.update(p);
        }
        Self(v5(h))
    }
}

/// SHA-1 over the namespace, ready for the name: a version 5 UUID (RFC 9562) as
/// `Uuid::new_v5` computes it, but through the `sha1` crate, which uses the CPU's SHA
/// instructions where it has them (ids are derived several times per input line).
fn name_hasher() -> sha1::Sha1 {
    let mut h = sha1::Sha1::new();
    h.update(DERIVED_NAMESPACE.as_bytes());
    h
}

fn v5(h: sha1::Sha1) -> Uuid {
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = Uuid::encode_buffer();
        s.serialize_str(self.0.hyphenated().encode_lower(&mut buf))
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = EventId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a UUID string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<EventId, E> {
                Uuid::parse_str(v).map(EventId).map_err(E::custom)
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<EventId, E> {
                Uuid::from_slice(v).map(EventId).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// An instant in UTC with microsecond precision (Avro `timestamp-micros`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current wall-clock instant.
    pub fn now() -> Self {
        Self(Utc::now().timestamp_micros())
    }

    /// Microseconds since the Unix epoch.
    pub fn micros(&self) -> i64 {
        self.0
    }

    /// The instant as a chrono date-time.
    pub fn to_datetime(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.0).unwrap_or_default()
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(t: DateTime<Utc>) -> Self {
        Self(t.timestamp_micros())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            &self
                .to_datetime()
                .to_rfc3339_opts(SecondsFormat::AutoSi, true),
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp or microseconds since the epoch")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
                Ok(Timestamp(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
                i64::try_from(v).map(Timestamp).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                DateTime::parse_from_rfc3339(v)
                    .map(|t| Timestamp(t.timestamp_micros()))
                    .map_err(|e| E::custom(format!("invalid timestamp {v:?}: {e}")))
            }
        }
        if d.is_human_readable() {
            d.deserialize_any(V)
        } else {
            d.deserialize_i64(V)
        }
    }
}

/// A calendar day (Avro `date`: days since 1970-01-01).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date(pub i32);

impl Date {
    /// The day as a chrono date.
    pub fn to_naive(&self) -> NaiveDate {
        NaiveDate::from_num_days_from_ce_opt(self.0 + EPOCH_CE_DAYS).unwrap_or_default()
    }
}

/// Days from 0001-01-01 (CE day 1) to 1970-01-01.
const EPOCH_CE_DAYS: i32 = 719_163;

impl From<NaiveDate> for Date {
    fn from(d: NaiveDate) -> Self {
        use chrono::Datelike;
        Self(d.num_days_from_ce() - EPOCH_CE_DAYS)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_naive().format("%Y-%m-%d").fmt(f)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_i32(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .map(Date::from)
                .map_err(|e| de::Error::custom(format!("invalid date {s:?}: {e}")))
        } else {
            i32::deserialize(d).map(Date)
        }
    }
}

/// An exact amount of money or a unit rate: ten-thousandths of the currency unit
/// (Avro `decimal(18,4)`, two's-complement big-endian bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Money(pub i64);

impl Money {
    /// Decimal places of every Money value; matches `scale` in the schemas.
    pub const SCALE: u32 = 4;
    const FACTOR: i64 = 10_000;

    /// Zero.
    pub const ZERO: Money = Money(0);

    /// Rounds a real amount half away from zero to the nearest ten-thousandth.
    pub fn from_f64(v: f64) -> Self {
        Self((v * Self::FACTOR as f64).round() as i64)
    }

    /// The amount as a real number, for rate arithmetic.
    pub fn to_f64(&self) -> f64 {
        self.0 as f64 / Self::FACTOR as f64
    }

    /// Rounds to `places` decimals (the currency's minor unit), half away from zero.
    pub fn round_to(&self, places: u32) -> Self {
        if places >= Self::SCALE {
            return *self;
        }
        let step = 10i64.pow(Self::SCALE - places);
        let half = step / 2;
        let q = if self.0 >= 0 {
            (self.0 + half) / step
        } else {
            (self.0 - half) / step
        };
        Self(q * step)
    }

    /// Always the full 8 bytes: apache-avro's schema resolution refuses a `bytes` decimal
    /// shorter than its precision needs (18 digits = 8 bytes), so minimal encodings would not
    /// decode across schema versions. Every Avro reader accepts the longer form.
    fn to_be_bytes_full(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    fn from_be_bytes(b: &[u8]) -> Result<Self, String> {
        if b.is_empty() {
            return Ok(Money(0));
        }
        if b.len() > 8 {
            return Err(format!(
                "decimal of {} bytes does not fit decimal(18,4)",
                b.len()
            ));
        }
        let fill = if b[0] & 0x80 != 0 { 0xff } else { 0x00 };
        let mut buf = [fill; 8];
        buf[8 - b.len()..].copy_from_slice(b);
        Ok(Money(i64::from_be_bytes(buf)))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(
            f,
            "{sign}{}.{:04}",
            abs / Self::FACTOR as u64,
            abs % Self::FACTOR as u64
        )
    }
}

/// Why a decimal text is not a valid Money value.
#[derive(Debug, thiserror::Error)]
#[error("invalid decimal {0:?}: expected at most 4 decimal places and 14 integer digits")]
pub struct MoneyParseError(String);

impl FromStr for Money {
    type Err = MoneyParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || MoneyParseError(s.to_owned());
        let t = s.trim();
        let (neg, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        if int.is_empty() && frac.is_empty()
            || frac.len() > 4
            || int.len() > 14
            || !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit())
        {
            return Err(err());
        }
        let int: i64 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| err())?
        };
        let frac_val: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse::<i64>().map_err(|_| err())? * 10i64.pow(4 - frac.len() as u32)
        };
        let v = int * Self::FACTOR + frac_val;
        Ok(Money(if neg { -v } else { v }))
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_bytes(&self.to_be_bytes_full())
        }
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Money;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal string such as \"12.34\" (or Avro decimal bytes)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Money, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Money, E> {
                v.checked_mul(Money::FACTOR)
                    .map(Money)
                    .ok_or_else(|| E::custom("decimal out of range"))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Money, E> {
                i64::try_from(v)
                    .map_err(E::custom)
                    .and_then(|v| self.visit_i64(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Money, E> {
                // JSON numbers arrive as f64; go through their shortest text to stay exact.
                v.to_string().parse().map_err(E::custom)
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Money, E> {
                Money::from_be_bytes(v).map_err(E::custom)
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Money, E> {
                self.visit_bytes(&v)
            }
        }
        if d.is_human_readable() {
            d.deserialize_any(V)
        } else {
            d.deserialize_bytes(V)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_parses_and_prints_exactly() {
        for (text, raw, shown) in [
            ("12.34", 123_400, "12.3400"),
            ("-0.0001", -1, "-0.0001"),
            ("7", 70_000, "7.0000"),
            (".5", 5_000, "0.5000"),
        ] {
            let m: Money = text.parse().expect("valid");
            assert_eq!(m.0, raw, "{text}");
            assert_eq!(m.to_string(), shown);
        }
        assert!("1.23456".parse::<Money>().is_err());
        assert!("abc".parse::<Money>().is_err());
        assert!("".parse::<Money>().is_err());
    }

    #[test]
    fn money_bytes_are_twos_complement_of_any_length_up_to_eight() {
        for v in [
            0i64,
            1,
            -1,
            127,
            128,
            -128,
            -129,
            1 << 40,
            -(1 << 40),
            i64::MAX,
            i64::MIN,
        ] {
            let b = Money(v).to_be_bytes_full();
            assert_eq!(Money::from_be_bytes(&b).expect("fits"), Money(v), "{v}");
        }
        assert_eq!(
            Money::from_be_bytes(&[0x00, 0x80]).expect("fits"),
            Money(128)
        );
        assert_eq!(Money::from_be_bytes(&[0xff]).expect("fits"), Money(-1));
        assert!(Money::from_be_bytes(&[0; 9]).is_err());
    }

    #[test]
    fn money_rounds_to_minor_unit_half_away_from_zero() {
        assert_eq!(Money(12_345).round_to(2), Money(12_300));
        assert_eq!(Money(12_350).round_to(2), Money(12_400));
        assert_eq!(Money(-12_350).round_to(2), Money(-12_400));
        assert_eq!(Money(-12_349).round_to(2), Money(-12_300));
    }

    #[test]
    fn timestamp_and_date_read_their_json_forms() {
        let t: Timestamp = serde_json::from_str("\"2024-05-01T08:00:00.000001Z\"").expect("valid");
        assert_eq!(t.to_string(), "2024-05-01T08:00:00.000001Z");
        let d: Date = serde_json::from_str("\"2024-02-29\"").expect("valid");
        assert_eq!(d.to_string(), "2024-02-29");
        assert_eq!(
            Date::from(NaiveDate::from_ymd_opt(1970, 1, 2).expect("day")).0,
            1
        );
    }

    #[test]
    fn derived_ids_are_deterministic_and_distinct() {
        let id = EventId::from_name("x");
        assert_eq!(id.derive(&[b"1"]), id.derive(&[b"1"]));
        assert_ne!(id.derive(&[b"1"]), id.derive(&[b"2"]));
        assert_ne!(id.derive(&[b"1", b"2"]), id.derive(&[b"12"]));
    }

    #[test]
    fn ids_are_the_uuid_crates_version_5_ids() {
        let id = EventId::from_name("x");
        assert_eq!(id.0, Uuid::new_v5(&DERIVED_NAMESPACE, b"x"));
        let mut name = id.0.as_bytes().to_vec();
        name.extend_from_slice(b"\x1fitc\x1f\x00\x00\x00\x01");
        assert_eq!(
            id.derive(&[b"itc", &1i32.to_be_bytes()]).0,
            Uuid::new_v5(&DERIVED_NAMESPACE, &name)
        );
        let long = "composerp:ledger/updated/tenant-with-a-long-name/store-0001/item-000001/12345";
        assert_eq!(
            EventId::from_name_parts(&[
                b"composerp:ledger/updated/",
                b"tenant-with-a-long-name",
                b"/store-0001/item-000001/",
                b"12345"
            ]),
            EventId::from_name(long)
        );
        assert_eq!(
            EventId::from_name(long).0,
            Uuid::new_v5(&DERIVED_NAMESPACE, long.as_bytes())
        );
    }
}
