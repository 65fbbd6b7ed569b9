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

-- CURRENT_DATABASE: the database the client connected to (the session sets it at start-up),
-- not the backing one. https://docs.aws.amazon.com/redshift/latest/dg/r_CURRENT_DATABASE.html
CREATE OR REPLACE FUNCTION rs_emulator.current_database() RETURNS name
LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('rs_emulator.database', true), ''), pg_catalog.current_database())::name
$$;

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
  rs_emulator.stl_load_commits, rs_emulator.pg_table_def, rs_emulator.svv_table_info,
  rs_emulator.stv_db_isolation_level, rs_emulator.svv_all_columns, rs_emulator.svv_columns,
  rs_emulator.svv_tables, rs_emulator.svv_all_tables, rs_emulator.svv_external_schemas,
  rs_emulator.svv_external_tables, rs_emulator.svv_external_columns, rs_emulator.pg_proc_info,
  rs_emulator.svv_relation_privileges;

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
SELECT rs_emulator.current_database()::text AS database, n.nspname::text AS schema, c.oid AS table_id,
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

-- "the relation (tables and views) permissions that are explicitly granted to users, roles, and
-- groups": privilege_type INSERT, SELECT, UPDATE, DELETE, REFERENCES, DROP (and ALTER and
-- TRUNCATE, which r_GRANT lists for tables); identity_type user, role, group or public;
-- admin_option for users only. The owner's own rights are implicit, not granted. Superusers
-- see every row, others the rows of relations they own and of identities they are.
-- https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_RELATION_PRIVILEGES.html
-- https://docs.aws.amazon.com/redshift/latest/dg/r_GRANT.html
CREATE VIEW rs_emulator.svv_relation_privileges AS
SELECT n.nspname::text AS namespace_name, c.relname::text AS relation_name, a.privilege_type::text AS privilege_type,
       a.grantee::int AS identity_id,
       CASE WHEN a.grantee = 0 THEN 'public' ELSE r.rolname::text END AS identity_name,
       CASE WHEN a.grantee = 0 THEN 'public' WHEN r.rolcanlogin THEN 'user' ELSE 'group' END AS identity_type,
       a.is_grantable AND a.grantee <> 0 AND r.rolcanlogin AS admin_option
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL aclexplode(c.relacl) a
LEFT JOIN pg_roles r ON r.oid = a.grantee
WHERE c.relkind IN ('r', 'v', 'm', 'p') AND a.grantee <> c.relowner
  AND a.privilege_type IN ('INSERT', 'SELECT', 'UPDATE', 'DELETE', 'REFERENCES', 'TRUNCATE')
  AND (rs_emulator.visible(c.relowner::int) OR a.grantee = 0
       OR a.grantee = (SELECT oid FROM pg_roles WHERE rolname = current_user));

GRANT SELECT ON rs_emulator.stl_load_errors, rs_emulator.sys_load_error_detail, rs_emulator.stl_load_commits,
  rs_emulator.pg_table_def, rs_emulator.svv_table_info, rs_emulator.svv_relation_privileges TO PUBLIC;

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

-- The same, where an expression of type text is wanted (the last choice of a COALESCE).
CREATE OR REPLACE FUNCTION rs_emulator.raise_text(code text, message text) RETURNS text
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

-- ---------------------------------------------------------------------------------------------
-- What drivers and analysts ask of the server.

-- VERSION: "PostgreSQL 8.0.2 on i686-pc-linux-gnu, compiled by GCC gcc (GCC) 3.4.2 20041017
-- (Red Hat 3.4.2-6.fc3), Redshift 1.0.12103". https://docs.aws.amazon.com/redshift/latest/dg/r_VERSION.html
CREATE OR REPLACE FUNCTION rs_emulator.version() RETURNS character varying
LANGUAGE sql IMMUTABLE AS $$
  SELECT 'PostgreSQL 8.0.2 on i686-pc-linux-gnu, compiled by GCC gcc (GCC) 3.4.2 20041017 (Red Hat 3.4.2-6.fc3), Redshift 1.0.0'::varchar
$$;

-- STV_DB_ISOLATION_LEVEL: "Possible values include Serializable and Snapshot Isolation."
-- https://docs.aws.amazon.com/redshift/latest/dg/r_STV_DB_ISOLATION_LEVEL.html
CREATE VIEW rs_emulator.stv_db_isolation_level AS
SELECT rs_emulator.current_database()::char(128) AS db_name,
       coalesce(nullif(current_setting('rs_emulator.isolation', true), ''), 'Serializable')::char(20) AS isolation_level;

