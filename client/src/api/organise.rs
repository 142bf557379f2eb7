//! Conversation settings (mute, archive), templates and scheduled items.

#[allow(unused_imports)]
use super::{Client, ClientError};

impl Client {}
