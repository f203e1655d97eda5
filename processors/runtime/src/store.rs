//! The local state store of one partition: a redb file holding every key's state and a meta
//! record (input offsets, changelog position) written in the same transaction, so the file is
//! always a consistent checkpoint of the state and the progress it reflects.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

const STATES: TableDefinition<&str, &[u8]> = TableDefinition::new("states");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// The checkpoint's key. Version 2 added [`Checkpoint::sole`]; a store with only the first
/// version's key reads as untrusted, so it is rebuilt from the changelog once.
const META_KEY: &str = "checkpoint.v2";

/// Why the store failed; the process stops and restarts from its last checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// redb reported an error.
    #[error("state store {path}: {detail}")]
    Redb {
        /// File.
        path: PathBuf,
        /// redb's message.
        detail: String,
    },
    /// A stored value does not decode.
    #[error("state store {path}: corrupt value: {detail}")]
    Corrupt {
        /// File.
        path: PathBuf,
        /// Decoder message.
        detail: String,
    },
}

/// The progress a checkpoint reflects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Next offset to read per input topic index.
    pub offsets: Vec<i64>,
    /// Changelog offset after the last commit marker reflected.
    pub changelog_next: i64,
    /// Newest event time seen.
    pub max_event_time: i64,
    /// Ownership epoch of the changelog writes that count after `changelog_next` (the offset
    /// of the restore sentinel of the process that wrote them; see the engine's module docs).
    pub epoch: i64,
    /// Every changelog record of the partition from `epoch` to `changelog_next` is this
    /// process's own, so the stored states are the changelog's at `changelog_next`. False (as
    /// in the empty checkpoint) when another writer appeared: the process may have gone on as a
    /// superseded owner, and its local states cannot be trusted.
    pub sole: bool,
}

/// A partition's store file, with the rows of recent commits staged in memory until the next
/// write: the store only shortens restarts (the changelog is the partition's state), so it is
/// written every few seconds rather than per batch, and a key changed by several batches in
/// between is written once.
pub struct Store {
    db: Database,
    path: PathBuf,
    staged: foldhash::HashMap<String, Option<Vec<u8>>>,
    written_at: Instant,
}

/// redb's page cache per partition store. redb's default is 1 GiB per database, and every
/// state is in memory already (the store is only read once, at restore): a larger cache only
/// duplicates the states.
const STORE_CACHE_BYTES: usize = 16 * 1024 * 1024;

