//! The schema catalog: every published version of every record, with its Confluent id.

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
    sync::LazyLock,
};

use apache_avro::{Schema, schema_compatibility::SchemaCompatibility};

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// The manifest of embedded ids, `avro-schemas/ids.toml`.
const EMBEDDED_IDS: &str = include_str!("../ids.toml");

/// Why a schema catalog cannot be loaded or fails its checks.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A schema file is not valid Avro.
    #[error("{path}: not a valid Avro schema: {source}")]
    Parse {
        /// File below avro-schemas/.
        path: String,
        /// Parser error.
        source: apache_avro::Error,
    },
    /// A file's name does not follow `<context>/<Record>.v<N>.avsc`.
    #[error(
        "{path}: expected <context>/<Record>.v<N>.avsc naming record composerp.<context>.v1.<Record>"
    )]
    Naming {
        /// File below avro-schemas/.
        path: String,
    },
    /// The id manifest is not valid TOML of `"path" = id` lines.
    #[error("ids.toml: {0}")]
    Manifest(String),
    /// A schema file has no id in the manifest.
    #[error("{path}: no schema id in ids.toml")]
    MissingId {
        /// File below avro-schemas/.
        path: String,
    },
    /// Two files share one id.
    #[error("schema id {id} is used by both {first} and {second}")]
    DuplicateId {
        /// The id.
        id: u32,
        /// One file.
        first: String,
        /// The other file.
        second: String,
    },
    /// Versions of a record are not numbered 1, 2, 3 ….
    #[error("{full_name}: versions must be numbered 1..n without gaps, found {found:?}")]
    VersionGap {
        /// Record full name.
        full_name: String,
        /// Versions found.
        found: Vec<u32>,
    },
    /// A new version cannot read data written with the previous one.
    #[error("{full_name}: version {new} is not BACKWARD compatible with version {old}: {reason}")]
    Incompatible {
        /// Record full name.
        full_name: String,
        /// Previous version.
        old: u32,
        /// New version.
        new: u32,
        /// Why not.
        reason: String,
    },
    /// A schema directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// Path.
        path: String,
        /// OS error.
        source: std::io::Error,
    },
}

/// One published version of one record schema.
#[derive(Debug)]
pub struct SchemaEntry {
    /// Path below avro-schemas/ without `.avsc`, e.g. `pos/SaleCompleted.v2`.
    pub path: String,
    /// Record full name, e.g. `composerp.pos.v1.SaleCompleted`.
    pub full_name: String,
    /// Version number from the file name.
    pub version: u32,
    /// Confluent schema id from ids.toml.
    pub id: u32,
    /// Schema text as written in the file.
    pub text: String,
    /// Parsed schema, alive for the whole program.
    pub schema: &'static Schema,
}

/// Every schema version of the catalog, indexed by id and by record.
#[derive(Debug)]
pub struct SchemaCatalog {
    entries: Vec<SchemaEntry>,
    by_id: HashMap<u32, usize>,
    by_name: BTreeMap<String, Vec<usize>>,
}

static EMBEDDED_CATALOG: LazyLock<SchemaCatalog> = LazyLock::new(|| {
    let files = EMBEDDED
        .iter()
        .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()));
    SchemaCatalog::from_files(files, EMBEDDED_IDS)
        .expect("the embedded schema catalog is valid (checked by its tests)")
});

