//! s3s-fs with what the tests need of S3 that it lacks: ListMultipartUploads (to prove that a
//! failed or cancelled export leaves no upload open), NoSuchBucket for every operation on a
//! bucket that does not exist (s3s-fs would create its folder on PutObject), server-side
//! encryption headers kept with the object and returned on HEAD and GET, and UploadPart's
//! checksums checked before the part is stored (s3s-fs checks PutObject's only). Everything else
//! goes to s3s-fs unchanged.

use std::path::PathBuf;

use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};
use s3s_fs::FileSystem;

pub struct Store {
    fs: FileSystem,
    root: PathBuf,
}

impl Store {
    pub fn new(fs: FileSystem, root: PathBuf) -> Store {
        Store { fs, root }
    }

    /// "NoSuchBucket: The specified bucket does not exist", as S3 answers any request on a
    /// missing bucket. https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
    fn bucket(&self, name: &str) -> S3Result<()> {
        let plain = !name.is_empty() && !name.contains(['/', '\\']) && !name.starts_with('.');
        if plain && self.root.join(name).is_dir() {
            Ok(())
        } else {
            Err(s3s::s3_error!(NoSuchBucket, "The specified bucket does not exist"))
        }
    }

    /// s3s-fs (pinned at 0.14.1) keeps an open upload's attributes in
    /// `.bucket-<b64 bucket>.object-<b64 key>.upload-<uuid>.metadata.json` under its root,
    /// and the upload itself in `.upload-<uuid>.json`; both go away on complete and abort.
    fn open_uploads(&self, bucket: &str, prefix: &str) -> std::io::Result<Vec<MultipartUpload>> {
        let b64 = base64_simd::URL_SAFE_NO_PAD;
        let mut uploads = Vec::new();
        for entry in std::fs::read_dir(&self.root)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(rest) = name.strip_prefix(".bucket-").and_then(|r| r.strip_suffix(".metadata.json")) else {
                continue;
            };
            let Some((b, rest)) = rest.split_once(".object-") else { continue };
            let Some((k, upload_id)) = rest.split_once(".upload-") else { continue };
            let (Ok(b), Ok(k)) = (b64.decode_to_vec(b), b64.decode_to_vec(k)) else { continue };
            let (Ok(b), Ok(key)) = (String::from_utf8(b), String::from_utf8(k)) else { continue };
            if b != bucket || !key.starts_with(prefix) || !self.root.join(format!(".upload-{upload_id}.json")).exists() {
                continue;
            }
            let initiated = entry.metadata().and_then(|m| m.modified()).ok().map(Timestamp::from);
            uploads.push(MultipartUpload {
                key: Some(key),
                upload_id: Some(upload_id.to_string()),
                initiated,
                ..Default::default()
            });
        }
        uploads.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(uploads)
    }
}

/// Where the server-side encryption an object was written with is kept: in its attributes, as
/// user metadata under names no client can send (S3 lower-cases x-amz-meta-* names and these
/// hold a character such names never have).
const SSE: &str = "s3local:sse";
const SSE_KMS_KEY: &str = "s3local:sse-kms-key-id";

/// The encryption a PutObject or CreateMultipartUpload asks for, checked as S3 checks it, moved
/// into the metadata s3s-fs keeps with the object.
/// https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingServerSideEncryption.html
/// https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html
fn keep_encryption(
    sse: &Option<ServerSideEncryption>,
    kms_key: &Option<String>,
    metadata: &mut Option<Metadata>,
) -> S3Result<()> {
    let sse = sse.as_ref().map(|s| s.as_str().to_string());
    match (sse.as_deref(), kms_key) {
        (None, None) => return Ok(()),
        (Some("AES256"), None) | (Some("aws:kms" | "aws:kms:dsse"), _) => {}
        (Some("AES256"), Some(_)) | (None, Some(_)) => {
            return Err(s3s::s3_error!(InvalidArgument, "x-amz-server-side-encryption-aws-kms-key-id requires aws:kms"));
        }
        (Some(other), _) => return Err(s3s::s3_error!(InvalidArgument, "unknown server-side encryption {other}")),
    }
    let m = metadata.get_or_insert_with(Default::default);
    if let Some(sse) = sse {
        m.insert(SSE.into(), sse);
    }
    if let Some(k) = kms_key {
        m.insert(SSE_KMS_KEY.into(), k.clone());
    }
    Ok(())
}

/// The kept encryption back out of the metadata: (algorithm, KMS key id).
fn kept_encryption(metadata: &mut Option<Metadata>) -> (Option<ServerSideEncryption>, Option<String>) {
    let Some(m) = metadata.as_mut() else { return (None, None) };
    let sse = m.remove(SSE).map(ServerSideEncryption::from);
    let key = m.remove(SSE_KMS_KEY);
    if m.is_empty() {
        *metadata = None;
    }
    (sse, key)
}

