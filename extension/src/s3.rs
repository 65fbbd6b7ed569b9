//! The S3 client and the few calls an export (and the clean-up of leftovers) makes. Runs only on
//! a helper thread's tokio runtime, never on the backend thread.

use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use bytes::Bytes;
use pg2redshift_core::leftovers;

/// Where and how to reach S3. Credentials are kept out of `Debug`.
#[derive(Clone)]
pub struct S3Config {
    pub bucket: String,
    /// None: the region of the server's AWS configuration.
    pub region: Option<String>,
    /// None: AWS S3.
    pub endpoint: Option<String>,
    pub force_path_style: bool,
    pub credentials: Option<StaticCredentials>,
    /// Server-side encryption asked for on every object the export writes.
    pub encryption: Option<Encryption>,
}

/// S3 server-side encryption of an export's objects: SSE-S3 (AES256) or SSE-KMS with the
/// bucket's default key or a given one. Redshift's COPY reads both without options.
/// https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingServerSideEncryption.html
/// https://docs.aws.amazon.com/redshift/latest/dg/c_loading-encrypted-files.html
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    S3,
    Kms { key_id: Option<String> },
}

impl Encryption {
    /// From the `sse` and `sse_kms_key_id` of a destination or the settings.
    pub fn from_options(sse: Option<&str>, kms_key_id: Option<&str>) -> Result<Option<Encryption>, &'static str> {
        let key = kms_key_id.filter(|k| !k.is_empty()).map(str::to_string);
        match (sse.filter(|s| !s.is_empty()), key) {
            (None, None) => Ok(None),
            (Some("AES256"), None) => Ok(Some(Encryption::S3)),
            (Some("aws:kms"), key_id) => Ok(Some(Encryption::Kms { key_id })),
            (Some("AES256") | None, Some(_)) => Err("sse_kms_key_id needs sse = 'aws:kms'"),
            (Some(_), _) => Err("sse must be 'AES256' or 'aws:kms'"),
        }
    }

    fn algorithm(&self) -> ServerSideEncryption {
        match self {
            Encryption::S3 => ServerSideEncryption::Aes256,
            Encryption::Kms { .. } => ServerSideEncryption::AwsKms,
        }
    }

    fn key_id(&self) -> Option<String> {
        match self {
            Encryption::Kms { key_id } => key_id.clone(),
            Encryption::S3 => None,
        }
    }
}

#[derive(Clone)]
pub struct StaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// An S3 call that failed after the SDK's retries, described without any secret.
#[derive(Debug, Clone, thiserror::Error)]
#[error("S3 {operation} of s3://{bucket}/{key} failed: {detail}")]
pub struct S3Error {
    pub operation: &'static str,
    pub bucket: String,
    pub key: String,
    pub detail: String,
    /// Worth trying again later (no answer, 5xx, throttling); a refusal such as 403 is not.
    pub transient: bool,
}

/// No answer, a timeout, a server error or throttling.
fn is_transient<E>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::ServiceError(e) => {
            let status = e.raw().status().as_u16();
            status >= 500 || status == 429
        }
        SdkError::ResponseError(_) | SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => true,
        _ => false,
    }
}

/// The HTTP status of a service error.
fn status<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    match err {
        SdkError::ServiceError(e) => Some(e.raw().status().as_u16()),
        _ => None,
    }
}

/// Attempts per call: S3 asks clients to retry 5xx and throttling.
const MAX_ATTEMPTS: u32 = 5;

pub async fn client(config: &S3Config) -> Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = &config.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(creds) = &config.credentials {
        loader = loader.credentials_provider(Credentials::new(
            creds.access_key_id.clone(),
            creds.secret_access_key.clone(),
            creds.session_token.clone(),
            None,
            "pg2redshift settings",
        ));
    }
    let shared = loader.load().await;
    let mut builder = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(config.force_path_style)
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(300))
                .build(),
        );
    if let Some(endpoint) = &config.endpoint {
        builder = builder.endpoint_url(endpoint.clone());
    }
    Client::from_conf(builder.build())
}

/// A runtime for S3 calls made on a helper thread; `operation` and `key` name what failed.
pub fn runtime(operation: &'static str, bucket: &str, key: &str) -> Result<tokio::runtime::Runtime, S3Error> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| S3Error {
        operation,
        bucket: bucket.to_string(),
        key: key.to_string(),
        detail: format!("could not start the S3 runtime: {e}"),
        transient: false,
    })
}