impl Store {
    /// Opens or creates `<dir>/partition-<p>.redb`.
    pub fn open(dir: &Path, partition: i32) -> Result<Self, StoreError> {
        let path = dir.join(format!("partition-{partition}.redb"));
        let err = |e: &dyn std::fmt::Display| StoreError::Redb {
            path: path.clone(),
            detail: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
        let db = redb::Builder::new()
            .set_cache_size(STORE_CACHE_BYTES)
            .create(&path)
            .map_err(|e| err(&e))?;
        Ok(Store {
            db,
            path,
            staged: foldhash::HashMap::default(),
            written_at: Instant::now(),
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Redb {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    /// Size of the store file in bytes (0 when it cannot be read).
    pub fn file_size(&self) -> u64 {
        std::fs::metadata(&self.path).map_or(0, |m| m.len())
    }

    /// The stored checkpoint, or the empty one for a new store.
    pub fn checkpoint(&self) -> Result<Checkpoint, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = match tx.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Checkpoint::default()),
            Err(e) => return Err(self.err(e)),
        };
        match table.get(META_KEY).map_err(|e| self.err(e))? {
            Some(v) => postcard::from_bytes(v.value()).map_err(|e| StoreError::Corrupt {
                path: self.path.clone(),
                detail: e.to_string(),
            }),
            None => Ok(Checkpoint::default()),
        }
    }

    /// Removes every state, staged row and the checkpoint, in one transaction.
    pub fn clear(&mut self) -> Result<(), StoreError> {
        self.staged.clear();
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        for table in [STATES, META] {
            tx.delete_table(table).map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Calls `f` with every stored (key, value).
    pub fn for_each(
        &self,
        mut f: impl FnMut(&str, &[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = match tx.open_table(STATES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(self.err(e)),
        };
        for row in table.iter().map_err(|e| self.err(e))? {
            let (k, v) = row.map_err(|e| self.err(e))?;
            f(k.value(), v.value())?;
        }
        Ok(())
    }

    /// Keeps a committed batch's changed rows (None deletes) for the next [`Store::write`]; a
    /// row staged earlier for the same key is replaced.
    pub fn stage(&mut self, rows: impl IntoIterator<Item = (String, Option<Vec<u8>>)>) {
        self.staged.extend(rows);
    }

    /// Number of rows staged.
    pub fn staged(&self) -> usize {
        self.staged.len()
    }

    /// Whether a write is due: `interval` has passed since the last one, or `max_rows` rows
    /// are staged.
    pub fn due(&self, interval: Duration, max_rows: usize) -> bool {
        self.written_at.elapsed() >= interval || self.staged.len() >= max_rows
    }

    /// Writes the staged rows, in key order, and the checkpoint they reach in one transaction
    /// forced to disk.
    pub fn write(&mut self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        let mut rows: Vec<_> = self.staged.drain().collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        self.commit(
            rows.iter().map(|(k, v)| (k.as_str(), v.as_deref())),
            checkpoint,
            true,
        )?;
        self.written_at = Instant::now();
        Ok(())
    }

    /// Writes changed states (None deletes) and the checkpoint in one transaction, forced to
    /// disk if `durable`; a commit that is not may be lost in a crash, which only means
    /// replaying more of the changelog.
    pub fn commit<'a>(
        &mut self,
        changes: impl IntoIterator<Item = (&'a str, Option<&'a [u8]>)>,
        checkpoint: &Checkpoint,
        durable: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin_write().map_err(|e| self.err(e))?;
        tx.set_durability(if durable {
            Durability::Immediate
        } else {
            Durability::None
        })
        .map_err(|e| self.err(e))?;
        {
            let mut states = tx.open_table(STATES).map_err(|e| self.err(e))?;
            for (k, v) in changes {
                match v {
                    Some(v) => states.insert(k, v).map_err(|e| self.err(e))?,
                    None => states.remove(k).map_err(|e| self.err(e))?,
                };
            }
            let mut meta = tx.open_table(META).map_err(|e| self.err(e))?;
            let bytes = postcard::to_allocvec(checkpoint).map_err(|e| self.err(e))?;
            meta.insert(META_KEY, bytes.as_slice())
                .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(s: &Store) -> Vec<(String, Vec<u8>)> {
        let mut rows = Vec::new();
        s.for_each(|k, v| {
            rows.push((k.to_owned(), v.to_vec()));
            Ok(())
        })
        .expect("scan");
        rows
    }

    #[test]
    fn a_commit_is_read_back_after_reopening() {
        let dir = std::env::temp_dir().join(format!("composerp-store-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cp = Checkpoint {
            offsets: vec![3, 7],
            changelog_next: 11,
            max_event_time: 5,
            epoch: 7,
            sole: true,
        };
        {
            let mut s = Store::open(&dir, 2).expect("open");
            assert_eq!(s.checkpoint().expect("empty"), Checkpoint::default());
            s.commit([("a", Some(&b"1"[..])), ("b", Some(&b"2"[..]))], &cp, true)
                .expect("commit");
            s.commit([("a", None)], &cp, true).expect("delete");
        }
        let s = Store::open(&dir, 2).expect("reopen");
        assert_eq!(s.checkpoint().expect("cp"), cp);
        assert_eq!(rows(&s), vec![("b".to_owned(), b"2".to_vec())]);
        let mut s = s;
        s.clear().expect("clear");
        assert_eq!(s.checkpoint().expect("cleared"), Checkpoint::default());
        let mut left = 0;
        s.for_each(|_, _| {
            left += 1;
            Ok(())
        })
        .expect("scan");
        assert_eq!(left, 0, "no state survives a clear");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn staged_rows_are_written_once_per_key_with_the_checkpoint() {
        let dir =
            std::env::temp_dir().join(format!("composerp-store-stage-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cp = Checkpoint {
            offsets: vec![9],
            changelog_next: 4,
            max_event_time: 1,
            epoch: 2,
            sole: true,
        };
        let mut s = Store::open(&dir, 0).expect("open");
        s.stage([
            ("b".to_owned(), Some(b"1".to_vec())),
            ("a".to_owned(), Some(b"1".to_vec())),
        ]);
        s.stage([
            ("b".to_owned(), Some(b"2".to_vec())),
            ("a".to_owned(), None),
        ]);
        assert_eq!(
            s.staged(),
            2,
            "a later batch's row replaces the earlier one"
        );
        assert!(s.due(Duration::from_secs(3600), 2));
        assert!(!s.due(Duration::from_secs(3600), 3));
        assert_eq!(
            s.checkpoint().expect("nothing written yet"),
            Checkpoint::default()
        );
        s.write(&cp).expect("write");
        assert_eq!(s.staged(), 0);
        drop(s);
        let s = Store::open(&dir, 0).expect("reopen");
        assert_eq!(s.checkpoint().expect("cp"), cp);
        assert_eq!(rows(&s), vec![("b".to_owned(), b"2".to_vec())]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
