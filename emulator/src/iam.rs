//! A local stand-in for the credential APIs of Amazon Redshift and Redshift Serverless, on a port
//! of its own: `GetClusterCredentials` and `GetClusterCredentialsWithIAM` (Query protocol, XML
//! answers) and `redshift-serverless:GetCredentials` (JSON 1.1). Requests must carry a SigV4
//! signature made with the configured key pair; the temporary user names and passwords it
//! issues expire after the requested duration, and the emulator's password exchange accepts
//! them until then.
//! https://docs.aws.amazon.com/redshift/latest/APIReference/API_GetClusterCredentials.html
//! https://docs.aws.amazon.com/redshift/latest/APIReference/API_GetClusterCredentialsWithIAM.html
//! https://docs.aws.amazon.com/redshift-serverless/latest/APIReference/API_GetCredentials.html
//! https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use crate::Shared;

/// What the stand-in accepts and whom it speaks for.
#[derive(Debug, Clone)]
pub struct IamSettings {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
    /// The IAM user the key pair belongs to (GetClusterCredentialsWithIAM and Serverless name
    /// the database user after it: `IAM:<name>`).
    pub iam_user: String,
    /// Provisioned cluster identifiers and Serverless workgroups that exist.
    pub clusters: Vec<String>,
    pub workgroups: Vec<String>,
    /// Database groups the identity may join (redshift:JoinGroup); others are AccessDenied.
    pub joinable_groups: Vec<String>,
    /// Tests only: durations are divided by this, so expiry can be watched in seconds.
    pub expiry_divisor: u32,
}

/// A temporary login the stand-in issued.
#[derive(Debug, Clone)]
pub struct TempLogin {
    /// The database user the session runs as.
    pub db_user: String,
    pub password: String,
    pub expires: Instant,
}

/// Logins by the user name the client logs in with (`IAM:…`, `IAMA:…`, `IAMR:…`).
#[derive(Debug, Default)]
pub struct TempLogins(Mutex<HashMap<String, TempLogin>>);

impl TempLogins {
    /// The login, if it was issued and has not expired.
    pub fn valid(&self, login: &str) -> Option<TempLogin> {
        let mut map = self.0.lock().ok()?;
        map.retain(|_, l| l.expires > Instant::now());
        map.get(login).cloned()
    }

    fn issue(&self, login: &str, l: TempLogin) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(login.to_string(), l);
        }
    }
}

pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(req, &shared).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(e) = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await {
                tracing::debug!("credential API connection ended: {e}");
            }
        });
    }
}

/// An error as the protocol of the call spells it.
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

fn api_error(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError { status, code, message: message.into() }
}

async fn handle(req: Request<hyper::body::Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let serverless = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).map(str::to_string);
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let Some(settings) = shared.config.iam.as_ref() else {
        return xml_error(&api_error(StatusCode::NOT_FOUND, "UnknownOperation", "no credential API configured"));
    };
    let service = if serverless.is_some() { "redshift-serverless" } else { "redshift" };
    let result = match verify_signature(&parts, &body, settings, service) {
        Err(e) => Err(e),
        Ok(()) => match serverless.as_deref() {
            Some("RedshiftServerless.GetCredentials") => serverless_credentials(&body, settings, shared).await,
            Some(other) => Err(api_error(StatusCode::BAD_REQUEST, "UnknownOperationException", format!("unknown operation {other}"))),
            None => cluster_credentials(&body, settings, shared).await,
        },
    };
    match (result, serverless.is_some()) {
        (Ok(r), _) => r,
        (Err(e), true) => json_error(&e),
        (Err(e), false) => xml_error(&e),
    }
}

