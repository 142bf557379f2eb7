//! Edit, delete, react, and fetch one message.

#[allow(unused_imports)]
use super::{Client, ClientError};

impl Client {}
