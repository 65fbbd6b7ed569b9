//! The Redshift emulator (see DESIGN.md, "The Redshift emulator"): a PostgreSQL wire-protocol
//! server that keeps its tables in a backing PostgreSQL database and follows Redshift's
//! documented behaviour for COPY from S3, types and limits. It arrives with its own issue; the
//! stack already starts its backing database.
