//! Full-text search.

#[allow(unused_imports)]
use super::{Client, ClientError};

impl Client {}
