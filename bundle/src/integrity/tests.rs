use super::*;
use crate::descriptor::tests::sample;
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
    b
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
    let mut b = under_prefix();
    b.export[0].bundle_key = "other-prefix/app/public.u/20261122T003000Z-1a2b3c4d/bundle.json".into();
    assert!(matches!(check_bundle(KEY, &b), Err(IntegrityError::Sibling { .. })));
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
