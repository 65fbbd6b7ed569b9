-- Run after every function exists (pgrx finalize): fixed settings and EXECUTE grants.
-- Exports print values with fixed settings, whatever the caller's; PostgreSQL restores the
-- caller's settings when the function returns or fails.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure
        FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = '@extschema@'::regnamespace
          AND p.proname IN ('redshift_export', 'redshift_export_schema', 'redshift_cdc_export')
    LOOP
        EXECUTE pg_catalog.format(
            'ALTER FUNCTION %s SET DateStyle = %L SET TimeZone = %L SET IntervalStyle = %L SET extra_float_digits = 1',
            f, 'ISO, YMD', 'UTC', 'iso_8601');
        EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO pg2redshift_exporter', f);
    END LOOP;
    -- The clean-up of leftovers removes objects with the server's credentials: exporters only.
    FOR f IN
        SELECT p.oid::regprocedure
        FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = '@extschema@'::regnamespace AND p.proname = 'redshift_export_cleanup'
    LOOP
        EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO pg2redshift_exporter', f);
    END LOOP;
    -- Starting and stopping change streams (each pins WAL for the whole server): stream admins.
    FOR f IN
        SELECT p.oid::regprocedure
        FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = '@extschema@'::regnamespace
          AND p.proname IN ('redshift_cdc_start', 'redshift_cdc_start_schema', 'redshift_cdc_stop')
    LOOP
        EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO pg2redshift_stream_admin', f);
    END LOOP;
END
$$;
