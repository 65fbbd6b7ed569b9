use super::*;
use crate::descriptor::tests::{sample, sample_document, sample_v1};
use crate::document::ExportDocument;
use crate::manifest::Manifest;

const KEY: &str = "exports/app/public.t/20261122T003000Z-1a2b3c4d/bundle.json";

/// `sample()` moved under the prefix `exports/`, as the extension would have written it.
fn under_prefix() -> Bundle {
    let mut b = sample();
    b.manifest_key = format!("exports/{}", b.manifest_key);
    for f in &mut b.files {
        f.key = format!("exports/{}", f.key);
    }
    for m in &mut b.export {
        m.bundle_key = format!("exports/{}", m.bundle_key);
    }
    if let Some(d) = &mut b.export_document {
        d.key = format!("exports/{}", d.key);
    }
    b
}

/// `sample_document()` under the prefix `exports/`, with the reference a bundle would make.
fn document_under_prefix() -> (ExportDocument, Vec<u8>, crate::DocumentRef) {
    let mut d = sample_document();
    for m in &mut d.tables {
        m.bundle_key = format!("exports/{}", m.bundle_key);
    }
    let bytes = d.to_json().unwrap().into_bytes();
    let reference = ExportDocument::reference("exports/app/_exports/20261122T003000Z-1a2b3c4d/export.json", &bytes, d.tables.len());
    (d, bytes, reference)
}

#[test]
fn an_export_document_where_the_extension_wrote_it_passes() {
    let (d, bytes, reference) = document_under_prefix();
    assert_eq!(check_document(&reference, &bytes, &d), Ok(()));
    let mut b = under_prefix();
    b.export_document = Some(reference);
    assert!(check_bundle(KEY, &b).is_ok());
}

#[test]
fn a_bundle_naming_another_export_document_is_refused() {
    let mut b = under_prefix();
    if let Some(d) = &mut b.export_document {
        d.key = "exports/app/_exports/20261101T000000Z-00000000/export.json".into();
    }
    assert!(matches!(check_bundle(KEY, &b), Err(IntegrityError::DocumentKey { .. })));
}

#[test]
fn a_changed_or_misplaced_export_document_is_refused() {
    let (d, mut bytes, reference) = document_under_prefix();
    bytes.push(b' ');
    assert!(matches!(check_document(&reference, &bytes, &d), Err(IntegrityError::Document { .. })));

    // A member outside the export's folders, listed twice, or another export's.
    for change in [
        |d: &mut ExportDocument| d.tables[0].bundle_key = "elsewhere/app/public.t/20261122T003000Z-1a2b3c4d/bundle.json".into(),
        |d: &mut ExportDocument| d.tables.push(d.tables[0].clone()),
        |d: &mut ExportDocument| d.tables[0].table = "u".into(),
        |d: &mut ExportDocument| d.tables[0].bundle_key = "exports/app/public.t/20261101T000000Z-00000000/bundle.json".into(),
    ] {
        let (mut d, _, _) = document_under_prefix();
        change(&mut d);
        let bytes = d.to_json().unwrap().into_bytes();
        let reference = ExportDocument::reference("exports/app/_exports/20261122T003000Z-1a2b3c4d/export.json", &bytes, d.tables.len());
        assert!(matches!(check_document(&reference, &bytes, &d), Err(IntegrityError::Member { .. })), "{d:?}");
    }
    // A document read from where another export's belongs.
    let (d, bytes, mut reference) = document_under_prefix();
    reference.key = "exports/app/_exports/20261101T000000Z-00000000/export.json".into();
    assert!(matches!(check_document(&reference, &bytes, &d), Err(IntegrityError::Document { .. })));
    // A count that does not match.
    let (d, bytes, mut reference) = document_under_prefix();
    reference.tables = 2;
    assert!(matches!(check_document(&reference, &bytes, &d), Err(IntegrityError::Document { .. })));
}