#[async_trait::async_trait]
impl S3 for Store {
    async fn abort_multipart_upload(&self, req: S3Request<AbortMultipartUploadInput>) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.bucket(&req.input.bucket)?;
        self.fs.abort_multipart_upload(req).await
    }

    async fn complete_multipart_upload(&self, req: S3Request<CompleteMultipartUploadInput>) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        self.bucket(&req.input.bucket)?;
        self.fs.complete_multipart_upload(req).await
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        self.bucket(&req.input.bucket)?;
        self.fs.copy_object(req).await
    }

    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        self.fs.create_bucket(req).await
    }

    async fn create_multipart_upload(&self, mut req: S3Request<CreateMultipartUploadInput>) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.bucket(&req.input.bucket)?;
        let i = &mut req.input;
        keep_encryption(&i.server_side_encryption, &i.ssekms_key_id, &mut i.metadata)?;
        let (sse, key) = (i.server_side_encryption.clone(), i.ssekms_key_id.clone());
        let mut out = self.fs.create_multipart_upload(req).await?;
        out.output.server_side_encryption = sse;
        out.output.ssekms_key_id = key;
        Ok(out)
    }

    async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.fs.delete_bucket(req).await
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.bucket(&req.input.bucket)?;
        self.fs.delete_object(req).await
    }

    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        self.bucket(&req.input.bucket)?;
        self.fs.delete_objects(req).await
    }

    async fn get_bucket_location(&self, req: S3Request<GetBucketLocationInput>) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.bucket(&req.input.bucket)?;
        self.fs.get_bucket_location(req).await
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        self.bucket(&req.input.bucket)?;
        let mut out = self.fs.get_object(req).await?;
        let o = &mut out.output;
        (o.server_side_encryption, o.ssekms_key_id) = kept_encryption(&mut o.metadata);
        Ok(out)
    }

    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        self.bucket(&req.input.bucket)?;
        self.fs.head_bucket(req).await
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        self.bucket(&req.input.bucket)?;
        let mut out = self.fs.head_object(req).await?;
        let o = &mut out.output;
        (o.server_side_encryption, o.ssekms_key_id) = kept_encryption(&mut o.metadata);
        Ok(out)
    }

    async fn list_buckets(&self, req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
        self.fs.list_buckets(req).await
    }

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        self.bucket(&req.input.bucket)?;
        self.fs.list_objects(req).await
    }

    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.bucket(&req.input.bucket)?;
        self.fs.list_objects_v2(req).await
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        self.bucket(&req.input.bucket)?;
        self.fs.list_parts(req).await
    }

    async fn put_object(&self, mut req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        self.bucket(&req.input.bucket)?;
        let i = &mut req.input;
        keep_encryption(&i.server_side_encryption, &i.ssekms_key_id, &mut i.metadata)?;
        let (sse, key) = (i.server_side_encryption.clone(), i.ssekms_key_id.clone());
        let mut out = self.fs.put_object(req).await?;
        out.output.server_side_encryption = sse;
        out.output.ssekms_key_id = key;
        Ok(out)
    }

    /// S3 checks the checksum a part comes with (in a header, or in the trailer of an
    /// aws-chunked body) and refuses the part if it does not match, storing nothing (BadDigest).
    /// https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
    async fn upload_part(&self, mut req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        use futures_util::TryStreamExt;
        self.bucket(&req.input.bucket)?;
        let body = req.input.body.take().ok_or_else(|| s3s::s3_error!(IncompleteBody))?;
        let chunks: Vec<bytes::Bytes> = body.try_collect().await.map_err(|_| s3s::s3_error!(IncompleteBody))?;
        let trailers = req.trailing_headers.as_ref().and_then(|t| t.take());
        let i = &mut req.input;
        let claimed = |name: &str, field: &Option<String>| {
            field.clone().or_else(|| trailers.as_ref()?.get(name)?.to_str().ok().map(str::to_string))
        };
        let claims = [
            ("CRC32", claimed("x-amz-checksum-crc32", &i.checksum_crc32)),
            ("CRC32C", claimed("x-amz-checksum-crc32c", &i.checksum_crc32c)),
            ("CRC64NVME", claimed("x-amz-checksum-crc64nvme", &i.checksum_crc64nvme)),
            ("SHA1", claimed("x-amz-checksum-sha1", &i.checksum_sha1)),
            ("SHA256", claimed("x-amz-checksum-sha256", &i.checksum_sha256)),
        ];
        let mut hasher = s3s::checksum::ChecksumHasher::default();
        for (algorithm, claim) in &claims {
            if claim.is_some() {
                match *algorithm {
                    "CRC32" => hasher.crc32 = Some(Default::default()),
                    "CRC32C" => hasher.crc32c = Some(Default::default()),
                    "CRC64NVME" => hasher.crc64nvme = Some(Default::default()),
                    "SHA1" => hasher.sha1 = Some(Default::default()),
                    _ => hasher.sha256 = Some(Default::default()),
                }
            }
        }
        chunks.iter().for_each(|c| hasher.update(c));
        let computed = hasher.finalize();
        let actual = [
            computed.checksum_crc32,
            computed.checksum_crc32c,
            computed.checksum_crc64nvme,
            computed.checksum_sha1,
            computed.checksum_sha256,
        ];
        for ((algorithm, claim), actual) in claims.iter().zip(&actual) {
            if claim.is_some() && claim != actual {
                return Err(s3s::s3_error!(BadDigest, "The {algorithm} you specified did not match the calculated checksum."));
            }
        }
        let [crc32, crc32c, crc64nvme, sha1, sha256] = actual;
        i.body = Some(StreamingBlob::wrap(futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>))));
        let mut out = self.fs.upload_part(req).await?;
        let o = &mut out.output;
        (o.checksum_crc32, o.checksum_crc32c, o.checksum_crc64nvme, o.checksum_sha1, o.checksum_sha256) = (crc32, crc32c, crc64nvme, sha1, sha256);
        Ok(out)
    }

    async fn upload_part_copy(&self, req: S3Request<UploadPartCopyInput>) -> S3Result<S3Response<UploadPartCopyOutput>> {
        self.bucket(&req.input.bucket)?;
        self.fs.upload_part_copy(req).await
    }


    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        self.bucket(&req.input.bucket)?;
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let uploads = self
            .open_uploads(&input.bucket, &prefix)
            .map_err(|e| s3s::s3_error!(InternalError, "cannot list uploads: {e}"))?;
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: input.prefix,
            is_truncated: Some(false),
            uploads: Some(uploads),
            ..Default::default()
        }))
    }
}
