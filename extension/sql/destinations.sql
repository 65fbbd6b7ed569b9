-- Destinations: where exports may go, owned by superusers. A destination fixes bucket, prefix,
-- region, endpoint and addressing, and the Redshift schemas its exports may name; roles export
-- only to destinations granted to them (or to a role they are a member of). Superusers manage
-- them with the functions below or plain UPDATE; nobody else can read the tables directly, only
-- the redshift_destinations view, which shows each role what it may use.
-- Every operator and function below is schema-qualified: the functions run with a fixed
-- search_path, and the view is parsed once, at creation.

CREATE TABLE redshift_destination (
    name             text PRIMARY KEY
                     CHECK (name OPERATOR(pg_catalog.~) '^[a-z0-9_][a-z0-9_.-]{0,62}$'),
    -- S3's bucket naming rules (bucketnamingrules.html): 3 to 63 of [a-z0-9.-], alphanumeric ends.
    bucket           text NOT NULL
                     CHECK (bucket OPERATOR(pg_catalog.~) '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$'),
    -- The same rules as the prefix option (bundle::checked_prefix): '/'-separated segments, none
    -- empty, '.' or '..', no control characters or backslashes, at most 256 bytes.
    prefix           text NOT NULL DEFAULT ''
                     CHECK (pg_catalog.octet_length(prefix) OPERATOR(pg_catalog.<=) 256
                            AND prefix OPERATOR(pg_catalog.!~) '[[:cntrl:]\\]'
                            AND (prefix OPERATOR(pg_catalog.=) ''
                                 OR ('/' OPERATOR(pg_catalog.||) prefix OPERATOR(pg_catalog.||) '/')
                                    OPERATOR(pg_catalog.!~) '/(\.|\.\.)?/')),
    region           text,
    endpoint         text CHECK (endpoint OPERATOR(pg_catalog.~) '^https?://[^[:space:][:cntrl:]]+$'),
    force_path_style boolean NOT NULL DEFAULT false,
    -- Server-side encryption of every object written there: SSE-S3 or SSE-KMS (a key id, alias
    -- or ARN; NULL for the account's aws/s3 key).
    sse              text CHECK (sse OPERATOR(pg_catalog.=) ANY (ARRAY['AES256', 'aws:kms'])),
    sse_kms_key_id   text CHECK (sse_kms_key_id IS NULL OR sse OPERATOR(pg_catalog.=) 'aws:kms'),
    -- Redshift schemas (as folded there: ASCII lowercase) its exports may load into; '*' for any.
    target_schemas   text[] NOT NULL
                     CHECK (pg_catalog.cardinality(target_schemas) OPERATOR(pg_catalog.>) 0
                            AND pg_catalog.array_position(target_schemas, NULL) IS NULL),
    created_by       name NOT NULL DEFAULT session_user,
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE redshift_destination IS 'Where exports may go; managed by superusers (pg2redshift).';

-- Roles are kept by name, so pg_dump carries the grants to another cluster.
CREATE TABLE redshift_destination_grant (
    destination text NOT NULL REFERENCES redshift_destination (name) ON UPDATE CASCADE ON DELETE CASCADE,
    role        name NOT NULL,
    granted_by  name NOT NULL DEFAULT session_user,
    granted_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (destination, role)
);
COMMENT ON TABLE redshift_destination_grant IS 'Which roles may export to which destination (pg2redshift).';

-- Both tables are configuration: pg_dump writes their rows.
SELECT pg_catalog.pg_extension_config_dump('redshift_destination', '');
SELECT pg_catalog.pg_extension_config_dump('redshift_destination_grant', '');

-- What the current role may use: every destination for a superuser, else those granted to a
-- role it is a member of. security_barrier: the WHERE runs before any function a caller adds.
CREATE VIEW redshift_destinations WITH (security_barrier) AS
SELECT d.name, d.bucket, d.prefix, d.region, d.endpoint, d.force_path_style, d.target_schemas,
       d.sse, d.sse_kms_key_id
FROM @extschema@.redshift_destination d
WHERE EXISTS (SELECT FROM pg_catalog.pg_roles r
              WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER AND r.rolsuper)
   OR EXISTS (SELECT FROM @extschema@.redshift_destination_grant g
              JOIN pg_catalog.pg_roles r ON r.rolname OPERATOR(pg_catalog.=) g.role
              WHERE g.destination OPERATOR(pg_catalog.=) d.name
                AND pg_catalog.pg_has_role(r.oid, 'MEMBER'));
GRANT SELECT ON redshift_destinations TO pg2redshift_exporter;

-- Raises 42501 unless the current role is a superuser. The functions below are not granted to
-- anyone either; this is the second lock, should a DBA grant EXECUTE by mistake.
CREATE FUNCTION _redshift_destination_superuser_only(action text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles r
                   WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER AND r.rolsuper) THEN
        RAISE EXCEPTION 'only a superuser may %', action
            USING ERRCODE = '42501',
                  HINT = 'Destinations are managed by superusers; ask one to grant you a destination.';
    END IF;
END
$body$;

CREATE FUNCTION redshift_destination_create(
    name text, bucket text, target_schemas text[], prefix text DEFAULT '', region text DEFAULT NULL,
    endpoint text DEFAULT NULL, force_path_style boolean DEFAULT false, sse text DEFAULT NULL,
    sse_kms_key_id text DEFAULT NULL
) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    PERFORM @extschema@._redshift_destination_superuser_only('create a destination');
    INSERT INTO @extschema@.redshift_destination
        (name, bucket, prefix, region, endpoint, force_path_style, target_schemas, sse, sse_kms_key_id)
    VALUES ($1, $2, pg_catalog.btrim(coalesce($4, ''), '/'), NULLIF($5, ''), NULLIF($6, ''),
            coalesce($7, false), $3, NULLIF($8, ''), NULLIF($9, ''));
END
$body$;

CREATE FUNCTION redshift_destination_drop(name text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    PERFORM @extschema@._redshift_destination_superuser_only('drop a destination');
    DELETE FROM @extschema@.redshift_destination d WHERE d.name OPERATOR(pg_catalog.=) $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'destination "%" does not exist', $1 USING ERRCODE = '42704';
    END IF;
END
$body$;

CREATE FUNCTION redshift_destination_grant(name text, role regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    PERFORM @extschema@._redshift_destination_superuser_only('grant a destination');
    IF NOT EXISTS (SELECT FROM @extschema@.redshift_destination d WHERE d.name OPERATOR(pg_catalog.=) $1) THEN
        RAISE EXCEPTION 'destination "%" does not exist', $1 USING ERRCODE = '42704';
    END IF;
    INSERT INTO @extschema@.redshift_destination_grant (destination, role)
    SELECT $1, r.rolname FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) $2::oid
    ON CONFLICT DO NOTHING;
END
$body$;

-- The role by name: a role dropped since the grant can still be revoked.
CREATE FUNCTION redshift_destination_revoke(name text, role name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    PERFORM @extschema@._redshift_destination_superuser_only('revoke a destination');
    DELETE FROM @extschema@.redshift_destination_grant g
    WHERE g.destination OPERATOR(pg_catalog.=) $1 AND g.role OPERATOR(pg_catalog.=) $2;
END
$body$;

REVOKE EXECUTE ON FUNCTION _redshift_destination_superuser_only(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION redshift_destination_create(text, text, text[], text, text, text, boolean, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION redshift_destination_drop(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION redshift_destination_grant(text, regrole) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION redshift_destination_revoke(text, name) FROM PUBLIC;
