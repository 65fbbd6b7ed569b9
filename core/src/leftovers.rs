//! What an export that never finished leaves in S3, and which of it is safe to remove.
//!
//! A failed export removes what it wrote itself, but a backend that is terminated (FATAL does
//! not unwind), a crash or a postmaster restart leaves open multipart uploads and export
//! folders without a `bundle.json`. Such a folder can never be loaded: bundle.json is written
//! last and is the commit marker. Only what is older than a given age is a leftover (a younger
//! folder may belong to an export still running), and only folders that hold nothing but the
//! files an export writes (`part-NNNNN.csv.gz`, `manifest.json`, `signature.json`), so that foreign objects under
//! the same prefix are never touched. An export document (`_exports/<id>/export.json`) is a
//! leftover when it is old and no table of its export has a bundle.json.

use std::collections::{BTreeMap, HashSet};

use pg2redshift_bundle::{BUNDLE_FILE, EXPORT_FILE, EXPORTS_FOLDER};

/// An object as listed under the prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    /// Last modified, microseconds since the Unix epoch.
    pub modified_us: i64,
}

/// A multipart upload as listed under the prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub key: String,
    pub upload_id: String,
    /// When it was started, microseconds since the Unix epoch.
    pub initiated_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leftover {
    /// An open multipart upload started before the cut-off.
    Upload(Upload),
    /// An object of an export folder that has no bundle.json and nothing newer than the cut-off.
    Object(Object),
}

impl Leftover {
    pub fn key(&self) -> &str {
        match self {
            Leftover::Upload(u) => &u.key,
            Leftover::Object(o) => &o.key,
        }
    }

    /// What it is, as the clean-up function reports it.
    pub fn kind(&self) -> &'static str {
        match self {
            Leftover::Upload(_) => "multipart upload",
            Leftover::Object(_) => "uncommitted object",
        }
    }

    pub fn time_us(&self) -> i64 {
        match self {
            Leftover::Upload(u) => u.initiated_us,
            Leftover::Object(o) => o.modified_us,
        }
    }
}

/// The file names an export writes into its folder before bundle.json.
fn is_export_file(name: &str) -> bool {
    if name == pg2redshift_bundle::MANIFEST_FILE || name == pg2redshift_bundle::signature::SIGNATURE_FILE {
        return true;
    }
    let number = name.strip_prefix("part-").and_then(|n| {
        pg2redshift_bundle::Compression::ALL.into_iter().find_map(|c| n.strip_suffix(c.file_suffix()))
    });
    let Some(number) = number else {
        return false;
    };
    !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())
}

/// Leftovers among `objects` and `uploads`, older than `cutoff_us`: uploads first, then
/// objects by key.
pub fn leftovers(objects: &[Object], uploads: &[Upload], cutoff_us: i64) -> Vec<Leftover> {
    let mut out: Vec<Leftover> =
        uploads.iter().filter(|u| u.initiated_us < cutoff_us).cloned().map(Leftover::Upload).collect();
    let mut folders: BTreeMap<&str, Vec<&Object>> = BTreeMap::new();
    // (database folder, export id) of every export with at least one committed table.
    let mut committed: HashSet<(&str, &str)> = HashSet::new();
    for object in objects {
        let (folder, name) = object.key.rsplit_once('/').unwrap_or(("", &object.key));
        folders.entry(folder).or_default().push(object);
        if name == BUNDLE_FILE
            && let Some((table_folder, id)) = folder.rsplit_once('/')
            && let Some((database_folder, _)) = table_folder.rsplit_once('/')
        {
            committed.insert((database_folder, id));
        }
    }
    for (folder, files) in folders {
        let name = |o: &Object| o.key.rsplit_once('/').map_or(o.key.clone(), |(_, n)| n.to_string());
        let old = files.iter().all(|o| o.modified_us < cutoff_us);
        let document_of = folder.rsplit_once('/').and_then(|(rest, id)| {
            rest.strip_suffix(EXPORTS_FOLDER).and_then(|d| d.strip_suffix('/')).map(|database_folder| (database_folder, id))
        });
        if let Some(export) = document_of {
            let only_document = files.iter().all(|o| name(o) == EXPORT_FILE);
            if only_document && old && !committed.contains(&export) {
                out.extend(files.into_iter().cloned().map(Leftover::Object));
            }
            continue;
        }
        let ours = files.iter().all(|o| is_export_file(&name(o)));
        if ours && old {
            out.extend(files.into_iter().cloned().map(Leftover::Object));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(key: &str, modified_us: i64) -> Object {
        Object { key: key.into(), modified_us }
    }

    #[test]
    fn only_old_uncommitted_export_folders_and_uploads() {
        let objects = [
            // Committed: has its bundle.json.
            object("p/app/s.t/1/part-00000.csv.gz", 10),
            object("p/app/s.t/1/manifest.json", 10),
            object("p/app/s.t/1/bundle.json", 10),
            // Uncommitted and old: removed.
            object("p/app/s.t/2/part-00000.csv.gz", 10),
            object("p/app/s.t/2/part-00001.csv.zst", 20),
            // Uncommitted but one file is new: an export may still be writing it.
            object("p/app/s.t/3/part-00000.csv.gz", 10),
            object("p/app/s.t/3/part-00001.csv.gz", 500),
            // Not ours: left alone.
            object("p/app/s.t/4/part-00000.csv.gz", 10),
            object("p/app/s.t/4/notes.txt", 10),
            object("p/readme.txt", 10),
            // Export documents: of a committed export (kept), of one that committed nothing
            // (removed), new (kept), beside a foreign object (kept).
            object("p/app/_exports/1/export.json", 10),
            object("p/app/_exports/2/export.json", 10),
            object("p/app/_exports/3/export.json", 500),
            object("p/app/_exports/4/export.json", 10),
            object("p/app/_exports/4/notes.txt", 10),
        ];
        let uploads = [
            Upload { key: "p/app/s.t/5/part-00000.csv.gz".into(), upload_id: "u1".into(), initiated_us: 10 },
            Upload { key: "p/app/s.t/6/part-00000.csv.gz".into(), upload_id: "u2".into(), initiated_us: 500 },
        ];
        let found = leftovers(&objects, &uploads, 100);
        let keys: Vec<(&str, &str)> = found.iter().map(|l| (l.kind(), l.key())).collect();
        assert_eq!(
            keys,
            [
                ("multipart upload", "p/app/s.t/5/part-00000.csv.gz"),
                ("uncommitted object", "p/app/_exports/2/export.json"),
                ("uncommitted object", "p/app/s.t/2/part-00000.csv.gz"),
                ("uncommitted object", "p/app/s.t/2/part-00001.csv.zst"),
            ]
        );
    }

    #[test]
    fn export_file_names() {
        assert!(is_export_file("part-00000.csv.gz"));
        assert!(is_export_file("manifest.json"));
        assert!(is_export_file("signature.json"));
        assert!(!is_export_file("bundle.json"));
        assert!(!is_export_file("part-.csv.gz"));
        assert!(!is_export_file("part-0a.csv.gz"));
    }
}
