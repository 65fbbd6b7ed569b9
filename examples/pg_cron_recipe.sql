-- Scheduling exports with pg_cron (run in the database named by cron.database_name).
-- Nightly at 02:30 UTC: export schema analytics of database "app".
SELECT cron.schedule_in_database(
    'redshift-export-analytics',
    '30 2 * * *',
    $$SELECT count(*) FROM redshift_export_schema('analytics')$$,
    'app');
-- Each run's outcome: status 'succeeded' or 'failed', with the error in return_message.
SELECT jobid, runid, status, return_message, start_time, end_time
FROM cron.job_run_details ORDER BY runid DESC LIMIT 10;
-- Stop it:
-- SELECT cron.unschedule('redshift-export-analytics');

-- Change data capture: after SELECT * FROM redshift_cdc_start('analytics', ...) in "app" (on its
-- own), export the stream every minute; the first run exports the base, later ones the changes.
SELECT cron.schedule_in_database(
    'redshift-cdc-analytics',
    '* * * * *',
    $$SELECT count(*) FROM redshift_cdc_export('analytics')$$,
    'app');
-- How far behind it is, and its last failure:
-- SELECT name, wal_status, retained_wal_bytes, seconds_since_export, last_error FROM redshift_cdc_status();
