//! Rows in Postgres' COPY text format, written straight into one reusable buffer.

use std::fmt::Write as _;

use composerp_events::{Date, EventId, Money, Timestamp};

/// Why a value cannot be stored; the record goes to the dead-letter topic.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    /// Postgres text cannot hold NUL characters.
    #[error("field {0} contains a NUL character")]
    Nul(&'static str),
    /// A JSON column received text that is not a JSON object.
    #[error("field {field} is not a JSON object: {detail}")]
    Json {
        /// Column name.
        field: &'static str,
        /// What the parser said.
        detail: String,
    },
}

/// The rows one event makes, appended to a batch's buffer: most events make one row, an
/// event with lines may make one per line, or none.
pub struct Rows<'a> {
    buf: &'a mut String,
    count: usize,
    open: bool,
}

impl<'a> Rows<'a> {
    /// Starts appending rows at the end of `buf`.
    pub fn new(buf: &'a mut String) -> Self {
        Rows {
            buf,
            count: 0,
            open: false,
        }
    }

    /// Starts the next row (the previous one ends here).
    pub fn row(&mut self) -> Row<'_> {
        if self.open {
            self.buf.push('\n');
        }
        self.open = true;
        self.count += 1;
        Row::begin(self.buf)
    }

    /// Ends the last row; returns how many rows were written.
    pub fn finish(self) -> usize {
        if self.open {
            self.buf.push('\n');
        }
        self.count
    }
}

/// Appends one row's columns in COPY text format (tab-separated, `\N` for NULL).
pub struct Row<'a> {
    buf: &'a mut String,
    first: bool,
}

impl<'a> Row<'a> {
    /// Starts a row at the end of `buf`; [`Row::end`] finishes it.
    pub fn begin(buf: &'a mut String) -> Self {
        Row { buf, first: true }
    }

    fn sep(&mut self) {
        if !self.first {
            self.buf.push('\t');
        }
        self.first = false;
    }

    /// A text column.
    pub fn text(&mut self, field: &'static str, v: &str) -> Result<&mut Self, RowError> {
        if v.contains('\0') {
            return Err(RowError::Nul(field));
        }
        self.sep();
        for c in v.chars() {
            match c {
                '\\' => self.buf.push_str("\\\\"),
                '\t' => self.buf.push_str("\\t"),
                '\n' => self.buf.push_str("\\n"),
                '\r' => self.buf.push_str("\\r"),
                c => self.buf.push(c),
            }
        }
        Ok(self)
    }

    /// A nullable text column.
    pub fn opt_text(
        &mut self,
        field: &'static str,
        v: Option<&str>,
    ) -> Result<&mut Self, RowError> {
        match v {
            Some(v) => self.text(field, v),
            None => Ok(self.null()),
        }
    }

    /// A JSON object column (custom attributes); None is NULL.
    pub fn json(&mut self, field: &'static str, v: Option<&str>) -> Result<&mut Self, RowError> {
        if let Some(text) = v {
            let parsed: serde_json::Value =
                serde_json::from_str(text).map_err(|e| RowError::Json {
                    field,
                    detail: e.to_string(),
                })?;
            if !parsed.is_object() {
                return Err(RowError::Json {
                    field,
                    detail: "not an object".into(),
                });
            }
            // Postgres jsonb refuses \u0000 as well.
            if text.contains("\\u0000") {
                return Err(RowError::Nul(field));
            }
        }
        self.opt_text(field, v)
    }

    /// A jsonb column holding `v` serialized (an event's lines or nested rules).
    pub fn serialized<T: serde::Serialize>(
        &mut self,
        field: &'static str,
        v: &T,
    ) -> Result<&mut Self, RowError> {
        let text = serde_json::to_string(v).map_err(|e| RowError::Json {
            field,
            detail: e.to_string(),
        })?;
        // serde_json writes NUL as \u0000, which jsonb refuses.
        if text.contains("\\u0000") {
            return Err(RowError::Nul(field));
        }
        self.text(field, &text)
    }

    /// A text[] column of plain words (enum symbols): `{A,B}`.
    pub fn words(&mut self, v: &[&str]) -> &mut Self {
        self.sep();
        self.buf.push('{');
        self.buf.push_str(&v.join(","));
        self.buf.push('}');
        self
    }

