//! IAM database credentials, fetched anew for every connection with the standard AWS credential
//! chain of the loader's host (they expire in 15 to 60 minutes; `watch` runs for days):
//! `GetClusterCredentials` (a named database user, optionally created and put in groups),
//! `GetClusterCredentialsWithIAM` (the database user is the caller's IAM identity) and, for
//! Serverless, `GetCredentials` of a workgroup. The user name is used exactly as returned
//! (`IAM:`, `IAMA:` or `IAMR:` prefix included).
//! https://docs.aws.amazon.com/redshift/latest/mgmt/generating-iam-credentials-overview.html
//! https://docs.aws.amazon.com/redshift/latest/APIReference/API_GetClusterCredentials.html
//! https://docs.aws.amazon.com/redshift/latest/APIReference/API_GetClusterCredentialsWithIAM.html
//! https://docs.aws.amazon.com/redshift-serverless/latest/APIReference/API_GetCredentials.html

use aws_config::BehaviorVersion;
use aws_config::Region;
use pg2redshift_core::aws_error;

use crate::connection::{ConnectError, Credentials};

/// Which API gives the credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// GetClusterCredentials: the database user `db_user`.
    Cluster { cluster_id: String, db_user: String, auto_create: bool, db_groups: Vec<String> },
    /// GetClusterCredentialsWithIAM: the caller's IAM identity is the database user.
    ClusterWithIam { cluster_id: String },
    /// Redshift Serverless GetCredentials.
    Serverless { workgroup: String },
}

/// Fetches credentials from Redshift's APIs.
pub struct IamCredentials {
    source: Source,
    db_name: Option<String>,
    /// 900 to 3600 seconds.
    duration: i32,
    runtime: tokio::runtime::Runtime,
    redshift: aws_sdk_redshift::Client,
    serverless: aws_sdk_redshiftserverless::Client,
}

impl IamCredentials {
    /// `region` and `endpoint` override the AWS configuration's (the endpoint for tests and
    /// VPC endpoints).
    pub fn new(
        source: Source,
        db_name: Option<String>,
        duration_seconds: u32,
        region: Option<&str>,
        endpoint: Option<&str>,
    ) -> Result<IamCredentials, ConnectError> {
        if !(900..=3600).contains(&duration_seconds) {
            return Err(ConnectError::Usage(format!(
                "--iam-duration {duration_seconds}: IAM database credentials last 900 to 3600 seconds"
            )));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ConnectError::Usage(format!("cannot start the AWS runtime: {e}")))?;
        let (redshift, serverless) = runtime.block_on(async {
            let mut loader = aws_config::defaults(BehaviorVersion::latest());
            if let Some(r) = region {
                loader = loader.region(Region::new(r.to_string()));
            }
            let shared = loader.load().await;
            let mut r = aws_sdk_redshift::config::Builder::from(&shared);
            let mut s = aws_sdk_redshiftserverless::config::Builder::from(&shared);
            if let Some(e) = endpoint {
                r = r.endpoint_url(e);
                s = s.endpoint_url(e);
            }
            (aws_sdk_redshift::Client::from_conf(r.build()), aws_sdk_redshiftserverless::Client::from_conf(s.build()))
        });
        Ok(IamCredentials { source, db_name, duration: duration_seconds as i32, runtime, redshift, serverless })
    }

    fn what(&self) -> String {
        match &self.source {
            Source::Cluster { cluster_id, db_user, .. } => format!("GetClusterCredentials for {db_user} on cluster {cluster_id}"),
            Source::ClusterWithIam { cluster_id } => format!("GetClusterCredentialsWithIAM on cluster {cluster_id}"),
            Source::Serverless { workgroup } => format!("GetCredentials on workgroup {workgroup}"),
        }
    }
}

impl Credentials for IamCredentials {
    fn fetch(&self) -> Result<(String, String), ConnectError> {
        let refused = |reason: String| ConnectError::Credentials { what: self.what(), reason };
        let pair = self.runtime.block_on(async {
            match &self.source {
                Source::Cluster { cluster_id, db_user, auto_create, db_groups } => {
                    let out = self
                        .redshift
                        .get_cluster_credentials()
                        .cluster_identifier(cluster_id)
                        .db_user(db_user)
                        .set_db_name(self.db_name.clone())
                        .duration_seconds(self.duration)
                        .auto_create(*auto_create)
                        .set_db_groups((!db_groups.is_empty()).then(|| db_groups.clone()))
                        .send()
                        .await
                        .map_err(|e| refused(aws_error::describe(&e)))?;
                    Ok((out.db_user, out.db_password))
                }
                Source::ClusterWithIam { cluster_id } => {
                    let out = self
                        .redshift
                        .get_cluster_credentials_with_iam()
                        .cluster_identifier(cluster_id)
                        .set_db_name(self.db_name.clone())
                        .duration_seconds(self.duration)
                        .send()
                        .await
                        .map_err(|e| refused(aws_error::describe(&e)))?;
                    Ok((out.db_user, out.db_password))
                }
                Source::Serverless { workgroup } => {
                    let out = self
                        .serverless
                        .get_credentials()
                        .workgroup_name(workgroup)
                        .set_db_name(self.db_name.clone())
                        .duration_seconds(self.duration)
                        .send()
                        .await
                        .map_err(|e| refused(aws_error::describe(&e)))?;
                    Ok((out.db_user, out.db_password))
                }
            }
        })?;
        match pair {
            (Some(user), Some(password)) if !user.is_empty() => Ok((user, password)),
            _ => Err(refused("the answer holds no user name or password".into())),
        }
    }
}