fn manifest_of(bucket: &str, b: &Bundle) -> Manifest {
    let urls: Vec<String> = b.files.iter().map(|f| format!("s3://{bucket}/{}", f.key)).collect();
    Manifest::of_files(urls.iter().map(String::as_str).zip(b.files.iter().map(|f| f.compressed_bytes)))
}

#[test]
fn a_bundle_where_the_extension_wrote_it_passes() {
    let b = under_prefix();
    assert_eq!(check_bundle(KEY, &b), Ok("exports/app/public.t/20261122T003000Z-1a2b3c4d/".to_string()));
    assert_eq!(check_bundle("app/public.t/20261122T003000Z-1a2b3c4d/bundle.json", &sample()).map(|_| ()), Ok(()));
    assert_eq!(check_manifest("b", &b, &manifest_of("b", &b)), Ok(()));
}

#[test]
fn a_bundle_claiming_another_table_or_export_is_refused() {
    let mut b = under_prefix();
    b.source.table = "other".into();
    assert!(matches!(check_bundle(KEY, &b), Err(IntegrityError::KeyMismatch { .. })));
    let mut b = under_prefix();
    b.export_id = "20261122T003000Z-ffffffff".into();
    assert!(matches!(check_bundle(KEY, &b), Err(IntegrityError::KeyMismatch { .. })));
    assert_eq!(check_bundle("exports/app/public.t/20261122T003000Z-1a2b3c4d/other.json", &under_prefix()), Err(IntegrityError::NotABundleKey));
}

#[test]
fn files_and_manifests_outside_the_folder_are_refused() {
    let mut b = under_prefix();
    b.files[0].key = "exports/app/public.t/20261101T000000Z-00000000/part-00000.csv.gz".into();
    assert!(matches!(check_bundle(KEY, &b), Err(IntegrityError::FileOutside { .. })));
    let mut b = under_prefix();
    b.files[0].key = "exports/app/public.t/20261122T003000Z-1a2b3c4d/../x/part-00000.csv.gz".into();
    assert!(matches!(check_bundle(KEY, &b), Err(IntegrityError::FileOutside { .. })));
    let mut b = under_prefix();
    b.manifest_key = "exports/elsewhere/manifest.json".into();
    assert!(matches!(check_bundle(KEY, &b), Err(IntegrityError::ManifestKey { .. })));
    let mut b = sample_v1();
    b.export[0].bundle_key = "app/public.u/20261101T000000Z-00000000/bundle.json".into();
    let v1_key = "app/public.t/20261122T003000Z-1a2b3c4d/bundle.json";
    assert!(matches!(check_bundle(v1_key, &b), Err(IntegrityError::Sibling { .. })));
    assert!(check_bundle(v1_key, &sample_v1()).is_ok());
    let mut b = under_prefix();
    b.totals.rows += 1;
    assert_eq!(check_bundle(KEY, &b), Err(IntegrityError::Totals { field: "rows" }));
}

#[test]
fn a_manifest_must_list_exactly_the_bundles_files() {
    let b = under_prefix();
    let mut m = manifest_of("b", &b);
    m.entries[0].url = "s3://b/exports/app/public.t/20261101T000000Z-00000000/part-00000.csv.gz".into();
    assert!(matches!(check_manifest("b", &b, &m), Err(IntegrityError::ManifestEntry { .. })));
    let m = manifest_of("another-bucket", &b);
    assert!(matches!(check_manifest("b", &b, &m), Err(IntegrityError::ManifestEntry { .. })));
    let mut m = manifest_of("b", &b);
    m.entries[0].meta.content_length += 1;
    assert!(matches!(check_manifest("b", &b, &m), Err(IntegrityError::ManifestSize { .. })));
    let mut m = manifest_of("b", &b);
    m.entries[0].mandatory = false;
    assert!(matches!(check_manifest("b", &b, &m), Err(IntegrityError::Optional { .. })));
    let mut m = manifest_of("b", &b);
    m.entries.push(m.entries[0].clone());
    assert!(matches!(check_manifest("b", &b, &m), Err(IntegrityError::ManifestCount { .. })));
}
