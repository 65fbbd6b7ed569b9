# Shared settings and helpers of the project's scripts. Every setting comes from the environment
# with a default, so two stacks (say, a demo and a test run) can live side by side.
# shellcheck shell=bash

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export REPO_DIR

: "${PG2RS_STATE_DIR:=$REPO_DIR/.stack}"
: "${PG2RS_PG_BIN:=/usr/lib/postgresql/15/bin}"
: "${PG2RS_SOURCE_PORT:=54315}"
: "${PG2RS_SOURCE_DB:=app}"
: "${PG2RS_TARGET_PG_PORT:=54316}"
: "${PG2RS_TARGET_PG_DB:=redshift}"
: "${PG2RS_S3_PORT:=9455}"
# The same local S3 server over HTTPS (the stack's certificate), the way AWS serves S3.
: "${PG2RS_S3_TLS_PORT:=9456}"
: "${PG2RS_S3_ACCESS_KEY:=pg2redshift-local}"
: "${PG2RS_S3_SECRET_KEY:=pg2redshift-local-secret}"
: "${PG2RS_S3_BUCKET:=pg2redshift}"
: "${PG2RS_S3_REGION:=us-east-1}"
# The Redshift emulator: its port, the database clients name, a superuser, and the IAM role its
# COPY accepts (all local, for the demo and the tests).
: "${PG2RS_REDSHIFT_PORT:=5439}"
: "${PG2RS_REDSHIFT_DB:=dev}"
: "${PG2RS_REDSHIFT_USER:=awsuser}"
: "${PG2RS_REDSHIFT_PASSWORD:=Local-Emulator-1}"
# An ordinary (non-superuser) Redshift user, for privilege checks.
: "${PG2RS_REDSHIFT_READER:=analyst}"
: "${PG2RS_REDSHIFT_READER_PASSWORD:=Local-Reader-1}"
: "${PG2RS_REDSHIFT_IAM_ROLE:=arn:aws:iam::000000000000:role/pg2redshift-local}"
# The emulator's stand-in for the IAM credential APIs: its port, and the provisioned cluster and
# Serverless workgroup it knows.
: "${PG2RS_REDSHIFT_IAM_PORT:=9457}"
: "${PG2RS_REDSHIFT_CLUSTER:=pg2redshift-local}"
: "${PG2RS_REDSHIFT_WORKGROUP:=pg2redshift-local}"
# AWS's Python driver (redshift_connector) for the driver test, in a virtualenv of its own.
: "${PG2RS_PYTHON_VENV:=/var/tmp/pg2redshift-venv}"
# Outside the clone, so that a fresh clone (CI) still builds incrementally.
: "${CARGO_TARGET_DIR:=/var/tmp/pg2redshift-target}"
export PG2RS_STATE_DIR PG2RS_PG_BIN PG2RS_SOURCE_PORT PG2RS_SOURCE_DB PG2RS_TARGET_PG_PORT \
  PG2RS_TARGET_PG_DB PG2RS_S3_PORT PG2RS_S3_TLS_PORT PG2RS_S3_ACCESS_KEY PG2RS_S3_SECRET_KEY PG2RS_S3_BUCKET \
  PG2RS_S3_REGION PG2RS_REDSHIFT_PORT PG2RS_REDSHIFT_DB PG2RS_REDSHIFT_USER PG2RS_REDSHIFT_PASSWORD \
  PG2RS_REDSHIFT_READER PG2RS_REDSHIFT_READER_PASSWORD \
  PG2RS_REDSHIFT_IAM_ROLE PG2RS_REDSHIFT_IAM_PORT PG2RS_REDSHIFT_CLUSTER PG2RS_REDSHIFT_WORKGROUP \
  PG2RS_PYTHON_VENV CARGO_TARGET_DIR

PG_CONFIG="$PG2RS_PG_BIN/pg_config"
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '%s\n' "$*" >&2; }
die() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Waits up to $2 seconds for 127.0.0.1:$1 to accept connections.
wait_for_port() {
  local port=$1 seconds=$2 i
  for ((i = 0; i < seconds * 10; i++)); do
    port_in_use "$port" && return 0
    sleep 0.1
  done
  return 1
}