impl SchemaCatalog {
    /// The catalog compiled into this binary.
    pub fn embedded() -> &'static SchemaCatalog {
        &EMBEDDED_CATALOG
    }

    /// Loads a catalog from a folder laid out like `avro-schemas/` (for `schemas check --dir`).
    pub fn from_dir(dir: &Path) -> Result<SchemaCatalog, CatalogError> {
        let io = |path: &Path, source| CatalogError::Io {
            path: path.display().to_string(),
            source,
        };
        let ids = std::fs::read_to_string(dir.join("ids.toml"))
            .map_err(|e| io(&dir.join("ids.toml"), e))?;
        let mut files = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).map_err(|e| io(&d, e))? {
                let path = entry.map_err(|e| io(&d, e))?.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "avsc") {
                    let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
                    let rel = path
                        .strip_prefix(dir)
                        .unwrap_or(&path)
                        .to_string_lossy()
                        .replace('\\', "/");
                    files.push((rel, text));
                }
            }
        }
        Self::from_files(files, &ids)
    }

    /// Builds a catalog from `(relative path, schema text)` pairs and an ids manifest, and checks it.
    pub fn from_files(
        files: impl IntoIterator<Item = (String, String)>,
        ids_toml: &str,
    ) -> Result<SchemaCatalog, CatalogError> {
        let ids: BTreeMap<String, u32> =
            toml::from_str(ids_toml).map_err(|e| CatalogError::Manifest(e.to_string()))?;
        let mut entries = Vec::new();
        for (rel, text) in files {
            let path = rel.trim_end_matches(".avsc").to_owned();
            let schema = Schema::parse_str(&text).map_err(|source| CatalogError::Parse {
                path: rel.clone(),
                source,
            })?;
            let (full_name, version) =
                naming(&path, &schema).ok_or(CatalogError::Naming { path: rel.clone() })?;
            let id = *ids
                .get(&path)
                .ok_or(CatalogError::MissingId { path: rel.clone() })?;
            entries.push(SchemaEntry {
                path,
                full_name,
                version,
                id,
                text,
                schema: Box::leak(Box::new(schema)),
            });
        }
        entries.sort_by(|a, b| (&a.full_name, a.version).cmp(&(&b.full_name, b.version)));
        let mut by_id = HashMap::new();
        let mut by_name: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, e) in entries.iter().enumerate() {
            if let Some(prev) = by_id.insert(e.id, i) {
                return Err(CatalogError::DuplicateId {
                    id: e.id,
                    first: entries[prev].path.clone(),
                    second: e.path.clone(),
                });
            }
            by_name.entry(e.full_name.clone()).or_default().push(i);
        }
        let catalog = SchemaCatalog {
            entries,
            by_id,
            by_name,
        };
        catalog.check_versions()?;
        Ok(catalog)
    }

    fn check_versions(&self) -> Result<(), CatalogError> {
        for (name, idx) in &self.by_name {
            let versions: Vec<u32> = idx.iter().map(|&i| self.entries[i].version).collect();
            if versions
                .iter()
                .enumerate()
                .any(|(n, &v)| v as usize != n + 1)
            {
                return Err(CatalogError::VersionGap {
                    full_name: name.clone(),
                    found: versions,
                });
            }
        }
        Ok(())
    }

    /// Checks that every version can read data written with the version before it (BACKWARD).
    pub fn check_compatibility(&self) -> Vec<CatalogError> {
        let mut problems = Vec::new();
        for (name, idx) in &self.by_name {
            for pair in idx.windows(2) {
                let (old, new) = (&self.entries[pair[0]], &self.entries[pair[1]]);
                if let Err(e) = SchemaCompatibility::can_read(old.schema, new.schema) {
                    problems.push(CatalogError::Incompatible {
                        full_name: name.clone(),
                        old: old.version,
                        new: new.version,
                        reason: e.to_string(),
                    });
                }
            }
        }
        problems
    }

    /// Every entry, ordered by record name and version.
    pub fn entries(&self) -> &[SchemaEntry] {
        &self.entries
    }

    /// The entry with this Confluent id.
    pub fn by_id(&self, id: u32) -> Option<&SchemaEntry> {
        self.by_id.get(&id).map(|&i| &self.entries[i])
    }

    /// The newest version of a record, the one the Rust types mirror.
    pub fn latest(&self, full_name: &str) -> Option<&SchemaEntry> {
        self.by_name
            .get(full_name)
            .and_then(|v| v.last())
            .map(|&i| &self.entries[i])
    }

    /// Every version of a record, oldest first.
    pub fn versions(&self, full_name: &str) -> impl Iterator<Item = &SchemaEntry> {
        self.by_name
            .get(full_name)
            .into_iter()
            .flatten()
            .map(|&i| &self.entries[i])
    }

    /// Looks an entry up by `composerp.pos.v1.SaleCompleted`, `SaleCompleted`,
    /// `pos/SaleCompleted` (latest) or `pos/SaleCompleted.v1` (that version).
    pub fn find(&self, name: &str) -> Option<&SchemaEntry> {
        if let Some(e) = self.entries.iter().find(|e| e.path == name) {
            return Some(e);
        }
        self.by_name
            .keys()
            .find(|full| {
                *full == name
                    || full.rsplit('.').next() == Some(name)
                    || self
                        .latest(full)
                        .is_some_and(|e| e.path.rsplit_once('.').map(|p| p.0) == Some(name))
            })
            .and_then(|full| self.latest(full))
    }
}