    /// NULL.
    pub fn null(&mut self) -> &mut Self {
        self.sep();
        self.buf.push_str("\\N");
        self
    }

    /// A bigint or integer column.
    pub fn int(&mut self, v: i64) -> &mut Self {
        self.sep();
        let _ = write!(self.buf, "{v}");
        self
    }

    /// A nullable bigint column.
    pub fn opt_int(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }

    /// A double precision column.
    pub fn float(&mut self, v: f64) -> &mut Self {
        self.sep();
        if v.is_infinite() {
            self.buf
                .push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
        } else {
            let _ = write!(self.buf, "{v}");
        }
        self
    }

    /// A nullable double precision column.
    pub fn opt_float(&mut self, v: Option<f64>) -> &mut Self {
        match v {
            Some(v) => self.float(v),
            None => self.null(),
        }
    }

    /// A date column.
    pub fn date(&mut self, v: Date) -> &mut Self {
        self.sep();
        let _ = write!(self.buf, "{}", v.to_naive());
        self
    }

    /// A nullable date column.
    pub fn opt_date(&mut self, v: Option<Date>) -> &mut Self {
        match v {
            Some(v) => self.date(v),
            None => self.null(),
        }
    }

    /// A nullable uuid column.
    pub fn opt_id(&mut self, v: Option<EventId>) -> &mut Self {
        match v {
            Some(v) => self.id(v),
            None => self.null(),
        }
    }

    /// A boolean column.
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.sep();
        self.buf.push(if v { 't' } else { 'f' });
        self
    }

    /// A numeric(18,4) column.
    pub fn money(&mut self, v: Money) -> &mut Self {
        self.sep();
        let _ = write!(self.buf, "{v}");
        self
    }

    /// A nullable numeric(18,4) column.
    pub fn opt_money(&mut self, v: Option<Money>) -> &mut Self {
        match v {
            Some(v) => self.money(v),
            None => self.null(),
        }
    }

    /// A uuid column.
    pub fn id(&mut self, v: EventId) -> &mut Self {
        self.sep();
        let _ = write!(self.buf, "{}", v.0.hyphenated());
        self
    }

    /// A timestamptz column (microseconds, UTC).
    pub fn time(&mut self, v: Timestamp) -> &mut Self {
        self.sep();
        let _ = write!(self.buf, "{v}");
        self
    }

    /// Ends the row.
    pub fn end(self) {
        self.buf.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_null_is_marked() {
        let mut buf = String::new();
        let mut r = Row::begin(&mut buf);
        r.text("a", "x\ty\\z\nw").expect("text");
        r.null().int(-5).bool(true).money(Money(-12_345));
        r.float(f64::INFINITY).opt_date(Some(Date(1))).opt_id(None);
        r.end();
        assert_eq!(
            buf,
            "x\\ty\\\\z\\nw\t\\N\t-5\tt\t-1.2345\tInfinity\t1970-01-02\t\\N\n"
        );
    }

    #[test]
    fn nul_characters_and_bad_json_are_refused() {
        let mut buf = String::new();
        let mut r = Row::begin(&mut buf);
        assert!(matches!(r.text("name", "a\0b"), Err(RowError::Nul("name"))));
        assert!(matches!(
            r.json("attributes", Some("[1]")),
            Err(RowError::Json { .. })
        ));
        assert!(matches!(
            r.json("attributes", Some("{\"a\":\"\\u0000\"}")),
            Err(RowError::Nul(_))
        ));
        assert!(r.json("attributes", Some("{\"color\":\"red\"}")).is_ok());
    }

    #[test]
    fn serialized_values_are_json_text_without_nul() {
        let mut buf = String::new();
        let mut r = Row::begin(&mut buf);
        r.serialized("lines", &[("a\tb", 1)]).expect("json");
        r.end();
        assert_eq!(buf, "[[\"a\\\\tb\",1]]\n");
        let mut r = Row::begin(&mut buf);
        assert!(matches!(
            r.serialized("lines", &["a\0"]),
            Err(RowError::Nul("lines"))
        ));
    }
}
