//! Rows that arrive again. A staged row whose key (and version, for a table of versions) is
//! already stored, or was staged earlier in the same batch, is compared with that version; a
//! difference is a conflicting redelivery: two contents for one event. The version there first
//! stays; the sink counts and logs the conflict ([`Outcome`]).
//!
//! The comparison rides on the upsert statement (a data-modifying CTE, no extra round trip),
//! and runs only when the batch can hold one, so a batch of new rows, or of newer versions,
//! pays one `count(*)` of the rows written. Facts: when fewer rows were written than were
//! staged. Versions, where a batch often brings several of one key: when fewer keys were
//! written than were staged, or a key and version repeat in the batch; staging notes both
//! (`Seen`).
//!
//! A table of versions keeps only the newest one, so that is all a row arriving again can be
//! compared with: an older version passes unchecked, and so may one equal to the stored
//! version when its batch also brings a newer version of the key (which replaces both).

use std::{
    collections::hash_map::Entry,
    hash::{BuildHasher, Hasher},
};

use foldhash::fast::FixedState;
use sqlx::PgConnection;

use crate::table::{Table, Version};

/// Conflicting redeliveries shown per table and write (with both versions); the rest are
/// only counted.
pub const SHOWN: usize = 20;

/// What a write did: rows inserted or replaced, and the conflicting redeliveries it found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Rows inserted or replaced.
    pub rows: u64,
    /// Conflicting redeliveries per table, for the tables that had some.
    pub conflicts: Vec<Conflicts>,
}

impl Outcome {
    /// Conflicting redeliveries in all tables written.
    pub fn conflicting(&self) -> u64 {
        self.conflicts.iter().map(|c| c.count).sum()
    }

    /// Adds the outcome of another table written in the same transaction.
    pub(crate) fn and(mut self, other: Outcome) -> Outcome {
        self.rows += other.rows;
        self.conflicts.extend(other.conflicts);
        self
    }
}

/// The conflicting redeliveries one write found in one table; the stored versions were kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflicts {
    /// Schema-qualified table name.
    pub table: &'static str,
    /// Staged rows that differ from the version of their key kept before them.
    pub count: u64,
    /// The first [`SHOWN`] as JSON objects: (the version kept, the one that arrived again).
    pub shown: Vec<(String, String)>,
}

/// The keys of a batch of versions as staged: how many distinct ones, and whether a key and
/// version repeat. Both are exact or err on the side of checking: keys sharing a hash still
/// count apart, and any shared hash of two (key, version)s counts as a repeat.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// Byte offset of the first row of each key hash, to tell a repeat from a collision.
    keys: foldhash::HashMap<u64, usize>,
    /// Hashes of (key, version), for a table of versions.
    versions: foldhash::HashSet<u64>,
    distinct: usize,
    repeats: bool,
}

impl Seen {
    /// Forgets the batch.
    pub(crate) fn clear(&mut self) {
        self.keys.clear();
        self.versions.clear();
        self.distinct = 0;
        self.repeats = false;
    }

    /// Moves the notes out, leaving room for as many keys (the next batch is alike).
    pub(crate) fn take(&mut self) -> Seen {
        let room = Seen {
            keys: foldhash::HashMap::with_capacity_and_hasher(self.keys.len(), Default::default()),
            versions: foldhash::HashSet::with_capacity_and_hasher(
                self.versions.len(),
                Default::default(),
            ),
            ..Seen::default()
        };
        std::mem::replace(self, room)
    }
}

/// How the rows of one table are compared when they arrive again.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    /// Per column of [`Table::COLUMNS`]: whether it is a key column.
    is_key: Vec<bool>,
    /// Position of the version column in [`Table::COLUMNS`], for a table of versions.
    version_at: Option<usize>,
    /// The last position [`Check::hashes`] reads.
    last: usize,
    /// The columns that identify one version of a row: the key, and the version if any.
    identity: Vec<&'static str>,
    /// The columns compared: the others, less [`Table::UNCOMPARED`].
    compared: Vec<&'static str>,
}

