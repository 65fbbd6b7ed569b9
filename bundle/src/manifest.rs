//! Redshift's COPY manifest (loading-data-files-using-manifest): the exact list of data files,
//! so COPY never picks up a stray object that merely shares the prefix.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub entries: Vec<ManifestEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// `s3://bucket/key`.
    pub url: String,
    /// COPY fails if a mandatory file is missing instead of loading less.
    pub mandatory: bool,
    pub meta: ManifestMeta,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestMeta {
    /// Object size in bytes; Redshift requires it for some sources and checks it for all.
    pub content_length: u64,
}

impl Manifest {
    /// A manifest listing `(url, size)` pairs, every one mandatory.
    pub fn of_files<'a>(files: impl IntoIterator<Item = (&'a str, u64)>) -> Manifest {
        Manifest {
            entries: files
                .into_iter()
                .map(|(url, content_length)| ManifestEntry {
                    url: url.to_string(),
                    mandatory: true,
                    meta: ManifestMeta { content_length },
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_in_redshifts_format() {
        let m = Manifest::of_files([("s3://b/k/part-00000.csv.gz", 42)]);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(
            json,
            r#"{"entries":[{"url":"s3://b/k/part-00000.csv.gz","mandatory":true,"meta":{"content_length":42}}]}"#
        );
        assert_eq!(serde_json::from_str::<Manifest>(&json).unwrap(), m);
    }
}