/// Checks `<context>/<Record>.v<N>` against the record's name and namespace.
fn naming(path: &str, schema: &Schema) -> Option<(String, u32)> {
    let (context, file) = path.split_once('/')?;
    let (record, version) = file.rsplit_once(".v")?;
    let version: u32 = version.parse().ok()?;
    let Schema::Record(r) = schema else {
        return None;
    };
    let ns = r.name.namespace()?;
    (r.name.name() == record && ns == format!("composerp.{context}.v1"))
        .then(|| (format!("{ns}.{}", r.name.name()), version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalog_loads_with_an_id_per_file() {
        let c = SchemaCatalog::embedded();
        assert_eq!(c.entries().len(), EMBEDDED.len());
        assert!(c.entries().len() >= 20);
        assert_eq!(
            c.latest("composerp.pos.v1.SaleCompleted")
                .map(|e| e.version),
            Some(2)
        );
    }

    #[test]
    fn every_version_is_backward_compatible_with_the_one_before() {
        let problems = SchemaCatalog::embedded().check_compatibility();
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn an_incompatible_new_version_is_reported() {
        let v1 = r#"{"type":"record","name":"X","namespace":"composerp.t.v1","fields":[{"name":"a","type":"long"}]}"#;
        let v2 = r#"{"type":"record","name":"X","namespace":"composerp.t.v1","fields":[{"name":"a","type":"long"},{"name":"b","type":"string"}]}"#;
        let files = [
            ("t/X.v1.avsc".to_owned(), v1.to_owned()),
            ("t/X.v2.avsc".to_owned(), v2.to_owned()),
        ];
        let c =
            SchemaCatalog::from_files(files, "\"t/X.v1\" = 1\n\"t/X.v2\" = 2\n").expect("loads");
        let problems = c.check_compatibility();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].to_string().contains("not BACKWARD compatible"),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn a_missing_id_or_a_duplicate_id_is_refused() {
        let v1 = r#"{"type":"record","name":"X","namespace":"composerp.t.v1","fields":[]}"#;
        let one = || [("t/X.v1.avsc".to_owned(), v1.to_owned())];
        assert!(matches!(
            SchemaCatalog::from_files(one(), ""),
            Err(CatalogError::MissingId { .. })
        ));
        let y = r#"{"type":"record","name":"Y","namespace":"composerp.t.v1","fields":[]}"#;
        let two = [
            ("t/X.v1.avsc".to_owned(), v1.to_owned()),
            ("t/Y.v1.avsc".to_owned(), y.to_owned()),
        ];
        let dup = SchemaCatalog::from_files(two, "\"t/X.v1\" = 7\n\"t/Y.v1\" = 7\n");
        assert!(matches!(dup, Err(CatalogError::DuplicateId { id: 7, .. })));
    }

    #[test]
    fn a_misnamed_file_is_refused() {
        let v1 = r#"{"type":"record","name":"X","namespace":"composerp.other.v1","fields":[]}"#;
        let r = SchemaCatalog::from_files(
            [("t/X.v1.avsc".to_owned(), v1.to_owned())],
            "\"t/X.v1\" = 1\n",
        );
        assert!(matches!(r, Err(CatalogError::Naming { .. })));
    }

    #[test]
    fn find_accepts_short_and_full_names() {
        let c = SchemaCatalog::embedded();
        for n in [
            "SaleCompleted",
            "composerp.pos.v1.SaleCompleted",
            "pos/SaleCompleted",
        ] {
            assert_eq!(
                c.find(n).map(|e| e.path.as_str()),
                Some("pos/SaleCompleted.v2"),
                "{n}"
            );
        }
        assert_eq!(c.find("pos/SaleCompleted.v1").map(|e| e.version), Some(1));
        assert!(c.find("Nope").is_none());
    }
}