pub struct Bucket {
    pub client: Client,
    pub name: String,
    pub encryption: Option<Encryption>,
    /// Bodies are sent without a SigV4 payload hash (UNSIGNED-PAYLOAD), which AWS allows over
    /// TLS only: set for HTTPS endpoints (AWS itself). Every body still carries its CRC32C,
    /// which S3 checks before it stores anything.
    pub unsigned_payload: bool,
}

/// Every body the export writes carries this checksum, computed by the SDK as it sends and
/// checked by S3, which refuses a body that does not match (BadDigest); for a multipart upload S3
/// also combines the parts' into the object's. CRC32C: hardware-computed on x86 and ARM.
/// https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
const CHECKSUM: ChecksumAlgorithm = ChecksumAlgorithm::Crc32C;

impl Bucket {
    /// The bucket `config` names, through `client`.
    pub fn new(client: Client, config: &S3Config) -> Bucket {
        // AWS (no endpoint) and `https://` endpoints: the payload need not be signed.
        let tls = config.endpoint.as_deref().is_none_or(|e| e.to_ascii_lowercase().starts_with("https://"));
        Bucket { client, name: config.bucket.clone(), encryption: config.encryption.clone(), unsigned_payload: tls }
    }
}

impl Bucket {
    fn error<E: std::error::Error + aws_sdk_s3::error::ProvideErrorMetadata + Send + Sync + 'static>(
        &self,
        operation: &'static str,
        key: &str,
        err: SdkError<E, HttpResponse>,
    ) -> S3Error {
        S3Error {
            operation,
            bucket: self.name.clone(),
            key: key.to_string(),
            transient: is_transient(&err),
            detail: pg2redshift_core::aws_error::describe(&err),
        }
    }

    fn timed_out(&self, operation: &'static str, key: &str) -> S3Error {
        S3Error {
            operation,
            bucket: self.name.clone(),
            key: key.to_string(),
            detail: "no answer before the cleanup deadline".into(),
            transient: true,
        }
    }

    pub async fn put(&self, key: &str, body: Bytes, content_type: &str) -> Result<(), S3Error> {
        let request = self
            .client
            .put_object()
            .bucket(&self.name)
            .key(key)
            .content_type(content_type)
            .set_server_side_encryption(self.encryption.as_ref().map(Encryption::algorithm))
            .set_ssekms_key_id(self.encryption.as_ref().and_then(Encryption::key_id))
            .checksum_algorithm(CHECKSUM)
            .body(ByteStream::from(body));
        let sent = if self.unsigned_payload { request.customize().disable_payload_signing().send().await } else { request.send().await };
        sent.map_err(|e| self.error("PutObject", key, e))?;
        Ok(())
    }

    pub async fn start_upload(&self, key: &str, content_type: &str) -> Result<String, S3Error> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.name)
            .key(key)
            .content_type(content_type)
            .checksum_algorithm(CHECKSUM)
            .set_server_side_encryption(self.encryption.as_ref().map(Encryption::algorithm))
            .set_ssekms_key_id(self.encryption.as_ref().and_then(Encryption::key_id))
            .send()
            .await
            .map_err(|e| self.error("CreateMultipartUpload", key, e))?;
        out.upload_id.ok_or_else(|| S3Error {
            operation: "CreateMultipartUpload",
            bucket: self.name.clone(),
            key: key.to_string(),
            detail: "the response has no upload id".into(),
            transient: false,
        })
    }

    pub async fn upload_part(&self, key: &str, upload_id: &str, number: i32, body: Bytes) -> Result<CompletedPart, S3Error> {
        let request = self
            .client
            .upload_part()
            .bucket(&self.name)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .checksum_algorithm(CHECKSUM)
            .body(ByteStream::from(body));
        let sent = if self.unsigned_payload { request.customize().disable_payload_signing().send().await } else { request.send().await };
        let out = sent.map_err(|e| self.error("UploadPart", key, e))?;
        Ok(CompletedPart::builder()
            .set_e_tag(out.e_tag)
            .set_checksum_crc32(out.checksum_crc32)
            .set_checksum_crc32_c(out.checksum_crc32_c)
            .set_checksum_crc64_nvme(out.checksum_crc64_nvme)
            .set_checksum_sha1(out.checksum_sha1)
            .set_checksum_sha256(out.checksum_sha256)
            .part_number(number)
            .build())
    }

    pub async fn complete_upload(&self, key: &str, upload_id: &str, mut parts: Vec<CompletedPart>) -> Result<(), S3Error> {
        parts.sort_by_key(|p| p.part_number);
        self.client
            .complete_multipart_upload()
            .bucket(&self.name)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(|e| self.error("CompleteMultipartUpload", key, e))?;
        Ok(())
    }

    /// Aborts an upload, retrying until `deadline`: an upload left open costs storage until a
    /// lifecycle rule removes it, so a short outage should not leave one behind.
    pub async fn abort_upload(&self, key: &str, upload_id: &str, deadline: Instant) -> Result<(), S3Error> {
        persist(deadline, || async {
            self.client
                .abort_multipart_upload()
                .bucket(&self.name)
                .key(key)
                .upload_id(upload_id)
                .send()
                .await
                .map(|_| ())
                .or_else(|e| {
                    // Already completed or aborted (an earlier answer was lost): nothing is open.
                    if e.as_service_error().is_some_and(|s| s.is_no_such_upload()) {
                        Ok(())
                    } else {
                        Err(self.error("AbortMultipartUpload", key, e))
                    }
                })
        }, || self.timed_out("AbortMultipartUpload", key))
        .await
    }

    /// Deletes an object written by a failed export, retrying until `deadline`.
    pub async fn delete(&self, key: &str, deadline: Instant) -> Result<(), S3Error> {
        persist(deadline, || async {
            self.client
                .delete_object()
                .bucket(&self.name)
                .key(key)
                .send()
                .await
                .map(|_| ())
                .or_else(|e| {
                    // Never written (its upload was cut short): nothing to delete.
                    if status(&e) == Some(404) { Ok(()) } else { Err(self.error("DeleteObject", key, e)) }
                })
        }, || self.timed_out("DeleteObject", key))
        .await
    }
}

