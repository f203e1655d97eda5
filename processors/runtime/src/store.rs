//! The local state store of one partition: a fjall database (a log-structured store) holding
//! every key's state and a meta record (input offsets, changelog position), written in the same
//! atomic batch, so the store is always a consistent checkpoint of the state and the progress
//! it reflects. fjall was chosen by measurement over redb and RocksDB (BENCHMARKS.md, "State
//! store"): the engine rewrites random keys every few seconds, which a log-structured store
//! takes about ten times faster than redb's copy-on-write B-tree, without RocksDB's C++ build.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use serde::{Deserialize, Serialize};

use crate::order::Run;

const STATES: &str = "states";
const META: &str = "meta";
/// The checkpoint's key. Version 2 added [`Checkpoint::sole`] and version 3
/// [`Checkpoint::order`]; a store with only an earlier version's key reads as untrusted, so it
/// is rebuilt from the changelog once.
const META_KEY: &str = "checkpoint.v3";

/// Why the store failed; the process stops and restarts from its last checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store reported an error.
    #[error("state store {path}: {detail}")]
    Io {
        /// Store directory.
        path: PathBuf,
        /// The store's message.
        detail: String,
    },
    /// A stored value does not decode.
    #[error("state store {path}: corrupt value: {detail}")]
    Corrupt {
        /// Store directory.
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
    /// The input order applied past `offsets` as the process had logged it ([`crate::order`]):
    /// the changelog's order log at a position before `changelog_next` is not read again.
    pub order: Vec<Run>,
}

/// A partition's store, with the rows of recent commits staged in memory until the next
/// write: the store only shortens restarts (the changelog is the partition's state), so it is
/// written every few seconds rather than per batch, and a key changed by several batches in
/// between is written once.
pub struct Store {
    db: Database,
    states: Keyspace,
    meta: Keyspace,
    path: PathBuf,
    /// Size of the store's files after its last write.
    bytes: u64,
    staged: foldhash::HashMap<String, Option<Vec<u8>>>,
    written_at: Instant,
}

/// Block cache per partition store. Every state is in memory already (the store is read once,
/// at restore, and then only written), so a larger cache would only hold a second copy.
const STORE_CACHE_BYTES: u64 = 4 << 20;
/// One memtable's size before it is flushed to a table file: written rows are in memory until
/// then, so this bounds the store's share of the process's memory.
const STORE_MEMTABLE_BYTES: u64 = 4 << 20;
/// The journal's size on disk before memtables are flushed to free it.
const STORE_JOURNAL_BYTES: u64 = 64 << 20;

impl Store {
    /// Opens or creates `<dir>/partition-<p>.fjall`. A store file of the earlier format
    /// (`partition-<p>.redb`) is removed: the partition is rebuilt from the changelog instead.
    pub fn open(dir: &Path, partition: i32) -> Result<Self, StoreError> {
        let path = dir.join(format!("partition-{partition}.fjall"));
        let err = |e: &dyn std::fmt::Display| StoreError::Io {
            path: path.clone(),
            detail: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
        let old = dir.join(format!("partition-{partition}.redb"));
        if old.exists() {
            tracing::info!(file = %old.display(), "Removing a state store of the earlier format; the partition is rebuilt from the changelog.");
            std::fs::remove_file(&old).map_err(|e| err(&e))?;
        }
        let db = Database::builder(&path)
            .cache_size(STORE_CACHE_BYTES)
            .worker_threads(1)
            .max_journaling_size(STORE_JOURNAL_BYTES)
            .open()
            .map_err(|e| err(&e))?;
        let options = || KeyspaceCreateOptions::default().max_memtable_size(STORE_MEMTABLE_BYTES);
        let states = db.keyspace(STATES, options).map_err(|e| err(&e))?;
        let meta = db.keyspace(META, options).map_err(|e| err(&e))?;
        let bytes = dir_size(&path);
        Ok(Store {
            db,
            states,
            meta,
            path,
            bytes,
            staged: foldhash::HashMap::default(),
            written_at: Instant::now(),
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Io {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    /// Size of the store's files in bytes as of its last write (files that cannot be read count
    /// 0): the engine reports it per batch, and it only changes when the store is written.
    pub fn file_size(&self) -> u64 {
        self.bytes
    }

    /// The stored checkpoint, or the empty one for a new store.
    pub fn checkpoint(&self) -> Result<Checkpoint, StoreError> {
        match self.meta.get(META_KEY).map_err(|e| self.err(e))? {
            Some(v) => postcard::from_bytes(&v).map_err(|e| StoreError::Corrupt {
                path: self.path.clone(),
                detail: e.to_string(),
            }),
            None => Ok(Checkpoint::default()),
        }
    }

    /// Removes every state, staged row and the checkpoint, in one batch forced to disk.
    pub fn clear(&mut self) -> Result<(), StoreError> {
        self.staged.clear();
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        for keyspace in [&self.states, &self.meta] {
            for row in keyspace.iter() {
                let key = row.key().map_err(|e| self.err(e))?;
                batch.remove(keyspace, key);
            }
        }
        batch.commit().map_err(|e| self.err(e))?;
        self.bytes = dir_size(&self.path);
        Ok(())
    }

    /// Calls `f` with every stored (key, value).
    pub fn for_each(
        &self,
        mut f: impl FnMut(&str, &[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for row in self.states.iter() {
            let (k, v) = row.into_inner().map_err(|e| self.err(e))?;
            let key = std::str::from_utf8(&k).map_err(|e| StoreError::Corrupt {
                path: self.path.clone(),
                detail: format!("a key is not UTF-8: {e}"),
            })?;
            f(key, &v)?;
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

    /// Writes the staged rows, in key order, and the checkpoint they reach in one batch forced
    /// to disk.
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

    /// Writes changed states (None deletes) and the checkpoint in one atomic batch, forced to
    /// disk if `durable`; a commit that is not may be lost in a crash, which only means
    /// replaying more of the changelog.
    pub fn commit<'a>(
        &mut self,
        changes: impl IntoIterator<Item = (&'a str, Option<&'a [u8]>)>,
        checkpoint: &Checkpoint,
        durable: bool,
    ) -> Result<(), StoreError> {
        let mut batch = self
            .db
            .batch()
            .durability(durable.then_some(PersistMode::SyncAll));
        for (k, v) in changes {
            match v {
                Some(v) => batch.insert(&self.states, k, v),
                None => batch.remove(&self.states, k),
            }
        }
        let bytes = postcard::to_allocvec(checkpoint).map_err(|e| self.err(e))?;
        batch.insert(&self.meta, META_KEY, bytes);
        batch.commit().map_err(|e| self.err(e))?;
        self.bytes = dir_size(&self.path);
        Ok(())
    }
}

/// Bytes of the files under `path`, recursively (files that cannot be read count 0).
fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(m) if m.is_dir() => dir_size(&entry.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
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
            order: vec![Run { input: 1, end: 9 }],
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
    fn a_store_of_the_earlier_format_is_removed_and_starts_empty() {
        let dir = std::env::temp_dir().join(format!("composerp-store-old-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let old = dir.join("partition-3.redb");
        std::fs::write(&old, b"a redb file").expect("old file");
        let s = Store::open(&dir, 3).expect("open");
        assert!(!old.exists(), "the earlier format's file is gone");
        assert_eq!(s.checkpoint().expect("empty"), Checkpoint::default());
        assert!(
            rows(&s).is_empty(),
            "rebuilt from the changelog, not the old file"
        );
        drop(s);
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
            order: Vec::new(),
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
