//! The S3 backend, through aws-sdk-s3: AWS itself, MinIO, moto, or any S3-compatible
//! server.

use std::time::Duration;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use crate::store::{ObjectStore, StoreFuture};
use crate::TierError;

/// Where and how to reach the bucket.
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    /// Endpoint URL for S3-compatible servers (`http://127.0.0.1:9000`); `None` for AWS.
    pub endpoint: Option<String>,
    /// Region; the standard AWS chain decides when `None`, else `us-east-1`.
    pub region: Option<String>,
    /// The bucket. It must exist: Weir does not create buckets.
    pub bucket: String,
    /// Prepended to every key, e.g. `weir/prod/`.
    pub prefix: String,
    /// Path-style addressing (`endpoint/bucket/key`), which MinIO and moto need.
    pub path_style: bool,
    /// Static credentials; `None` uses the standard AWS chain (environment, profile,
    /// web identity, container and instance metadata).
    pub access_key: Option<(String, String)>,
    /// Longest a single request attempt may take before it counts as a failure, so an
    /// unreachable server delays uploads instead of hanging them.
    pub attempt_timeout: Duration,
}

/// An S3 bucket (and key prefix) as the cold tier.
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    endpoint: String,
}

impl S3Store {
    /// Builds a client from the settings and the standard AWS configuration chain. No
    /// request is made; call [`ObjectStore::check`] to verify the settings.
    pub async fn connect(settings: S3Settings) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some((id, secret)) = &settings.access_key {
            loader = loader.credentials_provider(Credentials::new(
                id.clone(),
                secret.clone(),
                None,
                None,
                "weir-settings",
            ));
        }
        let shared = loader.load().await;
        let timeout = if settings.attempt_timeout.is_zero() {
            Duration::from_secs(10)
        } else {
            settings.attempt_timeout
        };
        let mut config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(settings.path_style)
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_attempt_timeout(timeout)
                    .build(),
            )
            // Weir retries uploads itself with backoff; keep the SDK's retries short so
            // one call never hides a long outage.
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2));
        if shared.region().is_none() {
            config = config.region(Region::new("us-east-1"));
        }
        if let Some(endpoint) = &settings.endpoint {
            config = config.endpoint_url(endpoint.clone());
        }
        Self {
            client: aws_sdk_s3::Client::from_conf(config.build()),
            bucket: settings.bucket,
            prefix: settings.prefix,
            endpoint: settings.endpoint.unwrap_or_else(|| "AWS S3".into()),
        }
    }

    fn full_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

/// Sorts an SDK failure into what the caller can do about it.
fn classify<E>(key: &str, error: SdkError<E, HttpResponse>) -> TierError
where
    E: std::error::Error + Send + Sync + 'static,
{
    let status = match &error {
        SdkError::ServiceError(e) => Some(e.raw().status().as_u16()),
        _ => None,
    };
    let detail = aws_sdk_s3::error::DisplayErrorContext(&error).to_string();
    match (status, &error) {
        (Some(404), _) => TierError::NotFound(key.to_string()),
        (Some(401 | 403), _) => TierError::Misconfigured(format!(
            "the S3 server refused Weir's credentials ({detail}); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or --s3-access-key-id / --s3-secret-access-key) to keys allowed to use the bucket"
        )),
        (_, SdkError::DispatchFailure(_)) if detail.contains("loading credentials") => {
            TierError::Misconfigured(format!(
                "no usable AWS credentials for the S3 cold tier ({detail}); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or --s3-access-key-id / --s3-secret-access-key)"
            ))
        }
        (_, SdkError::ConstructionFailure(_)) => {
            TierError::Misconfigured(format!("cannot build an S3 request: {detail}"))
        }
        _ => TierError::Unavailable(detail),
    }
}

impl ObjectStore for S3Store {
    fn put(&self, key: &str, body: Bytes) -> StoreFuture<'_, ()> {
        let full = self.full_key(key);
        let key = key.to_string();
        Box::pin(async move {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(full)
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| classify(&key, e))?;
            Ok(())
        })
    }

    fn get_range(&self, key: &str, start: u64, end: u64) -> StoreFuture<'_, Bytes> {
        let full = self.full_key(key);
        let key = key.to_string();
        Box::pin(async move {
            if end <= start {
                return Ok(Bytes::new());
            }
            let mut request = self.client.get_object().bucket(&self.bucket).key(full);
            if end != u64::MAX {
                request = request.range(format!("bytes={start}-{}", end - 1));
            } else if start > 0 {
                request = request.range(format!("bytes={start}-"));
            }
            let output = request.send().await.map_err(|e| classify(&key, e))?;
            let body = output
                .body
                .collect()
                .await
                .map_err(|e| TierError::Unavailable(format!("reading {key}: {e}")))?;
            Ok(body.into_bytes())
        })
    }

    fn get(&self, key: &str) -> StoreFuture<'_, Bytes> {
        self.get_range(key, 0, u64::MAX)
    }

    fn delete(&self, key: &str) -> StoreFuture<'_, ()> {
        let full = self.full_key(key);
        let key = key.to_string();
        Box::pin(async move {
            match self
                .client
                .delete_object()
                .bucket(&self.bucket)
                .key(full)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(e) => match classify(&key, e) {
                    TierError::NotFound(_) => Ok(()),
                    other => Err(other),
                },
            }
        })
    }

    fn list(&self, prefix: &str) -> StoreFuture<'_, Vec<String>> {
        let full = self.full_key(prefix);
        let prefix = prefix.to_string();
        Box::pin(async move {
            let mut keys = Vec::new();
            let mut token = None;
            loop {
                let page = self
                    .client
                    .list_objects_v2()
                    .bucket(&self.bucket)
                    .prefix(&full)
                    .set_continuation_token(token.take())
                    .send()
                    .await
                    .map_err(|e| classify(&prefix, e))?;
                for object in page.contents() {
                    if let Some(k) = object.key().and_then(|k| k.strip_prefix(&self.prefix)) {
                        keys.push(k.to_string());
                    }
                }
                match page.next_continuation_token() {
                    Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                    _ => return Ok(keys),
                }
            }
        })
    }

    fn check(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            match self.client.head_bucket().bucket(&self.bucket).send().await {
                Ok(_) => Ok(()),
                Err(e) => Err(match classify(&self.bucket, e) {
                    TierError::NotFound(_) => TierError::Misconfigured(format!(
                        "the bucket {:?} does not exist at {}; create it, or set --s3-bucket to an existing bucket",
                        self.bucket, self.endpoint
                    )),
                    TierError::Unavailable(detail) => TierError::Unavailable(format!(
                        "cannot reach {} ({detail}); check --s3-endpoint",
                        self.endpoint
                    )),
                    other => other,
                }),
            }
        })
    }

    fn describe(&self) -> String {
        format!("s3://{}/{} at {}", self.bucket, self.prefix, self.endpoint)
    }
}
