-- Deterministic sample data for the analytics scenario: a learning platform's user actions.
-- psql -v actions=1000000 -f examples/analytics_sample.sql   (default: 1,000,000 actions)
--
-- About 23,000 users; sessions of 3 to 60 actions, a few seconds to minutes apart, with
-- microsecond timestamps; SQL text with newlines, quotes and non-ASCII in `query` for code
-- executions. The same :actions gives the same rows on every run (hashes, not random()).
\if :{?actions}
\else
  \set actions 1000000
\endif
\set ON_ERROR_STOP on
SET client_min_messages = warning;

CREATE SCHEMA IF NOT EXISTS analytics;
DROP TABLE IF EXISTS analytics.action;
DROP TABLE IF EXISTS analytics.action_type;

CREATE TABLE analytics.action_type (
    id int PRIMARY KEY,
    code varchar(100) NOT NULL,
    name varchar(100),
    is_async bool NOT NULL
);
INSERT INTO analytics.action_type VALUES
    (1, 'login', 'Login', false),
    (2, 'logout', 'Logout', false),
    (3, 'logout_session_expired', 'Logout (session expired)', true),
    (4, 'course_start', 'Course start – «intro»', false),
    (5, 'course_finish', 'Course finish', false),
    (6, 'course_page_open', 'Course page open', false),
    (7, 'exercise_page_open', 'Exercise page open', false),
    (8, 'execute_exercise_code', 'Run code, "quoted"', true),
    (9, 'successful_exercise_code_execution', 'Code ran ✓', true),
    (10, 'failed_exercise_code_execution', 'Code failed ✗', true);

CREATE TABLE analytics.action (
    id int PRIMARY KEY,
    user_profile_id int NOT NULL,
    session_id varchar(100) NOT NULL,
    action_type_id int NOT NULL,
    action_time timestamp NOT NULL,
    course_id int NULL,
    exercise_id int NULL,
    is_exercise_checked bool NULL,
    is_async bool NOT NULL,
    query text NULL
);

-- h(n, salt): a stable non-negative pseudo-random integer.
INSERT INTO analytics.action
SELECT row_number() OVER (ORDER BY s.sid, a.step)::int AS id,
       s.user_id,
       'sess-' || lpad(s.sid::text, 8, '0') || '-' || substr(md5(s.sid::text), 1, 6),
       t.id,
       s.started + a.step * interval '1 second' * (5 + abs(hashint8(s.sid * 131 + a.step)) % 90)
                 + (abs(hashint8(s.sid * 17 + a.step)) % 1000000) * interval '1 microsecond',
       CASE WHEN t.id >= 4 THEN 1 + abs(hashint8(s.sid)) % 40 END,
       CASE WHEN t.id >= 7 THEN 1 + abs(hashint8(s.sid * 3 + a.step)) % 500 END,
       CASE WHEN t.id IN (9, 10) THEN t.id = 9 END,
       t.is_async,
       CASE WHEN t.id = 8 THEN
         E'SELECT name, \'Zoë\' AS "author"\n  FROM exercises\n WHERE id = ' || (abs(hashint8(s.sid + a.step)) % 500)
         || E';\n-- «try #' || a.step || E'», comma, "quote"\\n backslash'
       END
FROM (
    SELECT sid,
           -- 7919 is prime to 23000: every block of 23,000 sessions covers every user once.
           1 + (sid * 7919) % 23000 AS user_id,
           timestamp '2024-01-01' + (abs(hashint8(sid * 104729)) % (180 * 86400)) * interval '1 second' AS started,
           3 + abs(hashint8(sid * 31)) % 58 AS len
    FROM generate_series(1::bigint, (:actions / 30) + 100) AS sid
) s
CROSS JOIN LATERAL generate_series(1, s.len) AS a(step)
JOIN analytics.action_type t
  ON t.id = CASE WHEN a.step = 1 THEN 1
                 WHEN a.step = s.len THEN 2 + abs(hashint8(s.sid)) % 2
                 ELSE 4 + abs(hashint8(s.sid * 5 + a.step)) % 7 END
ORDER BY s.sid, a.step
LIMIT :actions;

ANALYZE analytics.action_type;
ANALYZE analytics.action;
SELECT count(*) AS actions, count(DISTINCT user_profile_id) AS users, count(DISTINCT session_id) AS sessions
FROM analytics.action;
