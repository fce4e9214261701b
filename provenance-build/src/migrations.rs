//! sqlx migrations: `mig:` artifacts and what their DDL creates or alters, through
//! `provenance_sqlx::analyze` (the same SQL analysis the instrumented pool uses).

use std::path::{Path, PathBuf};

use provenance::{ArchLayer, Relation, column_id, migration_id, table_id};
use provenance_sqlx::Dialect;

use crate::scan::Scan;
use crate::scanner::report;

/// A migration file's version and description, as sqlx reads them from its name:
/// `20240315_add_status.sql` or `20240315_add_status.up.sql` is version 20240315, description
/// `add status` (sqlx turns `_` into spaces, and `Pool::migrate` records that description, so
/// the scan does too and both give one ID). Down migrations and other files are `None`.
pub(crate) fn parse_name(file_name: &str) -> Option<(u64, String)> {
    if file_name.ends_with(".down.sql") {
        return None;
    }
    let stem = file_name
        .strip_suffix(".up.sql")
        .or_else(|| file_name.strip_suffix(".sql"))?;
    let (version, description) = stem.split_once('_').unwrap_or((stem, ""));
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((version.parse().ok()?, description.replace('_', " ")))
}

/// Reads the migrations in `dir` into `out` and returns the files read.
pub(crate) fn read(dir: &Path, dialect: Dialect, base: &Path, out: &mut Scan) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(u64, String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let path = e.path();
            let (version, description) = parse_name(path.file_name()?.to_str()?)?;
            path.is_file().then_some((version, description, path))
        })
        .collect();
    files.sort();
    let mut read = Vec::with_capacity(files.len());
    for (version, description, path) in files {
        let file = report(base, &path);
        let sql = match std::fs::read_to_string(&path) {
            Ok(sql) => sql,
            Err(e) => {
                out.warnings
                    .push(format!("{file}: cannot read: {e}; skipped"));
                continue;
            }
        };
        read.push(path);
        let Ok(mig) = migration_id(version, &description) else {
            continue;
        };
        out.artifacts.insert(
            mig.clone(),
            (Some(ArchLayer::Migration), Some(file.clone())),
        );
        let analysis = match provenance_sqlx::analyze(&sql, dialect) {
            Ok(analysis) => analysis,
            Err(e) => {
                out.warnings.push(format!(
                    "{file}: SQL not understood ({e}); the migration is recorded without its tables"
                ));
                continue;
            }
        };
        for table in analysis.writes() {
            if let Ok(tbl) = table_id(table) {
                out.edges.insert((mig.clone(), Relation::Produced, tbl));
            }
        }
        for column in analysis.written_columns() {
            let t = column.table();
            if let (Ok(tbl), Ok(col)) = (table_id(t), column_id(t, column.column())) {
                out.edges
                    .insert((tbl.clone(), Relation::Contains, col.clone()));
                out.edges.insert((mig.clone(), Relation::Produced, col));
            }
        }
    }
    read
}

#[cfg(test)]
mod tests {
    use super::parse_name;

    #[test]
    fn names_as_sqlx_reads_them() {
        assert_eq!(
            parse_name("20240315_add_status.sql"),
            Some((20240315, "add status".to_owned()))
        );
        assert_eq!(parse_name("0001_init.up.sql"), Some((1, "init".to_owned())));
        assert_eq!(parse_name("0001_init.down.sql"), None);
        assert_eq!(parse_name("README.md"), None);
        assert_eq!(parse_name("v1_init.sql"), None);
    }
}
