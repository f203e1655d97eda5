//! The rows of a table waiting for the next commit: staged with COPY and upserted in one
//! statement, which also compares rows that arrive again with the stored ones
//! ([`crate::redelivery`]).

use std::{future::Future, marker::PhantomData, pin::Pin};

use composerp_events::{Codec, Event};
use sqlx::PgConnection;

use crate::{
    copy::{RowError, Rows},
    redelivery::{self, Check, Outcome, Seen},
    table::{Rejected, Table, Version},
};

/// Rows of one table waiting for the next commit.
pub trait Staged: Send + Sync {
    /// The topic id this table reads.
    fn topic(&self) -> &'static str;
    /// The table written.
    fn table(&self) -> &'static str;
    /// Decodes one record and stages its row.
    fn add(&mut self, codec: &Codec, bytes: &[u8]) -> Result<(), Rejected>;
    /// Rows staged.
    fn len(&self) -> usize;
    /// Whether nothing is staged.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Prepares a transaction: its staging table if the server connection has none yet, JIT
    /// off. Run first in every transaction, so PgBouncer may hand any server connection.
    fn stage_ddl(&self) -> String;
    /// Writes the staged rows inside the caller's transaction; they stay staged until
    /// [`Staged::clear`], so a failed transaction can be retried.
    fn write<'c>(&'c self, conn: &'c mut PgConnection) -> Written<'c>;
    /// The tables whose rows arriving again are compared with the stored ones.
    fn checked(&self) -> Vec<&'static str>;
    /// Forgets the staged rows after a commit.
    fn clear(&mut self);
    /// Moves the staged rows out (to be written while new ones are staged here).
    fn take(&mut self) -> Box<dyn Staged>;
}

/// A write: the rows it inserted or replaced, and the conflicting redeliveries it found.
pub type Written<'c> = Pin<Box<dyn Future<Output = Result<Outcome, sqlx::Error>> + Send + 'c>>;

/// Rows of one table in COPY text format, with the statements that stage and upsert them.
struct Upsert {
    table: &'static str,
    text: String,
    rows: usize,
    copy: String,
    upsert: String,
    ddl: String,
    check: Option<Check>,
    seen: Seen,
}

impl Upsert {
    fn of<T: Table>() -> Self {
        let stage = stage_name(T::TABLE);
        let cols = T::COLUMNS.join(", ");
        let key = T::KEY.join(", ");
        let check = Check::of::<T>();
        // Of two staged rows of one version, the first is kept, as when it was stored before.
        let first = if check.is_some() { ", ctid" } else { "" };
        // DO UPDATE cannot touch a row twice in one statement: keep the newest row per key.
        // DO NOTHING passes over repeats by itself, without the sort.
        let (select, conflict) = match T::VERSION {
            Version::InsertOnly => (format!("SELECT {cols} FROM {stage}"), "DO NOTHING".into()),
            Version::Newer {
                column,
                ties_replace,
            } => {
                let set: Vec<String> = T::COLUMNS
                    .iter()
                    .filter(|c| !T::KEY.contains(c))
                    .map(|c| format!("{c} = EXCLUDED.{c}"))
                    .collect();
                let op = if ties_replace { "<=" } else { "<" };
                // A row another topic created has no version of this topic's yet.
                (
                    format!(
                        "SELECT DISTINCT ON ({key}) {cols} FROM {stage} \
                         ORDER BY {key}, {column} DESC{first}"
                    ),
                    format!(
                        "DO UPDATE SET {} WHERE {table}.{column} IS NULL \
                         OR {table}.{column} {op} EXCLUDED.{column}",
                        set.join(", "),
                        table = T::TABLE
                    ),
                )
            }
        };
        let upsert = format!(
            "INSERT INTO {table} ({cols}) {select} ON CONFLICT ({key}) {conflict}",
            table = T::TABLE
        );
        Upsert {
            table: T::TABLE,
            text: String::new(),
            rows: 0,
            copy: format!("COPY {stage} ({cols}) FROM STDIN"),
            upsert: match &check {
                Some(c) => c.statement(T::TABLE, &stage, &upsert),
                None => upsert,
            },
            // The redelivery check is costed into the upsert's plan though it rarely runs;
            // JIT would compile both at every commit for nothing. The table exists after the
            // first commit on a server connection; the notice saying so is not wanted.
            ddl: format!(
                "SET LOCAL client_min_messages = warning; \
                 CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {} INCLUDING DEFAULTS) \
                 ON COMMIT DELETE ROWS; SET LOCAL jit = off",
                T::TABLE
            ),
            check,
            seen: Seen::default(),
        }
    }

    /// Appends and notes the rows of `event`; nothing is left behind when one fails.
    fn add<T: Table>(&mut self, event: &T::Event) -> Result<(), RowError> {
        let mark = self.text.len();
        self.append::<T>(event)?;
        self.index(mark);
        Ok(())
    }

    /// Notes the keys of the rows appended from byte `mark` on, if the check needs them.
    fn index(&mut self, mark: usize) {
        if let Some(check) = self.check.as_ref().filter(|c| c.notes()) {
            check.index(&mut self.seen, &self.text, mark);
        }
    }

    /// Appends the rows of `event`; nothing is left behind when one fails.
    fn append<T: Table>(&mut self, event: &T::Event) -> Result<(), RowError> {
        let mark = self.text.len();
        let mut rows = Rows::new(&mut self.text);
        match T::rows(event, &mut rows) {
            Ok(()) => {
                self.rows += rows.finish();
                Ok(())
            }
            Err(e) => {
                self.text.truncate(mark);
                Err(e)
            }
        }
    }

