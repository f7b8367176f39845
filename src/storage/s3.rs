//! Recordings in any S3-compatible object store, through `object_store`'s S3 backend
//! (`[storage] url = "s3://BUCKET/PREFIX"`).
//!
//! The client retries every request (each part of a multipart upload on its own) with
//! exponential backoff; credentials come from the settings or the usual `AWS_*`
//! environment variables. Keys live under `PREFIX/`. With `presign_seconds` set,
//! `GET /vod/…` answers a redirect to a presigned URL instead of relaying the bytes.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::signer::{Method, Signer};

use super::StorageError;

/// Where and how to reach the bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Options {
    /// `s3://BUCKET` or `s3://BUCKET/PREFIX`.
    pub url: String,
    /// Endpoint of an S3-compatible server (`http://127.0.0.1:9000`); default AWS.
    pub endpoint: Option<String>,
    /// Region; default `AWS_REGION` or `us-east-1`.
    pub region: Option<String>,
    /// Path-style requests (`ENDPOINT/BUCKET/KEY`), which most self-hosted servers need.
    pub path_style: bool,
    /// Allows a plain-HTTP endpoint (tests, a store on the same host).
    pub allow_http: bool,
    /// Access key id (else `AWS_ACCESS_KEY_ID`).
    pub access_key_id: Option<String>,
    /// Secret key (else `AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key: Option<String>,
    /// Sign each request's payload (its SHA-256 in the signature). Off by default:
    /// `UNSIGNED-PAYLOAD`, as AWS's own SDKs do over HTTPS, whose TLS already protects
    /// the bytes; hashing every recorded byte again cost a seventh of the server's CPU.
    pub sign_payload: bool,
}

/// The bucket and prefix of an `s3://` URL.
pub fn split_url(url: &str) -> Result<(String, String), StorageError> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| StorageError::Key(format!("{url}: not an s3:// URL")))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(StorageError::Key(format!("{url}: no bucket")));
    }
    Ok((bucket.to_owned(), prefix.trim_matches('/').to_owned()))
}

/// An S3 store, as the recordings store sees it.
pub struct S3Store {
    /// The store under the prefix.
    pub store: Arc<dyn object_store::ObjectStore>,
    /// Signs URLs of keys (with the prefix).
    pub signer: Arc<AmazonS3>,
    /// The key prefix ("" for none).
    pub prefix: String,
}

/// Connects (lazily: the first request reaches the server) to the bucket of `options`.
pub fn open(options: &S3Options) -> Result<S3Store, StorageError> {
    let (bucket, prefix) = split_url(&options.url)?;
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(&bucket)
        .with_virtual_hosted_style_request(!options.path_style)
        .with_allow_http(options.allow_http)
        .with_unsigned_payload(!options.sign_payload);
    if let Some(endpoint) = &options.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(region) = &options.region {
        builder = builder.with_region(region);
    }
    if let Some(id) = &options.access_key_id {
        builder = builder.with_access_key_id(id);
    }
    if let Some(secret) = &options.secret_access_key {
        builder = builder.with_secret_access_key(secret);
    }
    let s3 = Arc::new(builder.build().map_err(|source| StorageError::Store {
        context: format!("opening {}", options.url),
        source,
    })?);
    let store: Arc<dyn object_store::ObjectStore> = if prefix.is_empty() {
        Arc::clone(&s3) as _
    } else {
        Arc::new(PrefixStore::new(Arc::clone(&s3), prefix.as_str()))
    };
    Ok(S3Store {
        store,
        signer: s3,
        prefix,
    })
}

/// Signs GET URLs of keys under a prefix.
#[derive(Debug, Clone)]
pub struct Presigner {
    signer: Arc<AmazonS3>,
    prefix: String,
    valid_for: Duration,
}

impl Presigner {
    /// URLs valid for `valid_for`.
    pub fn new(signer: Arc<AmazonS3>, prefix: String, valid_for: Duration) -> Self {
        Self {
            signer,
            prefix,
            valid_for,
        }
    }

    /// A presigned GET URL of `key`.
    pub async fn get_url(&self, key: &Path) -> Result<String, StorageError> {
        let full = if self.prefix.is_empty() {
            key.clone()
        } else {
            Path::from(format!("{}/{key}", self.prefix))
        };
        let url = self
            .signer
            .signed_url(Method::GET, &full, self.valid_for)
            .await
            .map_err(|source| StorageError::Store {
                context: format!("signing {key}"),
                source,
            })?;
        Ok(url.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_bucket_and_prefix() {
        assert_eq!(
            split_url("s3://rec").unwrap(),
            ("rec".to_owned(), String::new())
        );
        assert_eq!(
            split_url("s3://rec/a/b/").unwrap(),
            ("rec".to_owned(), "a/b".to_owned())
        );
        assert!(split_url("http://rec").is_err());
        assert!(split_url("s3:///x").is_err());
    }
}
