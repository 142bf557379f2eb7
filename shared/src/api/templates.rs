//! Saved replies (templates), stored server-side so they follow a mentor
//! across machines. `{variable}` placeholders are filled by the client from
//! the peer's profile (`{name}`, `{username}`, `{first_name}`, ...) and
//! `--var k=v`; `{{` and `}}` are literal braces.

use crate::Timestamp;
use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// Letters, digits, `-` and `_` (see `validate::template_name`).
    pub name: String,
    pub body: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// `PUT /v1/templates/{name}`: create (201) or replace (200).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutTemplateRequest {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 4000))]
    pub body: String,
}

/// `GET /v1/templates`, by name.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateList {
    pub templates: Vec<Template>,
}
