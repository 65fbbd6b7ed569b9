-- The emulator's objects in its backing database (schema rs_emulator): Redshift's types that
-- PostgreSQL lacks, its functions that behave differently, its system views, and the catalog of
-- table attributes. Installed (idempotently) by the emulator at start-up, as the backing
-- superuser. Client SQL reaches these through the emulator's rewriting (src/sql/rewrite.rs).

CREATE SCHEMA IF NOT EXISTS rs_emulator;
GRANT USAGE ON SCHEMA rs_emulator TO PUBLIC;
-- Redshift lets every user create tables in public.
GRANT USAGE, CREATE ON SCHEMA public TO PUBLIC;

DO $$
BEGIN
  -- SUPER: "Amazon Redshift represents SUPER columns in text and CSV formats as serialized JSON"
  -- https://docs.aws.amazon.com/redshift/latest/dg/r_SUPER_type.html
  IF to_regtype('rs_emulator.super') IS NULL THEN
    CREATE DOMAIN rs_emulator.super AS jsonb;
  END IF;
  -- VARBYTE: https://docs.aws.amazon.com/redshift/latest/dg/r_VARBYTE_type.html (its length is
  -- kept in column_attrs, bytea has no typmod).
  IF to_regtype('rs_emulator.varbyte') IS NULL THEN
    CREATE DOMAIN rs_emulator.varbyte AS bytea;
  END IF;
END $$;