impl Check {
    /// The check of `T`: facts (insert-only) and versions that never tie (sequences). Where
    /// equal versions replace each other (timestamps), a tie is a new version, not a
    /// redelivery, and nothing is compared.
    pub(crate) fn of<T: Table>() -> Option<Check> {
        let version = match T::VERSION {
            Version::InsertOnly => None,
            Version::Newer {
                column,
                ties_replace: false,
            } => Some(column),
            Version::Newer {
                ties_replace: true, ..
            } => return None,
        };
        let at = |c: &str| T::COLUMNS.iter().position(|x| *x == c);
        let mut identity = T::KEY.to_vec();
        identity.extend(version);
        let positions: Option<Vec<usize>> = identity.iter().map(|c| at(c)).collect();
        let last = positions?.into_iter().max()?;
        let compared: Vec<&'static str> = T::COLUMNS
            .iter()
            .copied()
            .filter(|c| !identity.contains(c) && !T::UNCOMPARED.contains(c))
            .collect();
        if compared.is_empty() {
            return None;
        }
        Some(Check {
            is_key: T::COLUMNS.iter().map(|c| T::KEY.contains(c)).collect(),
            version_at: version.and_then(at),
            last,
            identity,
            compared,
        })
    }

    /// Whether staging notes the keys of this table's rows (a table of versions).
    pub(crate) fn notes(&self) -> bool {
        self.version_at.is_some()
    }

    /// The upsert `insert` (of `stage` into `table`) with the comparison: returns one row
    /// (rows written) without conflicts, else up to [`SHOWN`] rows (rows written, conflicts,
    /// the version kept, the one arriving again). `$1` is the number of rows staged, or of
    /// distinct keys for a table of versions; `$2` whether a key and version repeat in it.
    ///
    /// The main query reads `table` as it was before the statement, so it finds the rows
    /// stored by earlier batches only; repeats within the stage are compared with the first
    /// of them (the one stored, unless a newer version came with them).
    pub(crate) fn statement(&self, table: &str, stage: &str, insert: &str) -> String {
        let on = |a: &str, b: &str| {
            let eq: Vec<String> = self
                .identity
                .iter()
                .map(|c| format!("{a}.{c} = {b}.{c}"))
                .collect();
            eq.join(" AND ")
        };
        let row = |a: &str| {
            let cols: Vec<String> = self.compared.iter().map(|c| format!("{a}.{c}")).collect();
            format!("ROW({})", cols.join(", "))
        };
        let identity = self.identity.join(", ");
        let repeats = if self.notes() {
            "$2"
        } else {
            "(SELECT n FROM written) < $1"
        };
        // The stored rows are probed by key one staged row at a time (LATERAL .. OFFSET 0):
        // the cost follows the batch, never the size of the table.
        format!(
            "WITH ins AS ({insert} RETURNING 1), \
             written AS (SELECT count(*) AS n FROM ins), \
             conflicts AS (\
               SELECT row_to_json(t) AS stored, row_to_json(s) AS staged FROM {stage} s \
               CROSS JOIN LATERAL (SELECT * FROM {table} t WHERE {st} OFFSET 0) t \
               WHERE (SELECT n FROM written) < $1 AND {rs} IS DISTINCT FROM {rt} \
               UNION ALL \
               SELECT row_to_json(f), row_to_json(s) FROM (\
                 SELECT {identity}, min(ctid) AS first FROM {stage} WHERE {repeats} \
                 GROUP BY {identity} HAVING count(*) > 1) d \
               JOIN {stage} s ON {sd} AND s.ctid <> d.first \
               JOIN {stage} f ON f.ctid = d.first \
               WHERE {rs} IS DISTINCT FROM {rf} \
               AND NOT EXISTS (SELECT FROM {table} t WHERE {st})\
             ) \
             SELECT w.n, c.total, c.stored::text, c.staged::text FROM written w LEFT JOIN (\
               SELECT count(*) OVER () AS total, stored, staged FROM conflicts LIMIT {SHOWN}\
             ) c ON true",
            st = on("s", "t"),
            sd = on("s", "d"),
            rs = row("s"),
            rt = row("t"),
            rf = row("f"),
        )
    }

