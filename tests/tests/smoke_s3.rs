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
