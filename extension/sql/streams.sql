-- Change streams (CDC): a logical replication slot and a publication per stream, created and
-- dropped by the extension's functions as the extension's owner. Starting and stopping one is
-- for superusers and members of pg2redshift_stream_admin (a slot pins WAL for the whole
-- server); exporting its changes is for exporters with the stream's destination.
-- Every operator and function below is schema-qualified, as in destinations.sql.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'pg2redshift_stream_admin') THEN
        CREATE ROLE pg2redshift_stream_admin NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

CREATE TABLE redshift_cdc_stream (
    -- Also names the slot and publication (pg2redshift_<name>), so plain lowercase only.
    name               text PRIMARY KEY CHECK (name OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,39}$'),
    tables             oid[] NOT NULL,
    -- Each table's columns and key as logical decoding will describe them, at the start.
    spec               jsonb NOT NULL,
    destination        text REFERENCES redshift_destination (name) ON UPDATE CASCADE,
    target_schema      text,
    on_unrepresentable text,
    numeric_scale      integer NOT NULL DEFAULT 10,
    slot_name          name NOT NULL UNIQUE,
    publication        name NOT NULL UNIQUE,
    created_by         name NOT NULL DEFAULT session_user,
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- The base snapshot (NULL until the first redshift_cdc_export), and up to where changes
    -- may already be in it.
    base_export_id     text,
    overlap_until      pg_lsn,
    -- End of the last batch written (or of the base): the next batch starts here.
    next_lsn           pg_lsn,
    last_export_id     text,
    last_exported_at   timestamptz,
    -- Commit time of the newest change exported.
    last_commit_at     timestamptz,
    changes_exported   bigint NOT NULL DEFAULT 0
);
COMMENT ON TABLE redshift_cdc_stream IS 'Change streams to Redshift (pg2redshift).';
GRANT SELECT ON redshift_cdc_stream TO pg2redshift_exporter, pg2redshift_stream_admin;

-- Each stream with its slot's state: how much WAL it holds back, how far its exports lag, and
-- whether the slot is still usable (wal_status 'lost': invalidated by max_slot_wal_keep_size).
CREATE FUNCTION redshift_cdc_status()
RETURNS TABLE (name text, tables regclass[], destination text, slot_name name, slot_active boolean,
               wal_status text, retained_wal_bytes numeric, unexported_wal_bytes numeric,
               base_export_id text, next_lsn pg_lsn, last_export_id text, last_exported_at timestamptz,
               last_commit_at timestamptz, seconds_since_export double precision, changes_exported bigint,
               last_error text, last_error_at timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $body$
    SELECT s.name, s.tables::pg_catalog.regclass[], s.destination, s.slot_name, r.active,
           CASE WHEN r.slot_name IS NULL THEN 'missing' ELSE r.wal_status END,
           pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.restart_lsn),
           pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.confirmed_flush_lsn),
           s.base_export_id, s.next_lsn, s.last_export_id, s.last_exported_at, s.last_commit_at,
           pg_catalog.date_part('epoch', pg_catalog.now() OPERATOR(pg_catalog.-) s.last_exported_at),
           s.changes_exported,
           h.error, h.finished_at
    FROM @extschema@.redshift_cdc_stream s
    LEFT JOIN pg_catalog.pg_replication_slots r ON r.slot_name OPERATOR(pg_catalog.=) s.slot_name
    LEFT JOIN LATERAL (
        SELECT x.error, x.finished_at FROM @extschema@.redshift_export_history x
        WHERE x.status OPERATOR(pg_catalog.=) 'failed'
          AND pg_catalog.starts_with(x.export_id, 'cdc-' OPERATOR(pg_catalog.||) s.name OPERATOR(pg_catalog.||) '-failed-')
          AND (s.last_exported_at IS NULL OR x.finished_at OPERATOR(pg_catalog.>) s.last_exported_at)
        ORDER BY x.finished_at DESC LIMIT 1
    ) h ON true
    ORDER BY s.name
$body$;
GRANT EXECUTE ON FUNCTION redshift_cdc_status() TO pg2redshift_exporter, pg2redshift_stream_admin;