    async fn write(&self, conn: &mut PgConnection) -> Result<Outcome, sqlx::Error> {
        if self.rows == 0 {
            return Ok(Outcome::default());
        }
        let mut copy = conn.copy_in_raw(&self.copy).await?;
        copy.send(self.text.as_bytes()).await?;
        copy.finish().await?;
        if let Some(check) = &self.check {
            let statement = (check, self.upsert.as_str());
            return redelivery::upsert(conn, statement, self.table, self.rows, &self.seen).await;
        }
        let done = sqlx::query(&self.upsert)
            .persistent(false)
            .execute(&mut *conn)
            .await?;
        Ok(Outcome {
            rows: done.rows_affected(),
            conflicts: Vec::new(),
        })
    }

    fn checked(&self) -> Option<&'static str> {
        self.check.as_ref().map(|_| self.table)
    }

    fn clear(&mut self) {
        self.text.clear();
        self.rows = 0;
        self.seen.clear();
    }

    fn take(&mut self) -> Self {
        Upsert {
            table: self.table,
            text: std::mem::take(&mut self.text),
            rows: std::mem::take(&mut self.rows),
            copy: self.copy.clone(),
            upsert: self.upsert.clone(),
            ddl: self.ddl.clone(),
            check: self.check.clone(),
            seen: self.seen.take(),
        }
    }
}

/// The per-session staging table of `table`: same columns, emptied at commit.
fn stage_name(table: &str) -> String {
    format!("stage_{}", table.replace('.', "_"))
}

fn decode<E: Event>(codec: &Codec, bytes: &[u8]) -> Result<E, Rejected> {
    codec
        .decode(bytes)
        .map_err(|e| Rejected::Decode(e.to_string()))
}

/// The [`Staged`] rows of table `T`, in COPY text format.
pub struct Batch<T: Table> {
    rows: Upsert,
    _t: PhantomData<fn() -> T>,
}

impl<T: Table> Default for Batch<T> {
    fn default() -> Self {
        Batch {
            rows: Upsert::of::<T>(),
            _t: PhantomData,
        }
    }
}

impl<T: Table> Batch<T> {
    /// The staged rows in COPY text format (benchmarks compare against a plain COPY of them).
    pub fn text(&self) -> &str {
        &self.rows.text
    }
}

impl<T: Table> Staged for Batch<T> {
    fn topic(&self) -> &'static str {
        T::TOPIC
    }

    fn table(&self) -> &'static str {
        T::TABLE
    }

    fn add(&mut self, codec: &Codec, bytes: &[u8]) -> Result<(), Rejected> {
        let event: T::Event = decode(codec, bytes)?;
        Ok(self.rows.add::<T>(&event)?)
    }

    fn len(&self) -> usize {
        self.rows.rows
    }

    fn stage_ddl(&self) -> String {
        self.rows.ddl.clone()
    }

    fn write<'c>(&'c self, conn: &'c mut PgConnection) -> Written<'c> {
        Box::pin(self.rows.write(conn))
    }

    fn checked(&self) -> Vec<&'static str> {
        self.rows.checked().into_iter().collect()
    }

    fn clear(&mut self) {
        self.rows.clear();
    }

    fn take(&mut self) -> Box<dyn Staged> {
        Box::new(Batch::<T> {
            rows: self.rows.take(),
            _t: PhantomData,
        })
    }
}

/// The [`Staged`] rows of a topic written to two tables in one transaction, e.g. an order's
/// header (`H`) and its lines (`L`); each record is decoded once.
pub struct Family<H: Table, L: Table<Event = H::Event>> {
    header: Upsert,
    lines: Upsert,
    _t: PhantomData<fn() -> (H, L)>,
}

impl<H: Table, L: Table<Event = H::Event>> Default for Family<H, L> {
    fn default() -> Self {
        assert_eq!(H::TOPIC, L::TOPIC, "a family's tables read one topic");
        Family {
            header: Upsert::of::<H>(),
            lines: Upsert::of::<L>(),
            _t: PhantomData,
        }
    }
}

impl<H: Table, L: Table<Event = H::Event>> Staged for Family<H, L> {
    fn topic(&self) -> &'static str {
        H::TOPIC
    }

    fn table(&self) -> &'static str {
        H::TABLE
    }

    fn add(&mut self, codec: &Codec, bytes: &[u8]) -> Result<(), Rejected> {
        let event: H::Event = decode(codec, bytes)?;
        let (mark, rows) = (self.header.text.len(), self.header.rows);
        let lines_mark = self.lines.text.len();
        self.header.append::<H>(&event)?;
        if let Err(e) = self.lines.append::<L>(&event) {
            self.header.text.truncate(mark);
            self.header.rows = rows;
            return Err(e.into());
        }
        self.header.index(mark);
        self.lines.index(lines_mark);
        Ok(())
    }

    fn len(&self) -> usize {
        self.header.rows + self.lines.rows
    }

    fn stage_ddl(&self) -> String {
        format!("{}; {}", self.header.ddl, self.lines.ddl)
    }

    fn write<'c>(&'c self, conn: &'c mut PgConnection) -> Written<'c> {
        Box::pin(async move {
            let header = self.header.write(conn).await?;
            Ok(header.and(self.lines.write(conn).await?))
        })
    }

    fn checked(&self) -> Vec<&'static str> {
        [self.header.checked(), self.lines.checked()]
            .into_iter()
            .flatten()
            .collect()
    }

    fn clear(&mut self) {
        self.header.clear();
        self.lines.clear();
    }

    fn take(&mut self) -> Box<dyn Staged> {
        Box::new(Family::<H, L> {
            header: self.header.take(),
            lines: self.lines.take(),
            _t: PhantomData,
        })
    }
}
