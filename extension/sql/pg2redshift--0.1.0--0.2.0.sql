-- pg2redshift 0.1.0 -> 0.2.0 (ALTER EXTENSION pg2redshift UPDATE TO '0.2.0').
--
-- 0.2.0 adds zstd: the four export functions gain two trailing parameters, `compression` and
-- `zstd_level`. A function cannot gain parameters in place, and keeping the old ones beside the
-- new would make every call that relies on defaults ambiguous. So each old function is renamed
-- aside, the new one created, the old one's owner, grants, SET clauses (finalize.sql's fixed
-- settings, and anything a DBA added) and comment copied onto it, and the old one dropped. A
-- view or function of yours that depends on an export function makes the update fail (drop
-- it, update, re-create it). Calls by name,
-- such as pg_cron jobs, resolve to the new functions. Tables, views, roles, destinations,
-- change streams and the export history are not touched.

\echo Use "ALTER EXTENSION pg2redshift UPDATE TO '0.2.0'" to load this file. \quit

-- Aside, so the new functions can take their names.
ALTER FUNCTION @extschema@.redshift_export(regclass, text, text, text, text, boolean, bigint, integer, text, text, text, text, text, text[], text, integer, text)
    RENAME TO _pg2redshift_0_1_0_one;
ALTER FUNCTION @extschema@.redshift_export(text, text, text, text, text, boolean, bigint, integer, text, text, text, text, text, text[], text, integer, text)
    RENAME TO _pg2redshift_0_1_0_named;
ALTER FUNCTION @extschema@.redshift_export(regclass[], text, text, text, text, boolean, bigint, integer, text, text, text, integer, text)
    RENAME TO _pg2redshift_0_1_0_many;
ALTER FUNCTION @extschema@.redshift_export_schema(text, text, text, text, text, text, text, boolean, bigint, integer, text, text, text, integer, text)
    RENAME TO _pg2redshift_0_1_0_schema;

