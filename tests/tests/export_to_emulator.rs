//! The extension's export loaded by the Redshift emulator, the oracle that follows Redshift's
//! documentation: the bundle's CREATE TABLE is accepted as Redshift DDL, its COPY options load
//! every file of the manifest, and every value reads back as the source holds it.

use e2e::{S3, describe, expect_sqlstate, export, export_database, redshift, redshift_iam_role, text_rows, unique_prefix};


#[test]
fn an_export_loads_into_the_emulator_unchanged() {
    let mut src = export_database("e2e_export_to_emulator");
    src.batch_execute(
        "SET TimeZone = 'UTC';
         CREATE TABLE fidelity (
             id int PRIMARY KEY, t text, v varchar(10), ch char(3), n numeric(12,3), f float8, bo bool,
             d date, ts timestamp, tstz timestamptz, b bytea, u uuid, jb jsonb, big bigint, sm smallint);
         INSERT INTO fidelity VALUES
           (1, 'plain', 'ab', 'xy', 1.5, 0.1, true, '2024-02-29', '2024-02-29 10:11:12.123456',
            '2024-02-29 10:11:12.5+02', '\\x00ff', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"k\": [1, \"two\"]}', 9007199254740993, -32768),
           (2, '', '', '   ', 0, -1.5e-300, false, '0001-01-01', '1999-12-31 23:59:59', '1970-01-01 00:00:00+00', '\\x00', NULL, 'null', NULL, NULL),
           (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
           (4, E'multi\\nline, \"quoted\"\\r\\n\\\\N back\\\\slash 😀', 'éé', 'a', -123456789.999, 1e300, true,
            '9999-12-31', '2000-01-01 00:00:00.000001', '2038-01-19 03:14:07.999999+00', '\\xdeadbeef', NULL, '[]', -1, 1);",
    )
    .unwrap_or_else(|e| panic!("{}", describe(&e)));
    // Both codecs, each read back by the emulator's COPY.
    for codec in ["gzip", "zstd"] {
        load_and_compare(&mut src, codec);
    }

    // The codec by default is zstd; a level alone names its codec; a level of the other codec
    // than the one named is refused rather than ignored.
    let s3 = S3::stack();
    let prefix = unique_prefix("export-codecs");
    let codec_of = |src: &mut postgres::Client, options: &str| {
        let out = export(src, &format!("redshift_export('fidelity', prefix => '{prefix}'{options})"));
        s3.bundle(&out[0].bundle_url).encoding.compression
    };
    assert_eq!(codec_of(&mut src, ""), "zstd");
    assert_eq!(codec_of(&mut src, ", gzip_level => 6"), "gzip");
    assert_eq!(codec_of(&mut src, ", zstd_level => 9"), "zstd");
    src.batch_execute("SET pg2redshift.compression = 'gzip'").unwrap();
    assert_eq!(codec_of(&mut src, ""), "gzip");
    src.batch_execute("RESET pg2redshift.compression").unwrap();
    let message = expect_sqlstate(
        &mut src,
        &format!("SELECT * FROM redshift_export('fidelity', prefix => '{prefix}', compression => 'zstd', gzip_level => 6)"),
        "22023",
    );
    assert!(message.contains("gzip_level"), "{message}");
    expect_sqlstate(&mut src, &format!("SELECT * FROM redshift_export('fidelity', prefix => '{prefix}', compression => 'lz4')"), "22023");
}

fn load_and_compare(src: &mut postgres::Client, codec: &str) {
    let prefix = unique_prefix("export-to-emulator");
    let out = export(src, &format!("redshift_export('fidelity', prefix => '{prefix}', compression => '{codec}')"));
    let s3 = S3::stack();
    let bundle = s3.bundle(&out[0].bundle_url);
    assert_eq!(s3.rows(&bundle).len(), 4, "{codec}: the files decode with the bundle's codec");

    let mut rs = redshift();
    rs.batch_execute("DROP TABLE IF EXISTS public.fidelity_loaded").expect("drop");
    let ddl = bundle.table.create_table_sql_as("public", "fidelity_loaded");
    rs.batch_execute(&ddl).unwrap_or_else(|e| panic!("the bundle's DDL is refused: {}\n{ddl}", describe(&e)));
    let enc = &bundle.encoding;
    assert_eq!((enc.format.as_str(), enc.null_as.as_str(), enc.compression.as_str()), ("csv", "\0", codec));
    let copy = format!(
        "COPY public.fidelity_loaded FROM 's3://{}/{}' IAM_ROLE '{}' MANIFEST FORMAT AS CSV DELIMITER '{}' QUOTE AS '{}' NULL AS '\\0' {}",
        s3.bucket,
        bundle.manifest_key,
        redshift_iam_role(),
        enc.delimiter,
        enc.quote.replace('\'', "''"),
        codec.to_uppercase(),
    );
    let loaded = rs.execute(&copy, &[]).unwrap_or_else(|e| panic!("{copy}: {}", describe(&e)));
    assert_eq!(loaded, 4);

    let cols = "id, t, v, ch, n, f, bo, d, ts, tstz, b, u, jb, big, sm";
    // Redshift shows VARBYTE as bare hexadecimal (r_VARBYTE_type), PostgreSQL bytea as `\x…`.
    let source_cols = cols.replace(" b,", " encode(b, 'hex'),");
    let expected = text_rows(src, &format!("SELECT {source_cols} FROM fidelity ORDER BY id"));
    let got = text_rows(&mut rs, &format!("SELECT {cols} FROM public.fidelity_loaded ORDER BY id"));
    for (e, g) in expected.iter().zip(&got) {
        assert_eq!(e, g, "{codec}: row differs between the source and the emulator");
    }
    assert_eq!(expected.len(), got.len());
    // NULL stays NULL and '' stays '' (CSV NULL AS '\0').
    let empties = text_rows(&mut rs, "SELECT t IS NULL, t = '' FROM public.fidelity_loaded WHERE id IN (2, 3) ORDER BY id");
    assert_eq!(
        empties,
        vec![vec![Some("f".into()), Some("t".into())], vec![Some("t".into()), None]]
    );
}