/// SigV4: the Authorization header's signature must be the one the configured secret gives for
/// this request (canonical request of the signed headers and the payload hash).
fn verify_signature(parts: &hyper::http::request::Parts, body: &[u8], s: &IamSettings, service: &str) -> Result<(), ApiError> {
    let denied = |m: &str| api_error(StatusCode::FORBIDDEN, "SignatureDoesNotMatch", m);
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let auth = header("authorization").ok_or_else(|| api_error(StatusCode::FORBIDDEN, "MissingAuthenticationToken", "Request is missing Authentication Token"))?;
    let rest = auth.strip_prefix("AWS4-HMAC-SHA256 ").ok_or_else(|| denied("only AWS4-HMAC-SHA256 signatures are accepted"))?;
    let field = |name: &str| rest.split(',').map(str::trim).find_map(|f| f.strip_prefix(name)).map(str::to_string);
    let credential = field("Credential=").ok_or_else(|| denied("no Credential"))?;
    let signed = field("SignedHeaders=").ok_or_else(|| denied("no SignedHeaders"))?;
    let signature = field("Signature=").ok_or_else(|| denied("no Signature"))?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [key_id, date, region, scope_service, "aws4_request"] = scope[..] else { return Err(denied("malformed credential scope")) };
    if key_id != s.access_key_id {
        return Err(api_error(StatusCode::FORBIDDEN, "InvalidClientTokenId", "The security token included in the request is invalid."));
    }
    if region != s.region || scope_service != service {
        return Err(denied(&format!("credential scope {region}/{scope_service} is not {}/{service}", s.region)));
    }
    let amz_date = header("x-amz-date").ok_or_else(|| denied("no X-Amz-Date"))?;
    let mut canonical_headers = String::new();
    for name in signed.split(';') {
        let value = if name == "host" {
            header("host").unwrap_or_default().to_string()
        } else {
            header(name).unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ")
        };
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    let payload = header("x-amz-content-sha256").map(str::to_string).unwrap_or_else(|| hex::encode(Sha256::digest(body)));
    let canonical = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed}\n{payload}",
        parts.method,
        parts.uri.path(),
        canonical_query(parts.uri.query().unwrap_or(""))
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = format!("AWS4{}", s.secret_access_key).into_bytes();
    for part in [date, region, service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    if hex::encode(hmac(&key, to_sign.as_bytes())) != signature {
        return Err(denied("The request signature we calculated does not match the signature you provided."));
    }
    Ok(())
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    pairs.sort();
    pairs.join("&")
}

/// The requested duration (900–3600 seconds, default 900), as the APIs bound it.
fn duration(requested: Option<u64>, s: &IamSettings) -> Result<Duration, ApiError> {
    let secs = requested.unwrap_or(900);
    if !(900..=3600).contains(&secs) {
        return Err(api_error(StatusCode::BAD_REQUEST, "InvalidParameterValue", "DurationSeconds must be between 900 and 3600"));
    }
    Ok(Duration::from_secs(secs) / s.expiry_divisor.max(1))
}

fn password() -> Result<String, ApiError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut raw = [0u8; 40];
    getrandom::getrandom(&mut raw).map_err(|e| api_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure", e.to_string()))?;
    Ok(raw.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect())
}

fn expiration(d: Duration) -> SystemTime {
    SystemTime::now() + d
}

/// The backing role of a database user, created when asked (AutoCreate, and the users the
/// IAM-identity calls name), with membership of the requested groups.
async fn ensure_user(shared: &Shared, user: &str, create: bool, groups: &[String]) -> Result<(), ApiError> {
    let internal = |e: tokio_postgres::Error| api_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure", e.to_string());
    let q = crate::sql::quote_ident(user);
    let l = crate::sql::quote_literal(user);
    if create {
        shared
            .admin
            .batch_execute(&format!(
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {l}) THEN CREATE ROLE {q} LOGIN; END IF; END $$"
            ))
            .await
            .map_err(internal)?;
    }
    for g in groups {
        let exists = shared
            .admin
            .query_one("SELECT count(*) FROM pg_roles WHERE rolname = $1 AND NOT rolcanlogin", &[g])
            .await
            .map_err(internal)?
            .get::<_, i64>(0);
        if exists == 0 {
            return Err(api_error(StatusCode::BAD_REQUEST, "InvalidParameterValue", format!("group {g} does not exist")));
        }
        shared.admin.batch_execute(&format!("GRANT {} TO {q}", crate::sql::quote_ident(g))).await.map_err(internal)?;
    }
    Ok(())
}