impl Bucket {
    /// A small object's bytes (a document the exporter wrote), or None when there is none.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, S3Error> {
        match self.client.get_object().bucket(&self.name).key(key).send().await {
            Ok(out) => {
                let body = out.body.collect().await.map_err(|e| S3Error {
                    operation: "GetObject",
                    bucket: self.name.clone(),
                    key: key.to_string(),
                    detail: e.to_string(),
                    transient: true,
                })?;
                Ok(Some(body.into_bytes().to_vec()))
            }
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(self.error("GetObject", key, e)),
        }
    }

    /// Every object under `prefix`, with its last-modified time.
    pub async fn list_objects(&self, prefix: &str) -> Result<Vec<leftovers::Object>, S3Error> {
        let mut out = Vec::new();
        let mut pages = self.client.list_objects_v2().bucket(&self.name).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.error("ListObjectsV2", prefix, e))?;
            for o in page.contents() {
                let (Some(key), Some(modified)) = (o.key(), o.last_modified()) else { continue };
                out.push(leftovers::Object { key: key.to_string(), modified_us: micros(modified) });
            }
        }
        Ok(out)
    }

    /// Every multipart upload still open under `prefix`, with when it started.
    pub async fn list_uploads(&self, prefix: &str) -> Result<Vec<leftovers::Upload>, S3Error> {
        let mut out = Vec::new();
        let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .client
                .list_multipart_uploads()
                .bucket(&self.name)
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(id_marker.take())
                .send()
                .await
                .map_err(|e| self.error("ListMultipartUploads", prefix, e))?;
            for u in page.uploads() {
                let (Some(key), Some(id)) = (u.key(), u.upload_id()) else { continue };
                let initiated_us = u.initiated().map(micros).unwrap_or(i64::MIN);
                out.push(leftovers::Upload { key: key.to_string(), upload_id: id.to_string(), initiated_us });
            }
            match (page.is_truncated(), page.next_key_marker(), page.next_upload_id_marker()) {
                (Some(true), Some(k), id) => {
                    key_marker = Some(k.to_string());
                    id_marker = id.map(str::to_string);
                }
                _ => return Ok(out),
            }
        }
    }
}

/// Microseconds since the Unix epoch.
fn micros(t: &aws_sdk_s3::primitives::DateTime) -> i64 {
    t.secs().saturating_mul(1_000_000).saturating_add(i64::from(t.subsec_nanos() / 1000))
}

/// Repeats `call` (which already retries a few times inside the SDK) until it succeeds or the
/// deadline passes.
async fn persist<F, Fut>(deadline: Instant, call: F, timed_out: impl Fn() -> S3Error) -> Result<(), S3Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), S3Error>>,
{
    loop {
        // A request that hangs must not outlive the deadline either.
        let left = deadline.saturating_duration_since(Instant::now());
        let err = match tokio::time::timeout(left, call()).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(err)) => err,
            Err(_) => return Err(timed_out()),
        };
        if !err.transient || Instant::now() >= deadline {
            return Err(err);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