CREATE TABLE IF NOT EXISTS rs_emulator.table_attrs (
  relid oid PRIMARY KEY,
  diststyle text NOT NULL,
  sortkey_style text NOT NULL,
  backup boolean NOT NULL
);
CREATE TABLE IF NOT EXISTS rs_emulator.column_attrs (
  relid oid,
  attnum int2,
  encoding text,
  distkey boolean NOT NULL DEFAULT false,
  sortkey int NOT NULL DEFAULT 0,
  varbyte_length int,
  primary_key boolean NOT NULL DEFAULT false,
  PRIMARY KEY (relid, attnum)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON rs_emulator.table_attrs, rs_emulator.column_attrs TO PUBLIC;

-- Written by the emulator's own connection, so a row survives the client's rollback, as in
-- Redshift. https://docs.aws.amazon.com/redshift/latest/dg/r_STL_LOAD_ERRORS.html
CREATE TABLE IF NOT EXISTS rs_emulator.load_errors (
  userid int, slice int, tbl int, starttime timestamp, session int, query int, filename text,
  line_number bigint, colname text, type text, col_length text, position int, raw_line text,
  raw_field_value text, err_code int, err_reason text, transaction_id bigint, database_name text
);
-- Written in the client's transaction: "committed loads" only.
-- https://docs.aws.amazon.com/redshift/latest/dg/r_STL_LOAD_COMMITS.html
CREATE TABLE IF NOT EXISTS rs_emulator.load_commits (
  userid int, query int, slice int, name text, filename text, byte_offset int,
  lines_scanned int, errors int, curtime timestamp, status int, file_format text
);
GRANT INSERT ON rs_emulator.load_commits TO PUBLIC;

CREATE TABLE IF NOT EXISTS rs_emulator.late_views (
  schemaname text,
  viewname text,
  definition text NOT NULL,
  owner text NOT NULL,
  acl aclitem[],
  PRIMARY KEY (schemaname, viewname)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON rs_emulator.late_views TO PUBLIC;

-- "Superusers can see all rows; regular users can see only their own data."
-- https://docs.aws.amazon.com/redshift/latest/dg/cm_chap_system-tables.html#c_visibility-of-data
CREATE OR REPLACE FUNCTION rs_emulator.visible(owner int) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT owner = (SELECT oid::int FROM pg_roles WHERE rolname = current_user)
      OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
$$;

DROP VIEW IF EXISTS rs_emulator.stl_load_errors, rs_emulator.sys_load_error_detail,
  rs_emulator.stl_load_commits, rs_emulator.pg_table_def, rs_emulator.svv_table_info;

CREATE VIEW rs_emulator.stl_load_errors AS
SELECT userid, slice, tbl, starttime, session, query, filename::char(256) AS filename, line_number,
       colname::char(127) AS colname, type::char(10) AS type, col_length::char(10) AS col_length,
       position, raw_line::char(1024) AS raw_line, raw_field_value::char(1024) AS raw_field_value,
       err_code, err_reason::char(100) AS err_reason, 0 AS is_partial, 0::bigint AS start_offset,
       0::bigint AS copy_job_id
FROM rs_emulator.load_errors WHERE rs_emulator.visible(userid);

-- https://docs.aws.amazon.com/redshift/latest/dg/SYS_LOAD_ERROR_DETAIL.html
CREATE VIEW rs_emulator.sys_load_error_detail AS
SELECT userid AS user_id, query::bigint AS query_id, transaction_id, session AS session_id,
       database_name::char(64) AS database_name, tbl AS table_id, starttime AS start_time,
       filename::char(256) AS file_name, line_number, colname::char(127) AS column_name,
       type::char(10) AS column_type, col_length::char(10) AS column_length, position,
       err_code AS error_code, err_reason::char(512) AS error_message
FROM rs_emulator.load_errors WHERE rs_emulator.visible(userid);

CREATE VIEW rs_emulator.stl_load_commits AS
SELECT userid, query, slice, name::char(256) AS name, filename::char(256) AS filename, byte_offset,
       lines_scanned, errors, curtime, status, file_format::char(16) AS file_format,
       0 AS is_partial, 0::bigint AS start_offset, 0::bigint AS copy_job_id
FROM rs_emulator.load_commits WHERE rs_emulator.visible(userid);

-- Type names as Redshift's catalog prints them.
CREATE OR REPLACE FUNCTION rs_emulator.type_name(typid oid, typmod int, varbyte_length int) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN typid = 'rs_emulator.super'::regtype THEN 'super'
    WHEN typid = 'rs_emulator.varbyte'::regtype THEN 'varbyte(' || coalesce(varbyte_length, 64000) || ')'
    ELSE format_type(typid, typmod) END
$$;

-- ENCODE AUTO's choice: sort key columns RAW; BOOLEAN, REAL, DOUBLE PRECISION RAW; SMALLINT,
-- INTEGER, BIGINT, DECIMAL, DATE, TIMESTAMP, TIMESTAMPTZ AZ64; CHAR and VARCHAR LZO.
-- https://docs.aws.amazon.com/redshift/latest/dg/c_Compression_encodings.html
CREATE OR REPLACE FUNCTION rs_emulator.auto_encoding(typid oid, sortkey int) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN sortkey <> 0 THEN 'none'
    WHEN typid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype,
                   'date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype) THEN 'az64'
    WHEN typid IN ('bpchar'::regtype, 'varchar'::regtype) THEN 'lzo'
    ELSE 'none' END
$$;

-- https://docs.aws.amazon.com/redshift/latest/dg/r_PG_TABLE_DEF.html ("Only tables on the
-- search_path are shown").
CREATE VIEW rs_emulator.pg_table_def AS
SELECT n.nspname AS schemaname, c.relname AS tablename, a.attname AS "column",
       rs_emulator.type_name(a.atttypid, a.atttypmod, ca.varbyte_length) AS type,
       coalesce(ca.encoding, rs_emulator.auto_encoding(a.atttypid, coalesce(ca.sortkey, 0)))::char(32) AS encoding,
       coalesce(ca.distkey, false) AS distkey, coalesce(ca.sortkey, 0) AS sortkey, a.attnotnull AS notnull
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN rs_emulator.column_attrs ca ON ca.relid = c.oid AND ca.attnum = a.attnum
WHERE c.relkind = 'r' AND pg_table_is_visible(c.oid) AND n.nspname NOT IN ('rs_emulator', 'pg_catalog', 'information_schema');

CREATE OR REPLACE FUNCTION rs_emulator.row_count(rel oid) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM %s', rel::regclass) INTO n;
  RETURN n;
END $$;

-- https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_TABLE_INFO.html: one row per table that
-- has rows ("no rows for empty tables"); tables the user may not read are left out.
CREATE VIEW rs_emulator.svv_table_info AS
SELECT current_database()::text AS database, n.nspname::text AS schema, c.oid AS table_id,
       c.relname::text AS "table",
       CASE WHEN EXISTS (SELECT 1 FROM rs_emulator.column_attrs x WHERE x.relid = c.oid AND x.encoding IS NOT NULL)
            THEN 'Y' ELSE 'Y, AUTO(ENCODE)' END AS encoded,
       CASE ta.diststyle
         WHEN 'AUTO' THEN 'AUTO(ALL)'
         WHEN 'KEY' THEN 'KEY(' || (SELECT a.attname FROM rs_emulator.column_attrs x JOIN pg_attribute a
                                      ON a.attrelid = x.relid AND a.attnum = x.attnum
                                    WHERE x.relid = c.oid AND x.distkey) || ')'
         ELSE ta.diststyle END AS diststyle,
       CASE ta.sortkey_style
         WHEN 'AUTO' THEN 'AUTO(SORTKEY)'
         ELSE (SELECT CASE WHEN ta.sortkey_style = 'INTERLEAVED' THEN 'INTERLEAVED' ELSE a.attname::text END
               FROM rs_emulator.column_attrs x JOIN pg_attribute a ON a.attrelid = x.relid AND a.attnum = x.attnum
               WHERE x.relid = c.oid AND abs(x.sortkey) = 1) END AS sortkey1,
       (SELECT max(a.atttypmod - 4) FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.atttypid = 'varchar'::regtype AND NOT a.attisdropped)::int AS max_varchar,
       (SELECT count(*) FROM rs_emulator.column_attrs x WHERE x.relid = c.oid AND x.sortkey <> 0)::int AS sortkey_num,
       (pg_total_relation_size(c.oid) / (1024 * 1024))::bigint AS size,
       rs_emulator.row_count(c.oid)::numeric(38,0) AS tbl_rows,
       ta.backup
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN rs_emulator.table_attrs ta ON ta.relid = c.oid
WHERE c.relkind = 'r' AND has_table_privilege(c.oid, 'SELECT') AND rs_emulator.row_count(c.oid) > 0;

GRANT SELECT ON rs_emulator.stl_load_errors, rs_emulator.sys_load_error_detail, rs_emulator.stl_load_commits,
  rs_emulator.pg_table_def, rs_emulator.svv_table_info TO PUBLIC;

-- GETDATE "returns the start date or time of the current statement" as TIMESTAMP; the
-- documented output has no fractional seconds. SYSDATE returns the transaction's start.
-- https://docs.aws.amazon.com/redshift/latest/dg/r_GETDATE.html
-- https://docs.aws.amazon.com/redshift/latest/dg/r_SYSDATE.html
CREATE OR REPLACE FUNCTION rs_emulator.getdate() RETURNS timestamp
LANGUAGE sql STABLE AS $$ SELECT date_trunc('second', statement_timestamp() AT TIME ZONE 'UTC') $$;
CREATE OR REPLACE FUNCTION rs_emulator.sysdate() RETURNS timestamp
LANGUAGE sql STABLE AS $$ SELECT transaction_timestamp() AT TIME ZONE 'UTC' $$;

-- LEN counts characters; "Length calculations do not count trailing spaces for fixed-length
-- character strings but do count them for variable-length strings".
-- https://docs.aws.amazon.com/redshift/latest/dg/r_LEN.html
CREATE OR REPLACE FUNCTION rs_emulator.len(text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT length($1) $$;
CREATE OR REPLACE FUNCTION rs_emulator.len(character) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT length($1) $$;

-- EXTRACT: "INTEGER if the source value evaluates to data type TIMESTAMP, TIME, TIMETZ,
-- INTERVAL YEAR TO MONTH, or INTERVAL DAY TO SECOND. DOUBLE PRECISION if the source value
-- evaluates to data type TIMESTAMPTZ." https://docs.aws.amazon.com/redshift/latest/dg/r_EXTRACT_function.html
CREATE OR REPLACE FUNCTION rs_emulator.extract_epoch(timestamp) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT trunc(extract(epoch FROM $1))::integer $$;
CREATE OR REPLACE FUNCTION rs_emulator.extract_epoch(timestamptz) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT extract(epoch FROM $1)::double precision $$;
CREATE OR REPLACE FUNCTION rs_emulator.extract_epoch(date) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT trunc(extract(epoch FROM $1))::integer $$;
CREATE OR REPLACE FUNCTION rs_emulator.extract_epoch(interval) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT trunc(extract(epoch FROM $1))::integer $$;
CREATE OR REPLACE FUNCTION rs_emulator.extract_epoch(time) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT trunc(extract(epoch FROM $1))::integer $$;
CREATE OR REPLACE FUNCTION rs_emulator.extract_epoch(timetz) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT trunc(extract(epoch FROM $1))::integer $$;

CREATE OR REPLACE FUNCTION rs_emulator.extract_part(text, timestamp) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT trunc(date_part($1, $2))::integer $$;
CREATE OR REPLACE FUNCTION rs_emulator.extract_part(text, timestamptz) RETURNS double precision
LANGUAGE sql STABLE STRICT AS $$ SELECT date_part($1, $2) $$;
CREATE OR REPLACE FUNCTION rs_emulator.extract_part(text, date) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT trunc(date_part($1, $2::timestamp))::integer $$;
CREATE OR REPLACE FUNCTION rs_emulator.extract_part(text, interval) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT trunc(date_part($1, $2))::integer $$;
CREATE OR REPLACE FUNCTION rs_emulator.extract_part(text, time) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT trunc(date_part($1, $2))::integer $$;
CREATE OR REPLACE FUNCTION rs_emulator.extract_part(text, timetz) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT trunc(date_part($1, $2))::integer $$;

-- Date part names and abbreviations. https://docs.aws.amazon.com/redshift/latest/dg/r_Dateparts_for_datetime_functions.html
CREATE OR REPLACE FUNCTION rs_emulator.datepart_name(part text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
  CASE lower(part)
    WHEN 'millennium', 'millennia', 'mil', 'mils' THEN RETURN 'millennium';
    WHEN 'century', 'centuries', 'c', 'cent', 'cents' THEN RETURN 'century';
    WHEN 'decade', 'decades', 'dec', 'decs' THEN RETURN 'decade';
    WHEN 'year', 'years', 'y', 'yr', 'yrs' THEN RETURN 'year';
    WHEN 'quarter', 'quarters', 'qtr', 'qtrs' THEN RETURN 'quarter';
    WHEN 'month', 'months', 'mon', 'mons' THEN RETURN 'month';
    WHEN 'week', 'weeks', 'w' THEN RETURN 'week';
    WHEN 'day', 'days', 'd' THEN RETURN 'day';
    WHEN 'hour', 'hours', 'h', 'hr', 'hrs' THEN RETURN 'hour';
    WHEN 'minute', 'minutes', 'm', 'min', 'mins' THEN RETURN 'minute';
    WHEN 'second', 'seconds', 's', 'sec', 'secs' THEN RETURN 'second';
    WHEN 'millisecond', 'milliseconds', 'ms', 'msec', 'msecs', 'msecond', 'mseconds', 'millisec', 'millisecs', 'millisecon' THEN RETURN 'millisecond';
    WHEN 'microsecond', 'microseconds', 'microsec', 'microsecs', 'microsecond', 'usecond', 'useconds', 'us', 'usec', 'usecs' THEN RETURN 'microsecond';
    ELSE RAISE EXCEPTION 'unsupported date part "%"', part USING ERRCODE = '22023';
  END CASE;
END $$;

-- DATEDIFF "determines the number of date part boundaries that are crossed between two
-- expressions"; BIGINT. https://docs.aws.amazon.com/redshift/latest/dg/r_DATEDIFF_function.html
CREATE OR REPLACE FUNCTION rs_emulator.datediff(part text, a timestamp, b timestamp) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE p text := rs_emulator.datepart_name(part);
BEGIN
  CASE p
    WHEN 'millennium', 'century', 'decade', 'year', 'quarter', 'month' THEN
      RETURN (extract(year FROM date_trunc(p, b)) * 12 + extract(month FROM date_trunc(p, b))
            - extract(year FROM date_trunc(p, a)) * 12 - extract(month FROM date_trunc(p, a)))
           / CASE p WHEN 'millennium' THEN 12000 WHEN 'century' THEN 1200 WHEN 'decade' THEN 120
                    WHEN 'year' THEN 12 WHEN 'quarter' THEN 3 ELSE 1 END;
    WHEN 'week' THEN RETURN (date_trunc('week', b)::date - date_trunc('week', a)::date) / 7;
    WHEN 'day' THEN RETURN b::date - a::date;
    ELSE
      RETURN ((extract(epoch FROM date_trunc(CASE p WHEN 'millisecond' THEN 'milliseconds'
                                                    WHEN 'microsecond' THEN 'microseconds' ELSE p END, b))
             - extract(epoch FROM date_trunc(CASE p WHEN 'millisecond' THEN 'milliseconds'
                                                    WHEN 'microsecond' THEN 'microseconds' ELSE p END, a)))
             * CASE p WHEN 'millisecond' THEN 1000 WHEN 'microsecond' THEN 1000000 ELSE 1 END
             / CASE p WHEN 'hour' THEN 3600 WHEN 'minute' THEN 60 ELSE 1 END)::bigint;
  END CASE;
END $$;
CREATE OR REPLACE FUNCTION rs_emulator.datediff(part text, a date, b date) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT rs_emulator.datediff(part, a::timestamp, b::timestamp) $$;
CREATE OR REPLACE FUNCTION rs_emulator.datediff(part text, a timestamptz, b timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT rs_emulator.datediff(part, a AT TIME ZONE 'UTC', b AT TIME ZONE 'UTC') $$;

-- DATEADD: https://docs.aws.amazon.com/redshift/latest/dg/r_DATEADD_function.html
CREATE OR REPLACE FUNCTION rs_emulator.dateadd(part text, n bigint, t timestamp) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT t + n * ('1 ' || CASE rs_emulator.datepart_name(part)
                            WHEN 'quarter' THEN 'month' WHEN 'millisecond' THEN 'milliseconds'
                            WHEN 'microsecond' THEN 'microseconds' ELSE rs_emulator.datepart_name(part) END)::interval
              * CASE rs_emulator.datepart_name(part) WHEN 'quarter' THEN 3 ELSE 1 END
$$;
CREATE OR REPLACE FUNCTION rs_emulator.dateadd(part text, n bigint, t date) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT rs_emulator.dateadd(part, n, t::timestamp) $$;

-- STRTOL(num_string, base) → BIGINT. https://docs.aws.amazon.com/redshift/latest/dg/r_STRTOL.html
CREATE OR REPLACE FUNCTION rs_emulator.strtol(num text, base int) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
  v bigint := 0;
  d int;
  c text;
  neg boolean := left(num, 1) = '-';
BEGIN
  IF base = 16 AND num ~ '^[0-9a-fA-F]{1,15}$' THEN
    RETURN ('x' || lpad(num, 16, '0'))::bit(64)::bigint;
  END IF;
  IF base < 2 OR base > 36 THEN
    RAISE EXCEPTION 'strtol: base % is out of range', base USING ERRCODE = '22023';
  END IF;
  FOREACH c IN ARRAY regexp_split_to_array(lower(ltrim(num, '+-')), '') LOOP
    d := strpos('0123456789abcdefghijklmnopqrstuvwxyz', c) - 1;
    IF d < 0 OR d >= base THEN
      RAISE EXCEPTION 'strtol: invalid digit "%" for base %', c, base USING ERRCODE = '22P02';
    END IF;
    v := v * base + d;
  END LOOP;
  RETURN CASE WHEN neg THEN -v ELSE v END;
END $$;

-- Puts the client's transaction into the failed state with the emulator's own error, so that a
-- statement the emulator refuses inside BEGIN … END aborts the transaction as in Redshift.
CREATE OR REPLACE FUNCTION rs_emulator.raise_error(code text, message text) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING ERRCODE = code, MESSAGE = message; END $$;

-- Late-binding views (WITH NO SCHEMA BINDING) are kept as text in late_views and materialised
-- as ordinary PostgreSQL views; DDL on a table they read first unbinds them and afterwards
-- rebinds whatever resolves again, so they follow names, not tables. "If you drop underlying
-- objects, queries to the late-binding view will fail."
-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_VIEW.html
CREATE OR REPLACE FUNCTION rs_emulator.unbind_late_views(rel regclass) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE r record;
BEGIN
  FOR r IN
    SELECT lv.schemaname, lv.viewname, v.oid AS viewoid, v.relacl
    FROM rs_emulator.late_views lv
    JOIN pg_namespace n ON n.nspname = lv.schemaname
    JOIN pg_class v ON v.relnamespace = n.oid AND v.relname = lv.viewname AND v.relkind = 'v'
    WHERE rel IS NULL OR EXISTS (
      SELECT 1 FROM pg_rewrite rw JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
      WHERE rw.ev_class = v.oid AND d.refclassid = 'pg_class'::regclass AND d.refobjid = rel AND d.refobjid <> v.oid)
  LOOP
    UPDATE rs_emulator.late_views SET acl = r.relacl WHERE schemaname = r.schemaname AND viewname = r.viewname;
    EXECUTE format('DROP VIEW %I.%I', r.schemaname, r.viewname);
  END LOOP;
END $$;

CREATE OR REPLACE FUNCTION rs_emulator.rebind_late_views() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE r record;
BEGIN
  -- A dropped schema took its late-binding views with it.
  DELETE FROM rs_emulator.late_views WHERE to_regnamespace(quote_ident(schemaname)) IS NULL;
  FOR r IN
    SELECT lv.* FROM rs_emulator.late_views lv
    WHERE to_regclass(format('%I.%I', lv.schemaname, lv.viewname)) IS NULL
      AND to_regnamespace(quote_ident(lv.schemaname)) IS NOT NULL
  LOOP
    BEGIN
      EXECUTE format('CREATE VIEW %I.%I ', r.schemaname, r.viewname) || r.definition;
      EXECUTE format('ALTER VIEW %I.%I OWNER TO %I', r.schemaname, r.viewname, r.owner);
      IF r.acl IS NOT NULL THEN
        UPDATE pg_class SET relacl = r.acl WHERE oid = format('%I.%I', r.schemaname, r.viewname)::regclass;
      END IF;
    EXCEPTION WHEN undefined_table OR undefined_column OR undefined_function OR datatype_mismatch
                   OR invalid_schema_name OR ambiguous_column THEN
      NULL; -- stays unbound until what it reads exists again
    END;
  END LOOP;
END $$;
-- PG_GET_LATE_BINDING_VIEW_COLS: one row per column of each late-binding view, called with a
-- column definition list `cols(view_schema name, view_name name, col_name name, col_type
-- varchar, col_num int)`. https://docs.aws.amazon.com/redshift/latest/dg/PG_GET_LATE_BINDING_VIEW_COLS.html
CREATE OR REPLACE FUNCTION rs_emulator.pg_get_late_binding_view_cols() RETURNS SETOF record
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN QUERY
    SELECT lv.schemaname::name, lv.viewname::name, a.attname, format_type(a.atttypid, a.atttypmod)::varchar, a.attnum::int
    FROM rs_emulator.late_views lv
    JOIN pg_namespace n ON n.nspname = lv.schemaname
    JOIN pg_class v ON v.relnamespace = n.oid AND v.relname = lv.viewname
    JOIN pg_attribute a ON a.attrelid = v.oid AND a.attnum > 0
    ORDER BY 1, 2, 5;
END $$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA rs_emulator TO PUBLIC;
