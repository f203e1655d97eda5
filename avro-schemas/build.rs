//! Embeds every `.avsc` file below this folder, so the catalog needs nothing at run time.
use std::{env, fs, path::Path};

fn collect(dir: &Path, root: &Path, out: &mut Vec<String>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("schema folder is readable")
        .map(|e| e.expect("schema folder entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() && !path.ends_with("src") && !path.ends_with("target") {
            println!("cargo:rerun-if-changed={}", path.display());
            collect(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "avsc") {
            let rel = path
                .strip_prefix(root)
                .expect("below root")
                .to_string_lossy()
                .replace('\\', "/");
            out.push(format!(
                "    ({rel:?}, include_str!({:?})),",
                path.display().to_string()
            ));
        }
    }
}

fn main() {
    // Read when the script runs, not when it was compiled: cargo reuses a compiled build script
    // across checkouts of the workspace in other folders (same target directory), and the
    // schemas must be this checkout's.
    let dir = env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR set by cargo");
    let root = Path::new(&dir);
    let mut rows = Vec::new();
    collect(root, root, &mut rows);
    println!("cargo:rerun-if-changed=ids.toml");
    let code = format!(
        "/// Every embedded schema file: (path below avro-schemas/, text).\npub(crate) static EMBEDDED: &[(&str, &str)] = &[\n{}\n];\n",
        rows.join("\n")
    );
    let out = Path::new(&env::var("OUT_DIR").expect("OUT_DIR set by cargo")).join("embedded.rs");
    fs::write(out, code).expect("write embedded.rs");
}
