-- Objects of the extension, created before the functions (pgrx bootstrap).
-- Members of this role may run exports (EXECUTE is revoked from PUBLIC in finalize.sql). Roles are
-- cluster-wide: CREATE EXTENSION in a second database, or two at once, finds it existing.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'pg2redshift_exporter') THEN
        CREATE ROLE pg2redshift_exporter NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

CREATE TABLE redshift_export_history (
    export_id      text PRIMARY KEY,
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz NOT NULL,
    exported_by    name NOT NULL,
    tables         text[] NOT NULL,
    bundle_urls    text[] NOT NULL,
    rows           bigint NOT NULL,
    files          bigint NOT NULL,
    bytes          bigint NOT NULL,
    bytes_gzip     bigint NOT NULL,
    changed_values bigint NOT NULL,
    status         text NOT NULL CHECK (status IN ('committed', 'failed')),
    error          text
);
COMMENT ON TABLE redshift_export_history IS 'One row per redshift_export() call (pg2redshift).';
GRANT SELECT ON redshift_export_history TO pg2redshift_exporter;

-- Exporters record their runs only through this function, so they cannot edit the history.
CREATE FUNCTION _redshift_export_record(
    export_id text, started_at timestamptz, tables text[], bundle_urls text[], rows bigint,
    files bigint, bytes bigint, bytes_gzip bigint, changed_values bigint, status text, error text
) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $body$
    INSERT INTO @extschema@.redshift_export_history
    VALUES (export_id, started_at, pg_catalog.clock_timestamp(), session_user, tables, bundle_urls,
            rows, files, bytes, bytes_gzip, changed_values, status, error)
$body$;
REVOKE EXECUTE ON FUNCTION _redshift_export_record(text, timestamptz, text[], text[], bigint, bigint, bigint, bigint, bigint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION _redshift_export_record(text, timestamptz, text[], text[], bigint, bigint, bigint, bigint, bigint, text, text) TO pg2redshift_exporter;

-- Running exports, from the COPY progress slots the extension fills.
CREATE VIEW redshift_export_progress AS
SELECT p.pid,
       p.relid::regclass AS table_name,
       p.param9 AS table_number,
       p.param10 AS tables,
       p.param3 AS rows,
       p.param1 AS bytes,
       p.param7 AS files_uploaded,
       p.param8 AS bytes_gzip_uploaded,
       CASE p.param11 WHEN 1 THEN 'exporting' WHEN 2 THEN 'committing' WHEN 3 THEN 'cleaning up' END AS phase
FROM pg_catalog.pg_stat_get_progress_info('COPY') AS p
WHERE p.param5 = 2 AND p.param6 = 4 AND p.param11 > 0;
GRANT SELECT ON redshift_export_progress TO pg2redshift_exporter;