-- Metadata views drivers read (redshift_connector's get_tables/get_columns among them). The
-- emulator's own schema is not shown, as Redshift has none.
-- https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_TABLES.html
CREATE VIEW rs_emulator.svv_tables AS
SELECT rs_emulator.current_database()::text AS table_catalog, t.table_schema::text, t.table_name::text,
       t.table_type::text, obj_description(format('%I.%I', t.table_schema, t.table_name)::regclass, 'pg_class')::text AS remarks
FROM information_schema.tables t
WHERE t.table_schema NOT IN ('rs_emulator', 'pg_toast');

-- https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_COLUMNS.html
CREATE VIEW rs_emulator.svv_columns AS
SELECT rs_emulator.current_database()::text AS table_catalog, c.table_schema::text, c.table_name::text,
       c.column_name::text, c.ordinal_position::int, c.column_default::text, c.is_nullable::text,
       CASE WHEN c.domain_name = 'super' THEN 'super' WHEN c.domain_name = 'varbyte' THEN 'varbyte'
            ELSE c.data_type END::text AS data_type,
       c.character_maximum_length::int, c.numeric_precision::int, c.numeric_precision_radix::int,
       c.numeric_scale::int, c.datetime_precision::int, c.interval_type::text, c.interval_precision::int,
       NULL::text AS character_set_catalog, NULL::text AS character_set_schema, NULL::text AS character_set_name,
       NULL::text AS collation_catalog, NULL::text AS collation_schema, NULL::text AS collation_name,
       NULL::text AS domain_name,
       col_description(format('%I.%I', c.table_schema, c.table_name)::regclass, c.ordinal_position::int)::text AS remarks
FROM information_schema.columns c
WHERE c.table_schema NOT IN ('rs_emulator', 'pg_toast');

-- https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_ALL_TABLES.html
CREATE VIEW rs_emulator.svv_all_tables AS
SELECT rs_emulator.current_database()::varchar(128) AS database_name, n.nspname::varchar(128) AS schema_name,
       c.relname::varchar(128) AS table_name, c.relacl::text::varchar(128) AS table_acl,
       CASE c.relkind WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END::varchar(128) AS table_type,
       obj_description(c.oid, 'pg_class')::varchar(256) AS remarks
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v') AND n.nspname NOT IN ('rs_emulator', 'pg_toast') AND n.nspname !~ '^pg_temp'
  AND has_table_privilege(c.oid, 'SELECT');

-- https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_ALL_COLUMNS.html
CREATE VIEW rs_emulator.svv_all_columns AS
SELECT rs_emulator.current_database()::varchar(128) AS database_name, table_schema::varchar(128) AS schema_name,
       table_name::varchar(128), column_name::varchar(128), ordinal_position, column_default::varchar(4000),
       is_nullable::varchar(3), data_type::varchar(128), character_maximum_length, numeric_precision, numeric_scale,
       remarks::varchar(256)
FROM rs_emulator.svv_columns;

-- No external (Spectrum, federated, datashare) schemas exist in the emulator.
-- https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_EXTERNAL_SCHEMAS.html
CREATE VIEW rs_emulator.svv_external_schemas AS
SELECT NULL::oid AS esoid, NULL::int2 AS eskind, NULL::name AS schemaname, NULL::int AS esowner,
       NULL::text AS databasename, NULL::text AS esoptions
WHERE false;
-- https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_EXTERNAL_TABLES.html
CREATE VIEW rs_emulator.svv_external_tables AS
SELECT NULL::text AS redshift_database_name, NULL::name AS schemaname, NULL::name AS tablename,
       NULL::text AS location, NULL::text AS input_format, NULL::text AS output_format,
       NULL::text AS serialization_lib, NULL::text AS serde_parameters, NULL::int AS compressed,
       NULL::text AS parameters, NULL::text AS tabletype
WHERE false;
-- https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_EXTERNAL_COLUMNS.html
CREATE VIEW rs_emulator.svv_external_columns AS
SELECT NULL::text AS redshift_database_name, NULL::name AS schemaname, NULL::name AS tablename,
       NULL::name AS columnname, NULL::text AS external_type, NULL::int AS columnnum,
       NULL::int AS part_key, NULL::text AS is_nullable
WHERE false;

-- "PG_PROC_INFO shows the following columns in addition to the columns in PG_PROC. The oid
-- column in PG_PROC is called prooid in the PG_PROC_INFO table."
-- https://docs.aws.amazon.com/redshift/latest/dg/r_PG_PROC_INFO.html
CREATE VIEW rs_emulator.pg_proc_info AS
SELECT p.oid AS prooid, p.proname, p.pronamespace, p.proowner, p.prolang, p.procost, p.prorows,
       p.provariadic, p.prokind, p.prosecdef, p.proleakproof, p.proisstrict, p.proretset,
       p.provolatile, p.proparallel, p.pronargs, p.pronargdefaults, p.prorettype, p.proargtypes,
       p.proallargtypes, p.proargmodes, p.proargnames, p.proargdefaults, p.prosrc, p.probin, p.proconfig, p.proacl
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname <> 'rs_emulator';

GRANT SELECT ON rs_emulator.stv_db_isolation_level, rs_emulator.svv_tables, rs_emulator.svv_columns,
  rs_emulator.svv_all_tables, rs_emulator.svv_all_columns, rs_emulator.svv_external_schemas,
  rs_emulator.svv_external_tables, rs_emulator.svv_external_columns, rs_emulator.pg_proc_info TO PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- Functions whose Redshift answers differ from PostgreSQL's.

-- AVG: "BIGINT for any integer type argument; DOUBLE PRECISION for a floating point argument"; a
-- DECIMAL's average keeps the argument's scale. https://docs.aws.amazon.com/redshift/latest/dg/r_AVG.html
-- The integer average drops its fraction, as an integer division does.
CREATE OR REPLACE FUNCTION rs_emulator.avg_accum(state numeric[], v numeric) RETURNS numeric[]
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN v IS NULL THEN state
              ELSE ARRAY[state[1] + 1, state[2] + v, greatest(state[3], scale(v))] END
$$;
CREATE OR REPLACE FUNCTION rs_emulator.avg_accum(state numeric[], v bigint) RETURNS numeric[]
LANGUAGE sql IMMUTABLE AS $$ SELECT rs_emulator.avg_accum(state, v::numeric) $$;
-- SMALLINT and INTEGER use PostgreSQL's own {count, sum} accumulators.
CREATE OR REPLACE FUNCTION rs_emulator.avg_small_final(state bigint[]) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN state[1] = 0 THEN NULL ELSE state[2] / state[1] END $$;
CREATE OR REPLACE FUNCTION rs_emulator.avg_int_final(state numeric[]) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN state[1] = 0 THEN NULL ELSE trunc(state[2] / state[1])::bigint END
$$;
CREATE OR REPLACE FUNCTION rs_emulator.avg_dec_final(state numeric[]) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN state[1] = 0 THEN NULL ELSE trunc(state[2] / state[1], state[3]::int) END
$$;
CREATE OR REPLACE AGGREGATE rs_emulator.avg(int2) (SFUNC = int2_avg_accum, STYPE = int8[],
  FINALFUNC = rs_emulator.avg_small_final, INITCOND = '{0,0}');
CREATE OR REPLACE AGGREGATE rs_emulator.avg(int4) (SFUNC = int4_avg_accum, STYPE = int8[],
  FINALFUNC = rs_emulator.avg_small_final, INITCOND = '{0,0}');
CREATE OR REPLACE AGGREGATE rs_emulator.avg(int8) (SFUNC = rs_emulator.avg_accum, STYPE = numeric[],
  FINALFUNC = rs_emulator.avg_int_final, INITCOND = '{0,0,0}');
CREATE OR REPLACE AGGREGATE rs_emulator.avg(numeric) (SFUNC = rs_emulator.avg_accum, STYPE = numeric[],
  FINALFUNC = rs_emulator.avg_dec_final, INITCOND = '{0,0,0}');
CREATE OR REPLACE AGGREGATE rs_emulator.avg(float8) (SFUNC = float8_accum, STYPE = float8[],
  FINALFUNC = float8_avg, INITCOND = '{0,0,0}');
CREATE OR REPLACE AGGREGATE rs_emulator.avg(float4) (SFUNC = float4_accum, STYPE = float8[],
  FINALFUNC = float8_avg, INITCOND = '{0,0,0}');

-- CONCAT "concatenates two expressions"; "if one or both expressions is null, the result of the
-- concatenation is null". https://docs.aws.amazon.com/redshift/latest/dg/r_CONCAT.html
CREATE OR REPLACE FUNCTION rs_emulator.concat(a text, b text) RETURNS character varying
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT (a || b)::varchar $$;
CREATE OR REPLACE FUNCTION rs_emulator.concat(a rs_emulator.varbyte, b rs_emulator.varbyte) RETURNS rs_emulator.varbyte
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT (a::bytea || b::bytea)::rs_emulator.varbyte $$;

-- DATEADD and DATEDIFF take DATE, TIME, TIMETZ and TIMESTAMP, and the doc's own examples pass
-- untyped literals (`dateadd(month,18,'2008-02-28')`, `datediff(week,'2009-01-01','2009-12-31')`)
-- and TIME values (`dateadd(hour, 8, time '13:24:55')` → 21:24:55, wrapping past midnight).
-- https://docs.aws.amazon.com/redshift/latest/dg/r_DATEADD_function.html
-- https://docs.aws.amazon.com/redshift/latest/dg/r_DATEDIFF_function.html
CREATE OR REPLACE FUNCTION rs_emulator.dateadd(part text, n bigint, t text) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT rs_emulator.dateadd(part, n, t::timestamp) $$;
CREATE OR REPLACE FUNCTION rs_emulator.dateadd(part text, n bigint, t time) RETURNS time
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT (timestamp '2000-01-01' + t)::time + (rs_emulator.dateadd(part, n, timestamp '2000-01-01') - timestamp '2000-01-01') $$;
CREATE OR REPLACE FUNCTION rs_emulator.dateadd(part text, n bigint, t timetz) RETURNS timetz
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT t + (rs_emulator.dateadd(part, n, timestamp '2000-01-01') - timestamp '2000-01-01') $$;
CREATE OR REPLACE FUNCTION rs_emulator.datediff(part text, a text, b text) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT rs_emulator.datediff(part, a::timestamp, b::timestamp) $$;
CREATE OR REPLACE FUNCTION rs_emulator.datediff(part text, a time, b time) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT rs_emulator.datediff(part, timestamp '2000-01-01' + a, timestamp '2000-01-01' + b) $$;
CREATE OR REPLACE FUNCTION rs_emulator.datediff(part text, a timetz, b timetz) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT rs_emulator.datediff(part, (date '2000-01-01' + a) AT TIME ZONE 'UTC', (date '2000-01-01' + b) AT TIME ZONE 'UTC')
$$;

-- ---------------------------------------------------------------------------------------------
-- SUPER and JSON. https://docs.aws.amazon.com/redshift/latest/dg/r_SUPER_type.html

-- Serialized JSON without the blanks PostgreSQL's jsonb output adds after ':' and ','.
CREATE OR REPLACE FUNCTION rs_emulator.json_compact(j jsonb) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT CASE jsonb_typeof(j)
    WHEN 'object' THEN '{' || coalesce((SELECT string_agg(to_jsonb(k)::text || ':' || rs_emulator.json_compact(v), ',' ORDER BY o)
                                        FROM jsonb_each(j) WITH ORDINALITY AS e(k, v, o)), '') || '}'
    WHEN 'array' THEN '[' || coalesce((SELECT string_agg(rs_emulator.json_compact(v), ',' ORDER BY o)
                                       FROM jsonb_array_elements(j) WITH ORDINALITY AS e(v, o)), '') || ']'
    ELSE j::text END
$$;

-- JSON_PARSE returns SUPER; invalid JSON is an error. https://docs.aws.amazon.com/redshift/latest/dg/JSON_PARSE.html
CREATE OR REPLACE FUNCTION rs_emulator.json_parse(s text) RETURNS rs_emulator.super
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT s::jsonb::rs_emulator.super $$;
-- JSON_SERIALIZE returns VARCHAR; "If super_expression is NULL, JSON_SERIALIZE returns the JSON
-- string 'null'." https://docs.aws.amazon.com/redshift/latest/dg/JSON_SERIALIZE.html
CREATE OR REPLACE FUNCTION rs_emulator.json_serialize(j rs_emulator.super) RETURNS character varying
LANGUAGE sql IMMUTABLE AS $$ SELECT coalesce(rs_emulator.json_compact(j), 'null')::varchar $$;

-- The type of text as JSON, NULL when it is not JSON.
CREATE OR REPLACE FUNCTION rs_emulator.json_kind(s text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
  RETURN jsonb_typeof(s::jsonb);
EXCEPTION WHEN invalid_text_representation THEN
  RETURN NULL;
END $$;
-- IS_VALID_JSON: true "if the string is properly formed JSON"; the page's own example gives
-- false for '[1,2,3]' (arrays are IS_VALID_JSON_ARRAY's).
-- https://docs.aws.amazon.com/redshift/latest/dg/IS_VALID_JSON.html
CREATE OR REPLACE FUNCTION rs_emulator.is_valid_json(s text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT coalesce(rs_emulator.json_kind(s) = 'object', false) $$;
-- https://docs.aws.amazon.com/redshift/latest/dg/IS_VALID_JSON_ARRAY.html
CREATE OR REPLACE FUNCTION rs_emulator.is_valid_json_array(s text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT coalesce(rs_emulator.json_kind(s) = 'array', false) $$;
-- CAN_JSON_PARSE "returns false for empty strings. It returns NULL when the input argument is null."
-- https://docs.aws.amazon.com/redshift/latest/dg/CAN_JSON_PARSE.html
CREATE OR REPLACE FUNCTION rs_emulator.can_json_parse(s text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT rs_emulator.json_kind(s) IS NOT NULL $$;
-- JSON_TYPEOF: "boolean, number, string, object, array, or null".
-- https://docs.aws.amazon.com/redshift/latest/dg/r_json_typeof.html
CREATE OR REPLACE FUNCTION rs_emulator.json_typeof(j rs_emulator.super) RETURNS character varying
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT jsonb_typeof(j)::varchar $$;
-- IS_ARRAY / IS_OBJECT / IS_SCALAR: false "for any other values, including null".
-- https://docs.aws.amazon.com/redshift/latest/dg/r_is_array.html
CREATE OR REPLACE FUNCTION rs_emulator.is_array(j rs_emulator.super) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT coalesce(jsonb_typeof(j) = 'array', false) $$;
-- https://docs.aws.amazon.com/redshift/latest/dg/r_is_object.html
CREATE OR REPLACE FUNCTION rs_emulator.is_object(j rs_emulator.super) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT coalesce(jsonb_typeof(j) = 'object', false) $$;
-- https://docs.aws.amazon.com/redshift/latest/dg/r_is_scalar.html
CREATE OR REPLACE FUNCTION rs_emulator.is_scalar(j rs_emulator.super) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT coalesce(jsonb_typeof(j) NOT IN ('array', 'object'), false) $$;

-- JSON_EXTRACT_PATH_TEXT('json_string', 'path_elem' [, …] [, null_if_invalid]) on VARCHAR:
-- invalid JSON is an error unless null_if_invalid; "If a path element does not exist in the
-- JSON string, JSON_EXTRACT_PATH_TEXT returns NULL"; up to five path elements.
-- https://docs.aws.amazon.com/redshift/latest/dg/JSON_EXTRACT_PATH_TEXT.html
CREATE OR REPLACE FUNCTION rs_emulator.json_path_text(s text, path text[], null_if_invalid boolean) RETURNS character varying
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  j jsonb;
  v jsonb;
BEGIN
  IF s IS NULL THEN
    RETURN NULL;
  END IF;
  IF cardinality(path) > 5 THEN
    RAISE EXCEPTION 'JSON_EXTRACT_PATH_TEXT takes at most five path elements' USING ERRCODE = '22023';
  END IF;
  BEGIN
    j := s::jsonb;
  EXCEPTION WHEN invalid_text_representation THEN
    IF null_if_invalid THEN
      RETURN NULL;
    END IF;
    RAISE EXCEPTION 'JSON parsing error' USING ERRCODE = '22P02', DETAIL = 'invalid json object ' || left(s, 100);
  END;
  IF jsonb_typeof(j) <> 'object' THEN
    IF null_if_invalid THEN
      RETURN NULL;
    END IF;
    RAISE EXCEPTION 'JSON parsing error' USING ERRCODE = '22P02', DETAIL = 'invalid json object ' || left(s, 100);
  END IF;
  v := j;
  FOR i IN 1 .. coalesce(cardinality(path), 0) LOOP
    IF jsonb_typeof(v) <> 'object' OR NOT v ? path[i] THEN
      RETURN NULL;
    END IF;
    v := v -> path[i];
  END LOOP;
  RETURN CASE jsonb_typeof(v)
    WHEN 'string' THEN v #>> '{}'
    WHEN 'null' THEN NULL
    ELSE rs_emulator.json_compact(v) END;
END $$;
CREATE OR REPLACE FUNCTION rs_emulator.json_extract_path_text(s text, VARIADIC path text[]) RETURNS character varying
LANGUAGE sql IMMUTABLE AS $$ SELECT rs_emulator.json_path_text(s, path, false) $$;
CREATE OR REPLACE FUNCTION rs_emulator.json_extract_path_text(s text, p1 text, n boolean) RETURNS character varying
LANGUAGE sql IMMUTABLE AS $$ SELECT rs_emulator.json_path_text(s, ARRAY[p1], n) $$;
CREATE OR REPLACE FUNCTION rs_emulator.json_extract_path_text(s text, p1 text, p2 text, n boolean) RETURNS character varying
LANGUAGE sql IMMUTABLE AS $$ SELECT rs_emulator.json_path_text(s, ARRAY[p1, p2], n) $$;
CREATE OR REPLACE FUNCTION rs_emulator.json_extract_path_text(s text, p1 text, p2 text, p3 text, n boolean) RETURNS character varying
LANGUAGE sql IMMUTABLE AS $$ SELECT rs_emulator.json_path_text(s, ARRAY[p1, p2, p3], n) $$;
CREATE OR REPLACE FUNCTION rs_emulator.json_extract_path_text(s text, p1 text, p2 text, p3 text, p4 text, n boolean) RETURNS character varying
LANGUAGE sql IMMUTABLE AS $$ SELECT rs_emulator.json_path_text(s, ARRAY[p1, p2, p3, p4], n) $$;
CREATE OR REPLACE FUNCTION rs_emulator.json_extract_path_text(s text, p1 text, p2 text, p3 text, p4 text, p5 text, n boolean) RETURNS character varying
LANGUAGE sql IMMUTABLE AS $$ SELECT rs_emulator.json_path_text(s, ARRAY[p1, p2, p3, p4, p5], n) $$;

-- ---------------------------------------------------------------------------------------------
-- Catalog hygiene: a dropped table or column takes its Redshift attributes with it, so that a
-- reused OID never inherits a stale DISTSTYLE or SORTKEY.
CREATE OR REPLACE FUNCTION rs_emulator.forget_dropped() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  DELETE FROM rs_emulator.table_attrs a USING pg_event_trigger_dropped_objects() d
   WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0 AND a.relid = d.objid;
  DELETE FROM rs_emulator.column_attrs a USING pg_event_trigger_dropped_objects() d
   WHERE d.classid = 'pg_class'::regclass AND a.relid = d.objid AND (d.objsubid = 0 OR a.attnum = d.objsubid);
END $$;
DROP EVENT TRIGGER IF EXISTS rs_emulator_forget_dropped;
CREATE EVENT TRIGGER rs_emulator_forget_dropped ON sql_drop EXECUTE FUNCTION rs_emulator.forget_dropped();
-- What was dropped while no trigger watched (temporary tables at session end among them).
DELETE FROM rs_emulator.table_attrs a WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = a.relid);
DELETE FROM rs_emulator.column_attrs a
 WHERE NOT EXISTS (SELECT 1 FROM pg_attribute t WHERE t.attrelid = a.relid AND t.attnum = a.attnum AND NOT t.attisdropped);

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA rs_emulator TO PUBLIC;

-- LOCK takes tables only ("You can't lock views"); the late-binding views on them are locked
-- first (see Session::lock). https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html
CREATE OR REPLACE FUNCTION rs_emulator.lock_prepare(names text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  n text;
  rel regclass;
  kind "char";
  v record;
BEGIN
  FOREACH n IN ARRAY names LOOP
    rel := to_regclass(n);
    IF rel IS NULL THEN
      RAISE EXCEPTION 'relation "%" does not exist', n USING ERRCODE = '42P01';
    END IF;
    SELECT relkind INTO kind FROM pg_class WHERE oid = rel;
    IF kind = 'v' THEN
      RAISE EXCEPTION 'cannot lock "%": it is a view, and LOCK takes tables only', n USING ERRCODE = '42809';
    END IF;
    IF kind <> 'r' THEN
      RAISE EXCEPTION 'cannot lock "%": it is not a table', n USING ERRCODE = '42809';
    END IF;
    FOR v IN
      SELECT DISTINCT lv.schemaname, lv.viewname
      FROM rs_emulator.late_views lv
      JOIN pg_namespace ns ON ns.nspname = lv.schemaname
      JOIN pg_class c ON c.relnamespace = ns.oid AND c.relname = lv.viewname AND c.relkind = 'v'
      JOIN pg_rewrite rw ON rw.ev_class = c.oid
      JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
      WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = rel
    LOOP
      EXECUTE format('LOCK TABLE %I.%I IN ACCESS EXCLUSIVE MODE', v.schemaname, v.viewname);
    END LOOP;
  END LOOP;
END $$;
GRANT EXECUTE ON FUNCTION rs_emulator.lock_prepare(text[]) TO PUBLIC;

-- REGEXP_REPLACE( source_string, pattern [, replace_string [, position ]] ): "replaces every
-- occurrence of the pattern"; replace_string defaults to '' and position to 1.
-- https://docs.aws.amazon.com/redshift/latest/dg/REGEXP_REPLACE.html
CREATE OR REPLACE FUNCTION rs_emulator.regexp_replace(s text, pattern text, replacement text DEFAULT '', start_at int DEFAULT 1)
RETURNS character varying LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT (left(s, start_at - 1) || pg_catalog.regexp_replace(substr(s, start_at), pattern, replacement, 'g'))::varchar
$$;
GRANT EXECUTE ON FUNCTION rs_emulator.regexp_replace(text, text, text, int) TO PUBLIC;

-- REGEXP_SUBSTR( source_string, pattern [, position [, occurrence]] ): "If the function can't
-- match the regular expression to any characters in the string, it returns an empty string."
-- https://docs.aws.amazon.com/redshift/latest/dg/REGEXP_SUBSTR.html
CREATE OR REPLACE FUNCTION rs_emulator.regexp_substr(s text, pattern text, start_at int DEFAULT 1, occurrence int DEFAULT 1)
RETURNS character varying LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT coalesce((SELECT m[1] FROM regexp_matches(substr(s, greatest(start_at, 1)), '(' || pattern || ')', 'g')
                   WITH ORDINALITY AS r(m, k) WHERE k = occurrence), '')::varchar
$$;
-- CHARINDEX( substring, string ): the position of substring, 0 when it is absent.
-- https://docs.aws.amazon.com/redshift/latest/dg/r_CHARINDEX.html
CREATE OR REPLACE FUNCTION rs_emulator.charindex(sub text, s text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT strpos(s, sub) $$;
GRANT EXECUTE ON FUNCTION rs_emulator.regexp_substr(text, text, int, int), rs_emulator.charindex(text, text) TO PUBLIC;

-- LISTAGG's limit: "If the result set is larger than the maximum VARCHAR size (64K – 1, or
-- 65535), then LISTAGG returns the following error: Invalid operation: Result size exceeds
-- LISTAGG limit". https://docs.aws.amazon.com/redshift/latest/dg/r_LISTAGG.html
CREATE OR REPLACE FUNCTION rs_emulator.listagg_limit(s text) RETURNS character varying
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF octet_length(s) > 65535 THEN
    RAISE EXCEPTION 'Result size exceeds LISTAGG limit' USING ERRCODE = '22001',
      DETAIL = format('LISTAGG''s result holds %s bytes; VARCHAR holds at most 65535.', octet_length(s));
  END IF;
  RETURN s;
END $$;
GRANT EXECUTE ON FUNCTION rs_emulator.listagg_limit(text) TO PUBLIC;

-- A table made by SELECT INTO gets what CREATE TABLE would have given it: Redshift's default
-- attributes (DISTSTYLE AUTO, SORTKEY AUTO, BACKUP YES) and the byte rules of its character
-- columns (see ColumnDef::byte_check). https://docs.aws.amazon.com/redshift/latest/dg/r_SELECT_INTO.html
CREATE OR REPLACE FUNCTION rs_emulator.adopt_table(rel regclass) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE a record;
BEGIN
  INSERT INTO rs_emulator.table_attrs (relid, diststyle, sortkey_style, backup)
  VALUES (rel, 'AUTO', 'AUTO', true) ON CONFLICT (relid) DO NOTHING;
  FOR a IN
    SELECT attnum, attname, atttypid, format_type(atttypid, atttypmod) AS type_name
    FROM pg_attribute WHERE attrelid = rel AND attnum > 0 AND NOT attisdropped
  LOOP
    INSERT INTO rs_emulator.column_attrs (relid, attnum) VALUES (rel, a.attnum) ON CONFLICT DO NOTHING;
    IF a.atttypid = 'varchar'::regtype AND a.type_name <> 'character varying' THEN
      EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (octet_length(%I) <= %s)', rel,
                     left('rs_check:' || a.type_name || ':' || a.attname, 63), a.attname,
                     substring(a.type_name FROM '\((\d+)\)'));
    ELSIF a.atttypid = 'bpchar'::regtype THEN
      EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (octet_length(%I::text) = char_length(%I::text))', rel,
                     left('rs_check:' || a.type_name || ':' || a.attname, 63), a.attname, a.attname);
    END IF;
  END LOOP;
END $$;
GRANT EXECUTE ON FUNCTION rs_emulator.adopt_table(regclass) TO PUBLIC;

-- "Trailing spaces in VARCHAR and CHAR values are treated as semantically insignificant when
-- values are compared." https://docs.aws.amazon.com/redshift/latest/dg/r_Character_types.html
-- PostgreSQL's bpchar (CHAR) already compares so; its varchar compares as text. Operators on
-- (varchar, varchar) in pg_catalog are an exact match for a comparison of VARCHAR values (and
-- of a VARCHAR with a literal), so PostgreSQL picks them over text's. Each is an inlinable SQL
-- function, so the planner sees `rtrim(a) = rtrim(b)` on text and still hashes and merges joins.
-- GROUP BY and DISTINCT use the type's default operator class, which stays text's.
CREATE OR REPLACE FUNCTION rs_emulator.varchar_eq(a varchar, b varchar) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT rtrim(a, ' ') = rtrim(b, ' ') $$;
CREATE OR REPLACE FUNCTION rs_emulator.varchar_ne(a varchar, b varchar) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT rtrim(a, ' ') <> rtrim(b, ' ') $$;
CREATE OR REPLACE FUNCTION rs_emulator.varchar_lt(a varchar, b varchar) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT rtrim(a, ' ') < rtrim(b, ' ') $$;
CREATE OR REPLACE FUNCTION rs_emulator.varchar_le(a varchar, b varchar) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT rtrim(a, ' ') <= rtrim(b, ' ') $$;
CREATE OR REPLACE FUNCTION rs_emulator.varchar_gt(a varchar, b varchar) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT rtrim(a, ' ') > rtrim(b, ' ') $$;
CREATE OR REPLACE FUNCTION rs_emulator.varchar_ge(a varchar, b varchar) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT rtrim(a, ' ') >= rtrim(b, ' ') $$;
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_operator WHERE oprname = '=' AND oprleft = 'varchar'::regtype AND oprright = 'varchar'::regtype) THEN
    CREATE OPERATOR pg_catalog.= (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = rs_emulator.varchar_eq,
      COMMUTATOR = OPERATOR(pg_catalog.=), NEGATOR = OPERATOR(pg_catalog.<>), RESTRICT = eqsel, JOIN = eqjoinsel);
    CREATE OPERATOR pg_catalog.<> (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = rs_emulator.varchar_ne,
      COMMUTATOR = OPERATOR(pg_catalog.<>), NEGATOR = OPERATOR(pg_catalog.=), RESTRICT = neqsel, JOIN = neqjoinsel);
    CREATE OPERATOR pg_catalog.< (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = rs_emulator.varchar_lt,
      COMMUTATOR = OPERATOR(pg_catalog.>), NEGATOR = OPERATOR(pg_catalog.>=), RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
    CREATE OPERATOR pg_catalog.<= (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = rs_emulator.varchar_le,
      COMMUTATOR = OPERATOR(pg_catalog.>=), NEGATOR = OPERATOR(pg_catalog.>), RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
    CREATE OPERATOR pg_catalog.> (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = rs_emulator.varchar_gt,
      COMMUTATOR = OPERATOR(pg_catalog.<), NEGATOR = OPERATOR(pg_catalog.<=), RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
    CREATE OPERATOR pg_catalog.>= (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = rs_emulator.varchar_ge,
      COMMUTATOR = OPERATOR(pg_catalog.<=), NEGATOR = OPERATOR(pg_catalog.<), RESTRICT = scalargesel, JOIN = scalargejoinsel);
  END IF;
END $$;

-- DROP SCHEMA unbinds the late-binding views on the schema's relations only.
CREATE OR REPLACE FUNCTION rs_emulator.unbind_late_views_in_schema(nsp text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE r record;
BEGIN
  FOR r IN
    SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = nsp AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
  LOOP
    PERFORM rs_emulator.unbind_late_views(r.oid::regclass);
  END LOOP;
END $$;
GRANT EXECUTE ON FUNCTION rs_emulator.unbind_late_views_in_schema(text) TO PUBLIC;