CREATE FUNCTION @extschema@.redshift_export(
    rel regclass,
    bucket TEXT DEFAULT NULL,
    prefix TEXT DEFAULT NULL,
    region TEXT DEFAULT NULL,
    endpoint TEXT DEFAULT NULL,
    force_path_style bool DEFAULT NULL,
    chunk_size bigint DEFAULT NULL,
    gzip_level INT DEFAULT NULL,
    on_unrepresentable TEXT DEFAULT NULL,
    target_schema TEXT DEFAULT NULL,
    target_table TEXT DEFAULT NULL,
    diststyle TEXT DEFAULT NULL,
    distkey TEXT DEFAULT NULL,
    sortkey TEXT[] DEFAULT NULL,
    sortkey_style TEXT DEFAULT NULL,
    numeric_scale INT DEFAULT 10,
    destination TEXT DEFAULT NULL,
    compression TEXT DEFAULT NULL,
    zstd_level INT DEFAULT NULL
) RETURNS TABLE (
    export_id TEXT,
    table_name TEXT,
    bundle_url TEXT,
    rows bigint,
    files bigint,
    bytes bigint,
    bytes_gzip bigint,
    seconds double precision,
    changed_values bigint
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'redshift_export_one_v2_wrapper';

CREATE FUNCTION @extschema@.redshift_export(
    rel TEXT,
    bucket TEXT DEFAULT NULL,
    prefix TEXT DEFAULT NULL,
    region TEXT DEFAULT NULL,
    endpoint TEXT DEFAULT NULL,
    force_path_style bool DEFAULT NULL,
    chunk_size bigint DEFAULT NULL,
    gzip_level INT DEFAULT NULL,
    on_unrepresentable TEXT DEFAULT NULL,
    target_schema TEXT DEFAULT NULL,
    target_table TEXT DEFAULT NULL,
    diststyle TEXT DEFAULT NULL,
    distkey TEXT DEFAULT NULL,
    sortkey TEXT[] DEFAULT NULL,
    sortkey_style TEXT DEFAULT NULL,
    numeric_scale INT DEFAULT 10,
    destination TEXT DEFAULT NULL,
    compression TEXT DEFAULT NULL,
    zstd_level INT DEFAULT NULL
) RETURNS TABLE (
    export_id TEXT,
    table_name TEXT,
    bundle_url TEXT,
    rows bigint,
    files bigint,
    bytes bigint,
    bytes_gzip bigint,
    seconds double precision,
    changed_values bigint
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'redshift_export_named_v2_wrapper';

CREATE FUNCTION @extschema@.redshift_export(
    rels regclass[],
    bucket TEXT DEFAULT NULL,
    prefix TEXT DEFAULT NULL,
    region TEXT DEFAULT NULL,
    endpoint TEXT DEFAULT NULL,
    force_path_style bool DEFAULT NULL,
    chunk_size bigint DEFAULT NULL,
    gzip_level INT DEFAULT NULL,
    on_unrepresentable TEXT DEFAULT NULL,
    target_schema TEXT DEFAULT NULL,
    diststyle TEXT DEFAULT NULL,
    numeric_scale INT DEFAULT 10,
    destination TEXT DEFAULT NULL,
    compression TEXT DEFAULT NULL,
    zstd_level INT DEFAULT NULL
) RETURNS TABLE (
    export_id TEXT,
    table_name TEXT,
    bundle_url TEXT,
    rows bigint,
    files bigint,
    bytes bigint,
    bytes_gzip bigint,
    seconds double precision,
    changed_values bigint
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'redshift_export_many_v2_wrapper';

CREATE FUNCTION @extschema@.redshift_export_schema(
    schema TEXT,
    include TEXT DEFAULT '%',
    exclude TEXT DEFAULT NULL,
    bucket TEXT DEFAULT NULL,
    prefix TEXT DEFAULT NULL,
    region TEXT DEFAULT NULL,
    endpoint TEXT DEFAULT NULL,
    force_path_style bool DEFAULT NULL,
    chunk_size bigint DEFAULT NULL,
    gzip_level INT DEFAULT NULL,
    on_unrepresentable TEXT DEFAULT NULL,
    target_schema TEXT DEFAULT NULL,
    diststyle TEXT DEFAULT NULL,
    numeric_scale INT DEFAULT 10,
    destination TEXT DEFAULT NULL,
    compression TEXT DEFAULT NULL,
    zstd_level INT DEFAULT NULL
) RETURNS TABLE (
    export_id TEXT,
    table_name TEXT,
    bundle_url TEXT,
    rows bigint,
    files bigint,
    bytes bigint,
    bytes_gzip bigint,
    seconds double precision,
    changed_values bigint
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'redshift_export_schema_v2_wrapper';

-- Each old function's owner, privileges, settings and comment, onto its new one; then the old
-- one goes.
DO $$
DECLARE
    pair record;
    grant_ record;
BEGIN
    FOR pair IN
        SELECT old.oid::regprocedure AS old_fn, new.oid::regprocedure AS new_fn,
               old.proowner::regrole AS owner, old.proacl, old.proconfig, init.initprivs,
               pg_catalog.obj_description(old.oid, 'pg_proc') AS comment
        FROM pg_catalog.pg_proc old
        LEFT JOIN pg_catalog.pg_init_privs init
          ON init.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND init.objoid = old.oid
         AND init.objsubid = 0
        JOIN pg_catalog.pg_proc new
          ON new.pronamespace = old.pronamespace
         AND new.proname = CASE WHEN old.proname = '_pg2redshift_0_1_0_schema'
                                THEN 'redshift_export_schema' ELSE 'redshift_export' END
         AND new.proargtypes::oid[] = (old.proargtypes::oid[] || ARRAY['text'::regtype::oid, 'int4'::regtype::oid])
        WHERE old.pronamespace = '@extschema@'::regnamespace
          AND old.proname LIKE '\_pg2redshift\_0\_1\_0\_%'
    LOOP
        -- The superuser running the update may not be the one who created the extension.
        EXECUTE pg_catalog.format('ALTER FUNCTION %s OWNER TO %s', pair.new_fn, pair.owner);
        -- A NULL ACL is the default (EXECUTE for PUBLIC): so is the new function's. Otherwise
        -- GRANT to each grantee, which records the roles' dependencies, then the old ACL
        -- itself, which also keeps who granted what (a GRANT run here would name the owner).
        IF pair.proacl IS NOT NULL THEN
            EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', pair.new_fn);
            FOR grant_ IN SELECT * FROM pg_catalog.aclexplode(pair.proacl) LOOP
                EXECUTE pg_catalog.format('GRANT %s ON FUNCTION %s TO %s%s',
                    grant_.privilege_type, pair.new_fn,
                    CASE WHEN grant_.grantee = 0 THEN 'PUBLIC'
                         -- regrole prints the name quoted where it needs to be
                         ELSE grant_.grantee::regrole::text END,
                    CASE WHEN grant_.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
            END LOOP;
            UPDATE pg_catalog.pg_proc SET proacl = pair.proacl WHERE oid = pair.new_fn;
        END IF;
        -- SET clauses as stored (finalize.sql's fixed settings, and any a DBA added): copied
        -- as they are, since a list value such as search_path's cannot be passed back as one
        -- string.
        UPDATE pg_catalog.pg_proc SET proconfig = pair.proconfig WHERE oid = pair.new_fn;
        IF pair.comment IS NOT NULL THEN
            EXECUTE pg_catalog.format('COMMENT ON FUNCTION %s IS %L', pair.new_fn, pair.comment);
        END IF;
        -- The GRANTs above ran in an extension script, so PostgreSQL took them all as the
        -- extension's initial privileges; pg_dump would then leave out the ones a DBA added.
        -- The old function's initial privileges are the right ones.
        IF pair.initprivs IS NULL THEN
            DELETE FROM pg_catalog.pg_init_privs
            WHERE classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND objoid = pair.new_fn AND objsubid = 0;
        ELSE
            UPDATE pg_catalog.pg_init_privs SET initprivs = pair.initprivs
            WHERE classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND objoid = pair.new_fn AND objsubid = 0;
        END IF;
        EXECUTE pg_catalog.format('DROP FUNCTION %s', pair.old_fn);
    END LOOP;
    IF EXISTS (SELECT FROM pg_catalog.pg_proc
               WHERE pronamespace = '@extschema@'::regnamespace
                 AND proname LIKE '\_pg2redshift\_0\_1\_0\_%') THEN
        RAISE EXCEPTION 'pg2redshift upgrade: an export function of 0.1.0 has no 0.2.0 counterpart';
    END IF;
END
$$;
