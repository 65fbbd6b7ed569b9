//! COPY from S3: files, records, Redshift's value rules, and the load itself.

pub mod convert;
pub mod datetime;
pub mod load;
pub mod records;
pub mod source;
