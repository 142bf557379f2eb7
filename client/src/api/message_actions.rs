//! Edit, delete, react, and fetch one message.

use super::{Client, ClientError};
use mchat_shared::MessageId;
use mchat_shared::api::{EditMessageRequest, Message};
use reqwest::Method;

/// `s` as one URL path segment: every byte but the unreserved ASCII ones
/// percent-encoded (an emoji may be `/`, `?`, `#` or `%` as far as the
/// server's validation goes).
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Client {
    /// `GET /v1/messages/{id}`.
    pub async fn message(&self, id: MessageId) -> Result<Message, ClientError> {
        self.get(&format!("/v1/messages/{id}"), &[]).await
    }

    /// `PATCH /v1/messages/{id}`: replace the body of my message.
    pub async fn edit_message(&self, id: MessageId, body: &str) -> Result<Message, ClientError> {
        let req = EditMessageRequest {
            body: body.to_owned(),
        };
        Ok(self
            .json(Method::PATCH, &format!("/v1/messages/{id}"), &[], Some(&req))
            .await?
            .value)
    }

    /// `DELETE /v1/messages/{id}`: answers the tombstone.
    pub async fn delete_message(&self, id: MessageId) -> Result<Message, ClientError> {
        Ok(self
            .json::<Message, ()>(Method::DELETE, &format!("/v1/messages/{id}"), &[], None)
            .await?
            .value)
    }

    /// `PUT` (add) or `DELETE` (take back) `/v1/messages/{id}/reactions/{emoji}`.
    pub async fn react(&self, id: MessageId, emoji: &str, add: bool) -> Result<Message, ClientError> {
        let method = if add { Method::PUT } else { Method::DELETE };
        let path = format!("/v1/messages/{id}/reactions/{}", path_segment(emoji));
        Ok(self.json::<Message, ()>(method, &path, &[], None).await?.value)
    }
}

#[cfg(test)]
mod tests {
    use super::path_segment;

    #[test]
    fn emoji_become_one_path_segment() {
        assert_eq!(path_segment("👍"), "%F0%9F%91%8D");
        assert_eq!(path_segment("/?#%"), "%2F%3F%23%25");
        assert_eq!(path_segment("a-b_c.d~"), "a-b_c.d~");
    }
}