/// The Query protocol's two calls: form-encoded parameters, XML answers.
async fn cluster_credentials(body: &[u8], s: &IamSettings, shared: &Shared) -> Result<Response<Full<Bytes>>, ApiError> {
    let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let action = get("Action").unwrap_or_default();
    let cluster = get("ClusterIdentifier").unwrap_or_default();
    let duration = duration(get("DurationSeconds").and_then(|d| d.parse().ok()), s)?;
    if !matches!(action.as_str(), "GetClusterCredentials" | "GetClusterCredentialsWithIAM") {
        return Err(api_error(StatusCode::BAD_REQUEST, "InvalidAction", format!("The action {action} is not valid for this web service.")));
    }
    if !s.clusters.contains(&cluster) {
        return Err(api_error(StatusCode::NOT_FOUND, "ClusterNotFound", format!("Cluster {cluster} not found.")));
    }
    let (login, db_user) = if action == "GetClusterCredentials" {
        let db_user = get("DbUser").filter(|u| !u.is_empty()).ok_or_else(|| {
            api_error(StatusCode::BAD_REQUEST, "MissingParameter", "The request must contain the parameter DbUser.")
        })?;
        let auto_create = get("AutoCreate").is_some_and(|v| v == "true");
        let groups: Vec<String> = params.iter().filter(|(k, _)| k.starts_with("DbGroups.")).map(|(_, v)| v.to_lowercase()).collect();
        if let Some(g) = groups.iter().find(|g| !s.joinable_groups.contains(g)) {
            return Err(api_error(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                format!("User: arn:aws:iam::000000000000:user/{} is not authorized to perform: redshift:JoinGroup on resource: arn:aws:redshift:{}:000000000000:dbgroup:{cluster}/{g}", s.iam_user, s.region),
            ));
        }
        let db_user = db_user.to_lowercase();
        ensure_user(shared, &db_user, auto_create, &groups).await?;
        // "IAMA:" when AutoCreate made the call, "IAM:" otherwise; the session runs as DbUser.
        (format!("{}:{db_user}", if auto_create { "IAMA" } else { "IAM" }), db_user)
    } else {
        // The login is returned as IAM:<name>; the database user is that name as Redshift folds
        // identifiers (lower case), created on first use.
        let login = format!("IAM:{}", s.iam_user);
        let db_user = login.to_lowercase();
        ensure_user(shared, &db_user, true, &[]).await?;
        (login, db_user)
    };
    let pass = password()?;
    shared.temp_logins.issue(&login, TempLogin { db_user, password: pass.clone(), expires: Instant::now() + duration });
    let expires = aws_smithy_types::DateTime::from(expiration(duration))
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default();
    let result = format!("{action}Result");
    let xml = format!(
        "<{action}Response xmlns=\"http://redshift.amazonaws.com/doc/2012-12-01/\"><{result}>\
         <DbUser>{}</DbUser><Expiration>{expires}</Expiration><DbPassword>{pass}</DbPassword>\
         </{result}><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
        xml_escape(&login),
        request_id()
    );
    Ok(reply(StatusCode::OK, "text/xml", xml))
}

/// Serverless GetCredentials: JSON in, JSON out; the database user is the caller's IAM name.
async fn serverless_credentials(body: &[u8], s: &IamSettings, shared: &Shared) -> Result<Response<Full<Bytes>>, ApiError> {
    let req: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| api_error(StatusCode::BAD_REQUEST, "ValidationException", format!("the body is not JSON: {e}")))?;
    let workgroup = req.get("workgroupName").and_then(|v| v.as_str()).unwrap_or_default();
    if !s.workgroups.iter().any(|w| w == workgroup) {
        return Err(api_error(StatusCode::BAD_REQUEST, "ResourceNotFoundException", format!("Workgroup {workgroup} not found.")));
    }
    let duration = duration(req.get("durationSeconds").and_then(|v| v.as_u64()), s)?;
    let login = format!("IAM:{}", s.iam_user);
    let db_user = login.to_lowercase();
    ensure_user(shared, &db_user, true, &[]).await?;
    let pass = password()?;
    shared.temp_logins.issue(&login, TempLogin { db_user, password: pass.clone(), expires: Instant::now() + duration });
    let epoch = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default();
    let out = serde_json::json!({
        "dbUser": login,
        "dbPassword": pass,
        "expiration": epoch(expiration(duration)),
        "nextRefreshTime": epoch(expiration(duration)),
    });
    Ok(reply(StatusCode::OK, "application/x-amz-json-1.1", out.to_string()))
}

fn request_id() -> String {
    let mut raw = [0u8; 16];
    let _ = getrandom::getrandom(&mut raw);
    hex::encode(raw)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert("content-type", v);
    }
    r
}

/// https://docs.aws.amazon.com/redshift/latest/APIReference/CommonErrors.html
fn xml_error(e: &ApiError) -> Response<Full<Bytes>> {
    let kind = if e.status.is_server_error() { "Receiver" } else { "Sender" };
    let xml = format!(
        "<ErrorResponse xmlns=\"http://redshift.amazonaws.com/doc/2012-12-01/\"><Error><Type>{kind}</Type>\
         <Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        e.code,
        xml_escape(&e.message),
        request_id()
    );
    reply(e.status, "text/xml", xml)
}

fn json_error(e: &ApiError) -> Response<Full<Bytes>> {
    let code = match e.code {
        "AccessDenied" => "AccessDeniedException",
        "InvalidParameterValue" => "ValidationException",
        "SignatureDoesNotMatch" => "InvalidSignatureException",
        "InvalidClientTokenId" => "UnrecognizedClientException",
        other => other,
    };
    let body = serde_json::json!({"__type": code, "message": e.message}).to_string();
    reply(if e.status == StatusCode::NOT_FOUND { StatusCode::BAD_REQUEST } else { e.status }, "application/x-amz-json-1.1", body)
}