    /// Notes the keys of the rows of `text` from byte `from` on (whole rows in COPY text
    /// format, where tabs and newlines inside values are escaped).
    pub(crate) fn index(&self, seen: &mut Seen, text: &str, from: usize) {
        let mut start = from;
        for line in text[from..].split_terminator('\n') {
            let (key, version) = self.hashes(line);
            match seen.keys.entry(key) {
                Entry::Vacant(v) => {
                    v.insert(start);
                    seen.distinct += 1;
                }
                Entry::Occupied(o) => {
                    let first = text[*o.get()..].split('\n').next().unwrap_or_default();
                    if !self.same_key(first, line) {
                        seen.distinct += 1;
                    }
                }
            }
            if let Some(v) = version {
                seen.repeats |= !seen.versions.insert(v);
            }
            start += line.len() + 1;
        }
    }

    /// Hashes of the row's key, and of its key and version.
    fn hashes(&self, line: &str) -> (u64, Option<u64>) {
        let state = FixedState::default();
        let mut key = state.build_hasher();
        let mut version = None;
        for (i, field) in line.split('\t').enumerate().take(self.last + 1) {
            if self.is_key.get(i).copied().unwrap_or(false) {
                key.write(field.as_bytes());
                key.write_u8(0xff);
            } else if self.version_at == Some(i) {
                version = Some(field);
            }
        }
        let key = key.finish();
        let version = version.map(|v| {
            let mut h = state.build_hasher();
            h.write_u64(key);
            h.write(v.as_bytes());
            h.finish()
        });
        (key, version)
    }

    fn same_key(&self, a: &str, b: &str) -> bool {
        a.split('\t')
            .zip(b.split('\t'))
            .zip(&self.is_key)
            .all(|((x, y), &key)| !key || x == y)
    }
}

/// One row of [`Check::statement`].
type Found = (i64, Option<i64>, Option<String>, Option<String>);

/// Runs `statement` ([`Check::statement`]) on the `rows` staged for `table`.
pub(crate) async fn upsert(
    conn: &mut PgConnection,
    (check, statement): (&Check, &str),
    table: &'static str,
    rows: usize,
    seen: &Seen,
) -> Result<Outcome, sqlx::Error> {
    let query = sqlx::query_as(statement).persistent(false);
    let query = if check.notes() {
        query.bind(count(seen.distinct)).bind(seen.repeats)
    } else {
        query.bind(count(rows))
    };
    let found: Vec<Found> = query.fetch_all(conn).await?;
    let rows = found.first().map_or(0, |f| f.0.max(0) as u64);
    let count = found.first().and_then(|f| f.1).unwrap_or(0).max(0) as u64;
    let shown = found
        .into_iter()
        .filter_map(|(_, _, kept, again)| Some((kept?, again?)))
        .collect();
    let conflicts = if count > 0 {
        vec![Conflicts {
            table,
            count,
            shown,
        }]
    } else {
        Vec::new()
    };
    Ok(Outcome { rows, conflicts })
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Positions, Transactions};

    fn seen<T: Table>(rows: &[&str]) -> Seen {
        let check = Check::of::<T>().expect("checked");
        let (mut seen, mut text) = (Seen::default(), String::new());
        for r in rows {
            let from = text.len();
            text.push_str(r);
            text.push('\n');
            check.index(&mut seen, &text, from);
        }
        seen
    }

    #[test]
    fn staging_counts_keys_and_notes_repeats() {
        // Positions: key (tenant, location, item), version `sequence` after it.
        let s = seen::<Positions>(&["a\ts\ti\t1\t5", "a\ts\ti\t2\t6", "a\ts\tj\t1\t5"]);
        assert_eq!((s.distinct, s.repeats), (2, false));
        let s = seen::<Positions>(&["a\ts\ti\t1\t5", "a\ts\ti\t1\t6"]);
        assert_eq!((s.distinct, s.repeats), (1, true));
    }

    #[test]
    fn versions_that_tie_as_new_ones_are_not_checked() {
        assert!(Check::of::<crate::catalog::Items>().is_none());
        assert!(!Check::of::<Transactions>().expect("facts").notes());
        assert!(Check::of::<Positions>().expect("sequences").notes());
    }
}
