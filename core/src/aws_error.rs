//! AWS SDK failures in one line a person can act on: the service's error code and message, or
//! for a request that never got an answer, why (no credentials found, nothing listening, a
//! timeout), with a hint where one is obvious. The SDK's own Display stops at "dispatch
//! failure" or "service error" and its Debug form is a page of structure; that stays for
//! the loader's `--verbose`. Used by the extension and the loader alike.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Where the AWS SDK looks for credentials, in its order (the default chain).
/// https://docs.aws.amazon.com/sdk-for-rust/latest/dg/credproviders.html
const CHAIN: &str = "environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), shared config and credentials \
                     files (AWS_PROFILE), web identity token, ECS container credentials, EC2 instance metadata";

/// `err` in one line, without the word salad of nested Display forms.
pub fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    one_line(&words(err))
}

/// Lines of a multi-line message joined with "; ", runs of blanks made one.
fn one_line(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

fn words<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("an error without a code");
            let message = e.message().map(|m| format!(": {m}")).unwrap_or_default();
            let hint = match code {
                "NoSuchBucket" => " (the bucket does not exist: check its name and region)",
                "AccessDenied" => " (the credentials in use may not do this: check the IAM policy)",
                "InvalidAccessKeyId" => " (the access key id is not known to the service)",
                "SignatureDoesNotMatch" => " (the secret access key does not belong to the access key id)",
                "ExpiredToken" | "ExpiredTokenException" => " (the session token has expired)",
                _ => "",
            };
            format!("{code}{message}{hint}")
        }
        SdkError::TimeoutError(_) => "no answer in time (timeout)".to_string(),
        SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_) | SdkError::ResponseError(_) => {
            let chain = causes(err);
            if chain.iter().any(|c| c.contains("loading credentials") || c.contains("credentials found in chain") || c.contains("no providers in chain")) {
                format!("no AWS credentials found; tried the {CHAIN}")
            } else if let Some(refused) = chain.iter().find(|c| c.to_ascii_lowercase().contains("connection refused")) {
                format!("nothing answers at the endpoint ({refused})")
            } else {
                chain.last().cloned().unwrap_or_else(|| err.to_string())
            }
        }
        other => causes(other).join(": "),
    }
}

/// The error's Display and its sources', each once.
fn causes(err: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !out.iter().any(|o| o.contains(&text)) {
            out.push(text);
        }
        next = e.source();
    }
    out
}

/// S3's answer for a bucket that does not exist.
pub fn no_such_bucket<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(err, SdkError::ServiceError(s) if s.err().code() == Some("NoSuchBucket"))
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn messages_become_one_line() {
        assert_eq!(one_line("no credentials found in chain. Attempted:\n  Environment: not set\n\n  Profile: none"), "no credentials found in chain. Attempted:; Environment: not set; Profile: none");
        assert_eq!(one_line("plain"), "plain");
    }
}
