//! Streaming upload and download of attachments, with progress callbacks.

#[allow(unused_imports)]
use super::{Client, ClientError};

impl Client {}
