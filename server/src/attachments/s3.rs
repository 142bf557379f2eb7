//! Blobs in an S3-compatible bucket, through the Arrow project's
//! `object_store`: `<prefix>/ab/cdef…`. Uploads are streamed to the node's
//! own data directory first (hashed on the way), then sent to the bucket in
//! parts; every node reads the same bucket, so downloads work from any.

use super::{ByteStream, key, not_a_hash};
use crate::config::S3Config;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::buffered::BufWriter;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt};
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::io::AsyncWriteExt;

/// Bytes sent per part of a multipart upload (S3's minimum is 5 MiB).
const PART: usize = 8 * 1024 * 1024;

pub struct S3Blobs {
    store: Arc<AmazonS3>,
    bucket: String,
    prefix: String,
}

/// An `object_store` error as an I/O error (not found stays not found).
fn io_error(e: object_store::Error) -> io::Error {
    match e {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, e),
        other => io::Error::other(other),
    }
}

impl S3Blobs {
    /// A client for the bucket `config` names (and the `AWS_*` variables
    /// for what it leaves unset). Nothing is sent yet.
    pub fn open(config: &S3Config) -> Result<S3Blobs, String> {
        // reqwest is built without a TLS provider compiled in: ring, as
        // everywhere else in mchatd. Already installed is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = AmazonS3Builder::from_env();
        let bucket = config
            .bucket
            .clone()
            .or_else(|| std::env::var("AWS_BUCKET").ok())
            .ok_or("[files] store = \"s3\" needs [files.s3] bucket = \"…\"")?;
        b = b.with_bucket_name(&bucket);
        if let Some(endpoint) = &config.endpoint {
            b = b.with_endpoint(endpoint);
        }
        if let Some(region) = &config.region {
            b = b.with_region(region);
        }
        if let Some(id) = &config.access_key_id {
            b = b.with_access_key_id(id);
        }
        if let Some(secret) = &config.secret_access_key {
            b = b.with_secret_access_key(secret);
        }
        b = b.with_allow_http(config.allow_http);
        let store = b
            .build()
            .map_err(|e| format!("the S3 bucket {bucket} cannot be used: {e}"))?;
        let prefix = config
            .prefix
            .clone()
            .unwrap_or_else(|| "files".into())
            .trim_matches('/')
            .to_string();
        Ok(S3Blobs {
            store: Arc::new(store),
            bucket,
            prefix,
        })
    }

    pub fn describe(&self) -> String {
        format!("S3 bucket {} under {}/", self.bucket, self.prefix)
    }

    fn key(&self, sha256: &str) -> io::Result<Key> {
        let (head, rest) = key(sha256).ok_or_else(|| not_a_hash(sha256))?;
        Ok(Key::from(format!("{}/{head}/{rest}", self.prefix)))
    }

    pub async fn exists(&self, sha256: &str) -> io::Result<bool> {
        match self.store.head(&self.key(sha256)?).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(io_error(e)),
        }
    }

    pub async fn put(&self, sha256: &str, file: &Path) -> io::Result<()> {
        let key = self.key(sha256)?;
        let store: Arc<dyn ObjectStore> = self.store.clone();
        let mut out = BufWriter::with_capacity(store, key, PART);
        let mut input = tokio::fs::File::open(file).await?;
        if let Err(e) = tokio::io::copy(&mut input, &mut out).await {
            // Nothing half-uploaded is left in the bucket.
            let _ = out.abort().await;
            return Err(e);
        }
        out.shutdown().await
    }

    pub async fn get(&self, sha256: &str) -> io::Result<ByteStream> {
        let got = self.store.get(&self.key(sha256)?).await.map_err(io_error)?;
        Ok(got.into_stream().map_err(io_error).boxed())
    }

    pub async fn remove(&self, sha256: &str) -> io::Result<bool> {
        let key = self.key(sha256)?;
        if !self.exists(sha256).await? {
            return Ok(false);
        }
        self.store.delete(&key).await.map_err(io_error)?;
        Ok(true)
    }

    pub async fn list(&self, before: Option<SystemTime>) -> io::Result<Vec<String>> {
        let prefix = Key::from(self.prefix.as_str());
        let mut listed = self.store.list(Some(&prefix));
        let mut out = Vec::new();
        while let Some(meta) = listed.next().await {
            let meta = meta.map_err(io_error)?;
            if before.is_some_and(|t| SystemTime::from(meta.last_modified) >= t) {
                continue;
            }
            let parts: Vec<&str> = meta.location.as_ref().rsplitn(3, '/').collect();
            if let [rest, head, _] = parts.as_slice() {
                let sha = format!("{head}{rest}");
                if super::is_hash(&sha) {
                    out.push(sha);
                }
            }
        }
        Ok(out)
    }
}
