//! The files a COPY reads from S3: a manifest's entries or every object under a prefix, and a
//! streaming, decompressing reader for each.
//! https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-source-s3.html
//! https://docs.aws.amazon.com/redshift/latest/dg/loading-data-files-using-manifest.html

use std::pin::Pin;

use async_compression::tokio::bufread::{BzDecoder, GzipDecoder, ZstdDecoder};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use serde::Deserialize;
use tokio::io::AsyncRead;

use crate::sql::copy_command::Compression;

/// A COPY failure that is not about one row: the message Redshift would print.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

pub struct S3Access {
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

pub fn client(a: &S3Access) -> aws_sdk_s3::Client {
    let creds = Credentials::new(&a.access_key_id, &a.secret_access_key, a.session_token.clone(), None, "copy");
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(a.region.clone()))
        .endpoint_url(&a.endpoint)
        .force_path_style(true)
        .credentials_provider(creds)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// `s3://bucket/key` → (bucket, key).
pub fn split_url(url: &str) -> Result<(String, String), SourceError> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| SourceError(format!("Invalid S3 URL '{url}': it must start with s3://")))?;
    match rest.split_once('/') {
        Some((b, k)) if !b.is_empty() => Ok((b.to_string(), k.to_string())),
        _ => Ok((rest.to_string(), String::new())),
    }
}

fn s3_error<E: ProvideErrorMetadata + std::error::Error + 'static>(e: SdkError<E, HttpResponse>) -> SourceError {
    let status = e.raw_response().map(|r| r.status().as_u16().to_string()).unwrap_or_else(|| "?".into());
    match e.code() {
        Some(code) => SourceError(format!(
            "S3ServiceException:{},Status {status},Error {code}",
            e.message().unwrap_or("error")
        )),
        None => SourceError(format!("S3 request failed: {}", DisplayErrorContext(&e))),
    }
}

#[derive(Debug, Clone)]
pub struct SourceFile {
    pub url: String,
    pub bucket: String,
    pub key: String,
    pub size: u64,
}

#[derive(Deserialize)]
struct ManifestJson {
    entries: Vec<EntryJson>,
}

#[derive(Deserialize)]
struct EntryJson {
    url: String,
    #[serde(default)]
    mandatory: bool,
    #[serde(default)]
    meta: Option<MetaJson>,
}

#[derive(Deserialize)]
struct MetaJson {
    content_length: Option<u64>,
}

/// The files to load. A manifest entry's `mandatory` defaults to false ("If mandatory is set to
/// true, COPY terminates if it doesn't find the file for that entry; otherwise, COPY will
/// continue"); "Regardless of any mandatory settings, COPY will terminate if no files are
/// found." Without MANIFEST every object whose key starts with the given key is loaded.
pub async fn list(client: &aws_sdk_s3::Client, source: &str, manifest: bool) -> Result<Vec<SourceFile>, SourceError> {
    let (bucket, key) = split_url(source)?;
    let mut files = Vec::new();
    if manifest {
        let body = client
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| SourceError(format!("Problem reading manifest file - {}", s3_error(e))))?
            .body
            .collect()
            .await
            .map_err(|e| SourceError(format!("Problem reading manifest file - {e}")))?
            .into_bytes();
        let m: ManifestJson = serde_json::from_slice(&body)
            .map_err(|e| SourceError(format!("Manifest file is not in correct json format: {e}")))?;
        for entry in m.entries {
            let (b, k) = split_url(&entry.url)?;
            if k.is_empty() || k.ends_with('/') {
                // 8001: "COPY with MANIFEST parameter requires full path of an Amazon S3 object."
                return Err(SourceError(format!(
                    "COPY with MANIFEST parameter requires full path of an S3 object: '{}'",
                    entry.url
                )));
            }
            match client.head_object().bucket(&b).key(&k).send().await {
                Ok(h) => {
                    let size = h.content_length().unwrap_or(0).max(0) as u64;
                    if let Some(expected) = entry.meta.as_ref().and_then(|m| m.content_length)
                        && expected != size
                    {
                        return Err(SourceError(format!(
                            "Manifest entry '{}' declares content_length {expected} but the object has {size} bytes",
                            entry.url
                        )));
                    }
                    files.push(SourceFile { url: entry.url, bucket: b, key: k, size });
                }
                Err(e) if is_not_found(&e) => {
                    if entry.mandatory {
                        return Err(SourceError(format!(
                            "Manifest entry '{}' is mandatory but the file was not found (S3ServiceException:The specified key does not exist.,Status 404,Error NoSuchKey)",
                            entry.url
                        )));
                    }
                }
                Err(e) => return Err(s3_error(e)),
            }
        }
        if files.is_empty() {
            return Err(SourceError(format!("No files to load: the manifest '{source}' names no existing file")));
        }
    } else {
        let mut token = None;
        loop {
            let page = client
                .list_objects_v2()
                .bucket(&bucket)
                .prefix(&key)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(s3_error)?;
            for o in page.contents() {
                let Some(k) = o.key() else { continue };
                files.push(SourceFile {
                    url: format!("s3://{bucket}/{k}"),
                    bucket: bucket.clone(),
                    key: k.to_string(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                });
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        if files.is_empty() {
            return Err(SourceError(format!("The specified S3 prefix '{key}' does not exist")));
        }
    }
    Ok(files)
}

fn is_not_found<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    e.raw_response().is_some_and(|r| r.status().as_u16() == 404) || matches!(e.code(), Some("NotFound" | "NoSuchKey"))
}

pub type Reader = Pin<Box<dyn AsyncRead + Send>>;

/// The object's bytes as they arrive, decompressed as the COPY says (Redshift does not guess a
/// compression from the file name).
pub async fn open(client: &aws_sdk_s3::Client, file: &SourceFile, compression: Compression) -> Result<Reader, SourceError> {
    let resp = client.get_object().bucket(&file.bucket).key(&file.key).send().await.map_err(s3_error)?;
    let body = tokio::io::BufReader::with_capacity(256 * 1024, resp.body.into_async_read());
    Ok(match compression {
        Compression::None => Box::pin(body),
        Compression::Gzip => {
            let mut d = GzipDecoder::new(body);
            d.multiple_members(true);
            Box::pin(d)
        }
        Compression::Zstd => {
            let mut d = ZstdDecoder::new(body);
            d.multiple_members(true);
            Box::pin(d)
        }
        Compression::Bzip2 => {
            let mut d = BzDecoder::new(body);
            d.multiple_members(true);
            Box::pin(d)
        }
    })
}
