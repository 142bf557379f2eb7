//! Conversation settings (mute, archive), templates and scheduled items.

use super::{Client, ClientError, Created, path_segment};
use mchat_shared::api::{
    Conversation, ConversationList, ConversationSettings, CreateScheduledRequest, PutTemplateRequest,
    ScheduledItem, ScheduledList, Template, TemplateList,
};
use mchat_shared::{ConversationId, ScheduledId};
use reqwest::Method;

impl Client {
    /// `GET /v1/conversations?archived=true`: only my archived conversations.
    pub async fn conversations_archived(&self) -> Result<Vec<Conversation>, ClientError> {
        let list: ConversationList = self
            .get("/v1/conversations", &[("archived", "true".to_string())])
            .await?;
        Ok(list.conversations)
    }

    /// `PUT /v1/conversations/{id}/settings`: mute/unmute, archive/unarchive.
    pub async fn set_conversation_settings(
        &self,
        id: ConversationId,
        s: &ConversationSettings,
    ) -> Result<Conversation, ClientError> {
        Ok(self
            .json(
                Method::PUT,
                &format!("/v1/conversations/{id}/settings"),
                &[],
                Some(s),
            )
            .await?
            .value)
    }

    /// `GET /v1/templates`: my templates, by name.
    pub async fn templates(&self) -> Result<Vec<Template>, ClientError> {
        let list: TemplateList = self.get("/v1/templates", &[]).await?;
        Ok(list.templates)
    }

    /// `PUT /v1/templates/{name}`: `created` is false when it replaced one.
    pub async fn put_template(&self, name: &str, body: &str) -> Result<Created<Template>, ClientError> {
        let req = PutTemplateRequest {
            body: body.to_owned(),
        };
        self.json(
            Method::PUT,
            &format!("/v1/templates/{}", path_segment(name)),
            &[],
            Some(&req),
        )
        .await
    }

    /// `DELETE /v1/templates/{name}`.
    pub async fn delete_template(&self, name: &str) -> Result<(), ClientError> {
        self.call::<()>(
            Method::DELETE,
            &format!("/v1/templates/{}", path_segment(name)),
            &[],
            None,
        )
        .await
        .map(|_| ())
    }

    /// `POST /v1/scheduled`: `created` is false for a replay of the same `client_id`.
    pub async fn schedule(
        &self,
        req: &CreateScheduledRequest,
    ) -> Result<Created<ScheduledItem>, ClientError> {
        self.json(Method::POST, "/v1/scheduled", &[], Some(req)).await
    }

    /// `GET /v1/scheduled?all=`: pending items, or (`all`) recent finished ones too.
    pub async fn scheduled(&self, all: bool) -> Result<Vec<ScheduledItem>, ClientError> {
        let list: ScheduledList = self.get("/v1/scheduled", &[("all", all.to_string())]).await?;
        Ok(list.items)
    }

    /// `DELETE /v1/scheduled/{id}`: answers the cancelled item.
    pub async fn cancel_scheduled(&self, id: ScheduledId) -> Result<ScheduledItem, ClientError> {
        Ok(self
            .json::<ScheduledItem, ()>(Method::DELETE, &format!("/v1/scheduled/{id}"), &[], None)
            .await?
            .value)
    }
}
