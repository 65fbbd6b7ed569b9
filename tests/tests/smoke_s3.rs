//! The stack's S3 server, driven with aws-sdk-s3 configured the way the extension and the
//! loader configure theirs (custom endpoint, path-style, static keys, region).

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use e2e::{s3_bucket, s3_client, s3_client_with_secret};

/// S3's minimum size of every part but the last.
const PART: usize = 5 * 1024 * 1024;

fn unique_key(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("e2e-smoke/{name}-{nanos}-{}", std::process::id())
}

#[tokio::test]
async fn put_then_get_returns_the_same_bytes() {
    let s3 = s3_client();
    let key = unique_key("put-get");
    let body: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    s3.put_object()
        .bucket(s3_bucket())
        .key(&key)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .expect("put_object");
    let got = s3.get_object().bucket(s3_bucket()).key(&key).send().await.expect("get_object");
    assert_eq!(got.content_length(), Some(body.len() as i64));
    let bytes = got.body.collect().await.expect("read body").into_bytes();
    assert_eq!(bytes.as_ref(), body.as_slice());
}

#[tokio::test]
async fn multipart_upload_assembles_parts_in_order() {
    let s3 = s3_client();
    let bucket = s3_bucket();
    let key = unique_key("multipart");
    let first = vec![b'a'; PART];
    let second = b"tail of the object".to_vec();

    let upload = s3.create_multipart_upload().bucket(&bucket).key(&key).send().await.expect("create");
    let upload_id = upload.upload_id().expect("upload id").to_string();
    let mut parts = Vec::new();
    for (number, data) in [(1, &first), (2, &second)] {
        let part = s3
            .upload_part()
            .bucket(&bucket)
            .key(&key)
            .upload_id(&upload_id)
            .part_number(number)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .expect("upload_part");
        parts.push(CompletedPart::builder().part_number(number).set_e_tag(part.e_tag).build());
    }
    s3.complete_multipart_upload()
        .bucket(&bucket)
        .key(&key)
        .upload_id(&upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .expect("complete_multipart_upload");

    let got = s3.get_object().bucket(&bucket).key(&key).send().await.expect("get_object");
    let bytes = got.body.collect().await.expect("read body").into_bytes();
    assert_eq!(bytes.len(), first.len() + second.len());
    assert_eq!(&bytes[..PART], first.as_slice());
    assert_eq!(&bytes[PART..], second.as_slice());
}

#[tokio::test]
async fn aborted_multipart_upload_leaves_no_object() {
    let s3 = s3_client();
    let bucket = s3_bucket();
    let key = unique_key("aborted");
    let upload = s3.create_multipart_upload().bucket(&bucket).key(&key).send().await.expect("create");
    let upload_id = upload.upload_id().expect("upload id").to_string();
    s3.upload_part()
        .bucket(&bucket)
        .key(&key)
        .upload_id(&upload_id)
        .part_number(1)
        .body(ByteStream::from(vec![b'x'; 1024]))
        .send()
        .await
        .expect("upload_part");
    s3.abort_multipart_upload()
        .bucket(&bucket)
        .key(&key)
        .upload_id(&upload_id)
        .send()
        .await
        .expect("abort_multipart_upload");
    let listed = s3.list_objects_v2().bucket(&bucket).prefix(&key).send().await.expect("list");
    assert_eq!(listed.key_count(), Some(0), "an aborted upload must not leave an object");
}

#[tokio::test]
async fn a_wrong_secret_is_rejected() {
    let s3 = s3_client_with_secret("not-the-secret");
    let key = unique_key("wrong-secret");
    let err = s3
        .put_object()
        .bucket(s3_bucket())
        .key(&key)
        .body(ByteStream::from_static(b"should not land"))
        .send()
        .await
        .expect_err("a request signed with the wrong secret must fail");
    let code = err.as_service_error().and_then(|e| aws_sdk_s3::error::ProvideErrorMetadata::code(e)).map(str::to_string);
    assert_eq!(code.as_deref(), Some("SignatureDoesNotMatch"), "error: {err:?}");

    let listed = s3_client().list_objects_v2().bucket(s3_bucket()).prefix(&key).send().await.expect("list");
    assert_eq!(listed.key_count(), Some(0), "the rejected object must not exist");
}

#[tokio::test]
async fn the_stack_bucket_exists_and_others_do_not() {
    let s3 = s3_client();
    s3.head_bucket().bucket(s3_bucket()).send().await.expect("the stack's bucket is created at start-up");
    let err = s3.head_bucket().bucket("no-such-bucket-e2e").send().await.expect_err("missing bucket");
    assert!(err.as_service_error().is_some_and(|e| e.is_not_found()), "error: {err:?}");
}

/// S3 answers every operation on a bucket that does not exist with NoSuchBucket, PutObject
/// included (nothing is created).
/// https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
#[tokio::test]
async fn a_missing_bucket_is_no_such_bucket_for_every_operation() {
    use aws_sdk_s3::error::ProvideErrorMetadata;
    let s3 = s3_client();
    let bucket = format!("no-such-bucket-{}", std::process::id());
    let code = |e: Option<&str>| e.map(str::to_string);
    let put = s3.put_object().bucket(&bucket).key("k").body(ByteStream::from_static(b"x")).send().await;
    assert_eq!(code(put.as_ref().err().and_then(|e| e.code())), Some("NoSuchBucket".into()), "{put:?}");
    let get = s3.get_object().bucket(&bucket).key("k").send().await;
    assert_eq!(code(get.as_ref().err().and_then(|e| e.code())), Some("NoSuchBucket".into()));
    let list = s3.list_objects_v2().bucket(&bucket).send().await;
    assert_eq!(code(list.as_ref().err().and_then(|e| e.code())), Some("NoSuchBucket".into()));
    let upload = s3.create_multipart_upload().bucket(&bucket).key("k").send().await;
    assert_eq!(code(upload.as_ref().err().and_then(|e| e.code())), Some("NoSuchBucket".into()));
    let delete = s3.delete_object().bucket(&bucket).key("k").send().await;
    assert_eq!(code(delete.as_ref().err().and_then(|e| e.code())), Some("NoSuchBucket".into()));
    // HEAD has no body: the SDK reports the status only.
    assert!(s3.head_object().bucket(&bucket).key("k").send().await.is_err());
    let buckets = s3.list_buckets().send().await.expect("list buckets");
    assert!(!buckets.buckets().iter().any(|b| b.name() == Some(bucket.as_str())), "the bucket must not have been created");
}

/// Server-side encryption asked for on PutObject and on a multipart upload is kept with the
/// object and returned by HEAD, as S3 does.
#[tokio::test]
async fn server_side_encryption_is_kept_and_returned_on_head() {
    use aws_sdk_s3::types::ServerSideEncryption;
    let s3 = s3_client();
    let key = unique_key("sse-s3");
    s3.put_object()
        .bucket(s3_bucket())
        .key(&key)
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect("put with SSE-S3");
    let head = s3.head_object().bucket(s3_bucket()).key(&key).send().await.expect("head");
    assert_eq!(head.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert!(head.metadata().is_none_or(|m| m.is_empty()), "{:?}", head.metadata());

    let key = unique_key("sse-kms");
    let kms = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let upload = s3
        .create_multipart_upload()
        .bucket(s3_bucket())
        .key(&key)
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(kms)
        .send()
        .await
        .expect("create upload");
    let id = upload.upload_id().expect("upload id");
    let part = s3
        .upload_part()
        .bucket(s3_bucket())
        .key(&key)
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from_static(b"y"))
        .send()
        .await
        .expect("part");
    let done = CompletedMultipartUpload::builder()
        .parts(CompletedPart::builder().part_number(1).set_e_tag(part.e_tag().map(str::to_string)).build())
        .build();
    s3.complete_multipart_upload().bucket(s3_bucket()).key(&key).upload_id(id).multipart_upload(done).send().await.expect("complete");
    let head = s3.head_object().bucket(s3_bucket()).key(&key).send().await.expect("head");
    assert_eq!(head.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    assert_eq!(head.ssekms_key_id(), Some(kms));

    let bad = s3
        .put_object()
        .bucket(s3_bucket())
        .key(unique_key("sse-bad"))
        .server_side_encryption(ServerSideEncryption::Aes256)
        .ssekms_key_id(kms)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert!(bad.is_err(), "a KMS key with AES256 is refused");
}
