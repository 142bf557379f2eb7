//! The OpenAPI document served at `GET /v1/openapi.json`: it parses as
//! OpenAPI 3.1; it is the document the router collected while registering
//! the routes (`utoipa_axum`'s `routes!` takes each route from its handler's
//! `#[utoipa::path]`, so none can be registered undocumented, and no source
//! file adds one around it with plain `route`); every documented route is
//! answered and every other method on it is a JSON 405; shared error answers
//! are `$ref`s to `components.responses`, with `Retry-After` on 429 and 503;
//! every `$ref` resolves; every example validates against the schema beside
//! it; and real answers of a real server — successes and errors — have a
//! documented status and validate against the JSON Schema the document gives
//! for them (and the schema is the one named after the Rust wire type they
//! decode into).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Api, TestServer, assert_error_shape, decode};
use mchat_shared::ErrorBody;
use mchat_shared::api::{
    Conversation, ConversationList, CreatedToken, FileInfo, Message, MessagePage, NotificationList,
    ScheduledItem, ScheduledList, SearchResults, Template, TemplateList, TokenList, User, UserList,
};
use mchat_shared::realtime::SyncResponse;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Calls that add a route to an axum router without documentation (an
/// `OpenApiRouter` only learns of what goes through `routes!`).
const PLAIN_ROUTING: [&str; 6] = [
    ".route(",
    ".route_service(",
    ".nest_service(",
    ".fallback_service(",
    "Router::new(",
    "Router::default(",
];

/// The exceptions, each as (file under `server/src`, the line's text): the
/// private `[metrics] bind` listener, which answers the `GET /metrics`
/// documented on the public router and nothing else.
const ALLOWED_PLAIN: [(&str, &str); 2] = [
    ("metrics.rs", "Router::new()"),
    (
        "metrics.rs",
        ".route(\"/metrics\", get(move || serve(metrics.clone())))",
    ),
];

/// Whether `code` contains `call` as a whole name (`Router::new(` is not
/// `OpenApiRouter::new(`).
fn calls(code: &str, call: &str) -> bool {
    code.match_indices(call).any(|(at, _)| {
        call.starts_with('.')
            || !code[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read the source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_route_is_added_around_the_openapi_router() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 20, "only {} source files found", files.len());
    let mut allowed_seen = 0;
    for file in files {
        let name = file
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(&file).expect("read a source file");
        for (n, line) in text.lines().enumerate() {
            // Comments may mention anything.
            let code = line.split("//").next().unwrap_or_default().trim();
            if !PLAIN_ROUTING.iter().any(|call| calls(code, call)) {
                continue;
            }
            if ALLOWED_PLAIN.contains(&(name.as_str(), code)) {
                allowed_seen += 1;
                continue;
            }
            panic!(
                "{name}:{}: `{code}` adds a route outside utoipa_axum's OpenApiRouter, so it would be \
                 undocumented: give the handler a #[utoipa::path] and register it with routes!(..) in \
                 routes/mod.rs",
                n + 1
            );
        }
    }
    assert_eq!(
        allowed_seen,
        ALLOWED_PLAIN.len(),
        "an allowed exception is gone: drop it from ALLOWED_PLAIN"
    );
    // And the router is built with routes!, one handler per operation.
    let routes_src = include_str!("../src/routes/mod.rs");
    let handlers: usize = routes_src
        .split("routes!(")
        .skip(1)
        .map(|call| {
            call.split(')')
                .next()
                .unwrap_or_default()
                .split(',')
                .filter(|h| !h.trim().is_empty())
                .count()
        })
        .sum();
    let operations = documented_routes(&serde_json::to_value(mchatd::openapi::document()).unwrap()).len();
    assert_eq!(
        handlers, operations,
        "handlers in routes!(..) vs documented operations"
    );
}

/// Every `(method, path)` the document describes.
fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths is an object") {
        for method in METHODS {
            if item.get(method).is_some() {
                out.insert((method.to_string(), path.clone()));
            }
        }
    }
    out
}

async fn fetch_doc(server: &TestServer) -> Value {
    let (status, doc) = server.anon().get("/v1/openapi.json").await;
    assert_eq!(status, 200, "{doc}");
    doc
}

#[tokio::test]
async fn the_served_document_is_the_one_the_router_collected() {
    let server = TestServer::start();
    let doc = fetch_doc(&server).await;
    let collected = serde_json::to_value(mchatd::openapi::document()).unwrap();
    assert!(
        doc == collected,
        "GET /v1/openapi.json is not mchatd::openapi::document()"
    );
    // Each resource's handlers were collected, under /v1 (the nested router's prefix).
    let routes = documented_routes(&doc);
    assert!(routes.len() >= 48, "only {} operations: {routes:?}", routes.len());
    for probe in [
        ("post", "/v1/auth/register"),
        ("delete", "/v1/tokens/{id}"),
        ("patch", "/v1/messages/{id}"),
        ("delete", "/v1/messages/{id}/reactions/{emoji}"),
        ("get", "/v1/ws"),
        ("get", "/v1/openapi.json"),
        ("get", "/healthz"),
        ("get", "/metrics"),
    ] {
        assert!(
            routes.contains(&(probe.0.to_string(), probe.1.to_string())),
            "{probe:?} not documented"
        );
    }
}

/// A concrete URL for a documented path.
fn concrete(path: &str) -> String {
    path.replace("{id}", "1")
        .replace("{username}", "mona")
        .replace("{emoji}", "%F0%9F%91%8D")
        .replace("{name}", "welcome")
}

#[tokio::test]
async fn every_documented_route_is_answered_and_other_methods_are_405() {
    let server = TestServer::start();
    let doc = fetch_doc(&server).await;
    let anon = server.anon();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let url = concrete(path);
        assert!(!url.contains('{'), "no value for a parameter of {path}");
        for method in METHODS {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let resp = Api::send(anon.builder(m, &url)).await;
            let (status, body) = (resp.status.as_u16(), resp.body);
            if item.get(method).is_some() {
                assert_ne!(
                    status, 405,
                    "{method} {path} is documented but not routed: {body}"
                );
                assert!(
                    !(status == 404 && body["error"]["message"] == "no such endpoint"),
                    "{method} {path} is documented but not routed: {body}"
                );
                assert!(
                    item[method]["responses"].get(status.to_string()).is_some(),
                    "{method} {path} answered an undocumented {status}: {body}"
                );
            } else {
                assert_eq!(
                    status, 405,
                    "{method} {path} is routed but not documented: {body}"
                );
                assert_error_shape(&body);
                assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
            }
        }
    }
    let (status, body) = anon.get("/v1/no-such-thing").await;
    assert_eq!(status, 404);
    assert_error_shape(&body);
    assert_eq!(body["error"]["code"], "not_found", "{body}");
}

#[tokio::test]
async fn every_operation_is_described() {
    let server = TestServer::start();
    let doc = fetch_doc(&server).await;
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    // Operation ids are unique, every operation has a 2xx (or 101) answer,
    // and every authenticated operation names the bearer scheme.
    let public: BTreeSet<&str> = [
        "/v1/auth/register",
        "/v1/auth/login",
        "/v1/openapi.json",
        "/v1/info",
        "/healthz",
        "/metrics",
    ]
    .into();
    let mut ids = BTreeSet::new();
    for (method, path) in &documented_routes(&doc) {
        let op = &doc["paths"][path][method];
        let id = op["operationId"].as_str().expect("an operationId");
        assert!(ids.insert(id.to_string()), "duplicate operationId {id}");
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{method} {path} has no summary"
        );
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses
                .keys()
                .any(|s| s.starts_with('2') || s.as_str() == "101"),
            "{method} {path} documents no success"
        );
        if !public.contains(path.as_str()) {
            assert!(
                op["security"].to_string().contains("bearer"),
                "{method} {path} does not say it needs a token"
            );
            assert!(
                responses.contains_key("401"),
                "{method} {path} does not document 401"
            );
        }
    }
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
}

/// A response object, following a `$ref` into `components.responses`.
fn resolve<'a>(doc: &'a Value, response: &'a Value) -> &'a Value {
    match response["$ref"].as_str() {
        Some(r) => doc
            .pointer(r.strip_prefix('#').expect("a local $ref"))
            .unwrap_or_else(|| panic!("dangling $ref {r}")),
        None => response,
    }
}

/// `(method, path, status, response)` for every documented answer.
fn all_responses(doc: &Value) -> Vec<(String, String, String, Value)> {
    let mut out = Vec::new();
    for (method, path) in documented_routes(doc) {
        for (status, response) in doc["paths"][&path][&method]["responses"]
            .as_object()
            .expect("responses")
        {
            out.push((method.clone(), path.clone(), status.clone(), response.clone()));
        }
    }
    out
}

#[tokio::test]
async fn shared_error_answers_are_declared_once() {
    let server = TestServer::start();
    let doc = fetch_doc(&server).await;
    let shared = doc["components"]["responses"]
        .as_object()
        .expect("components.responses");
    for name in [
        "Invalid",
        "Unauthorized",
        "Forbidden",
        "NotFound",
        "Conflict",
        "TooLarge",
        "UnsupportedType",
        "RateLimited",
        "Busy",
    ] {
        let response = shared
            .get(name)
            .unwrap_or_else(|| panic!("no shared response {name}"));
        assert_eq!(
            response["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
            "{name}"
        );
        assert!(
            response["description"].as_str().is_some_and(|d| d.len() > 20),
            "{name}"
        );
    }
    let mut used = BTreeSet::new();
    for (method, path, status, response) in all_responses(&doc) {
        if !status.starts_with('4') && !status.starts_with('5') {
            continue;
        }
        // The one inline error: the health check's 503 (no Retry-After).
        if (path.as_str(), status.as_str()) == ("/healthz", "503") {
            continue;
        }
        let r = response["$ref"].as_str().unwrap_or_else(|| {
            panic!("{method} {path} {status} is inline, not a shared response: {response}")
        });
        let name = r
            .strip_prefix("#/components/responses/")
            .unwrap_or_else(|| panic!("{method} {path} {status}: {r}"));
        used.insert(name.to_string());
    }
    let declared: BTreeSet<String> = shared.keys().cloned().collect();
    assert_eq!(used, declared, "shared responses used vs declared");
}

#[tokio::test]
async fn retry_after_is_documented_exactly_where_it_is_sent() {
    let server = TestServer::start();
    let doc = fetch_doc(&server).await;
    let mut with_429 = 0;
    for (method, path, status, response) in all_responses(&doc) {
        let response = resolve(&doc, &response);
        let header = &response["headers"]["Retry-After"];
        // ApiError sets Retry-After for rate_limited (429) and busy (503);
        // the health check's 503 is not a busy answer.
        let sends_it = status == "429" || (status == "503" && path != "/healthz");
        if sends_it {
            assert_eq!(
                header["schema"]["type"], "integer",
                "{method} {path} {status}: {response}"
            );
        } else {
            assert!(header.is_null(), "{method} {path} {status} documents Retry-After");
        }
        with_429 += usize::from(status == "429");
    }
    assert!(with_429 >= 7, "only {with_429} operations document 429");
    // Load shedding sits in front of every route but these.
    for (method, path) in documented_routes(&doc) {
        if path == "/healthz" || path == "/metrics" {
            continue;
        }
        assert_eq!(
            doc["paths"][&path][&method]["responses"]["503"]["$ref"], "#/components/responses/Busy",
            "{method} {path}"
        );
    }

    // A real 429 carries the header and matches the document.
    let limited = TestServer::start_with("[limits]\nauth_per_min = 1\nauth_burst = 1\n");
    let anon = limited.anon();
    let login = json!({"username": "nobody", "password": "not the password"});
    let mut answers = Vec::new();
    for _ in 0..3 {
        let resp = Api::send(anon.builder(Method::POST, "/v1/auth/login").json(&login)).await;
        answers.push(resp);
    }
    let resp = answers
        .into_iter()
        .find(|r| r.status == 429)
        .expect("a second login within the minute is rate limited");
    let err: ErrorBody = conforms(&doc, "post", "/v1/auth/login", 429, &resp.body, "ErrorBody");
    let header = resp
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .expect("a numeric Retry-After");
    assert_eq!(Some(header), err.error.retry_after_secs);
}

/// Every example in `v` (media types, parameters, headers and schemas),
/// with the schema it sits beside, as `(where, example, schema)`.
fn examples(v: &Value, at: &str, out: &mut Vec<(String, Value, Value)>) {
    match v {
        Value::Object(map) => {
            let own_schema = map.get("schema").filter(|s| s.is_object());
            match own_schema {
                // A media type, parameter or header: examples of its schema.
                Some(schema) => {
                    if let Some(example) = map.get("example") {
                        out.push((at.to_string(), example.clone(), schema.clone()));
                    }
                    for (name, ex) in map
                        .get("examples")
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(value) = ex.get("value") {
                            out.push((format!("{at}/examples/{name}"), value.clone(), schema.clone()));
                        }
                    }
                }
                // A schema: its own examples.
                None => {
                    if let Some(example) = map.get("example") {
                        out.push((at.to_string(), example.clone(), v.clone()));
                    }
                    for (i, ex) in map
                        .get("examples")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .enumerate()
                    {
                        out.push((format!("{at}/examples/{i}"), ex.clone(), v.clone()));
                    }
                }
            }
            for (k, x) in map {
                examples(x, &format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                examples(x, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Why `instance` does not validate against `schema`, a schema of the
/// document (its `$ref`s resolve in the document's components).
fn errors_against(doc: &Value, schema: &Value, instance: &Value) -> Vec<String> {
    let mut root = schema.clone();
    let Some(obj) = root.as_object_mut() else {
        panic!("not a schema object: {schema}");
    };
    obj.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    obj.insert("components".into(), doc["components"].clone());
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("the schema does not compile: {e}: {schema}"));
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[tokio::test]
async fn every_example_validates_against_its_schema() {
    let server = TestServer::start();
    let doc = fetch_doc(&server).await;
    let mut found = Vec::new();
    examples(&doc, "#", &mut found);
    for (at, example, schema) in &found {
        let errors = errors_against(&doc, schema, example);
        assert!(
            errors.is_empty(),
            "{at}: the example does not match its schema: {errors:?}\n{example}"
        );
    }
    // The main requests have one.
    for (method, path) in [
        ("post", "/v1/auth/register"),
        ("post", "/v1/auth/login"),
        ("post", "/v1/conversations"),
        ("post", "/v1/conversations/{id}/messages"),
        ("patch", "/v1/messages/{id}"),
        ("post", "/v1/tokens"),
        ("post", "/v1/scheduled"),
    ] {
        let body = &doc["paths"][path][method]["requestBody"]["content"]["application/json"];
        assert!(
            body["example"].is_object(),
            "{method} {path} has no request example"
        );
    }
    let q = doc["paths"]["/v1/search"]["get"]["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "q"))
        .expect("the search query parameter");
    assert!(q["example"].is_string(), "{q}");
    assert!(found.len() >= 11, "only {} examples: {found:?}", found.len());
    // And the check can fail: an example the schema refuses is caught.
    let register = &doc["paths"]["/v1/auth/register"]["post"]["requestBody"]["content"]["application/json"];
    let mut broken = register["example"].clone();
    broken["role"] = json!("wizard");
    assert!(!errors_against(&doc, &register["schema"], &broken).is_empty());
}

#[tokio::test]
async fn every_reference_resolves() {
    let server = TestServer::start();
    let doc = fetch_doc(&server).await;
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 50, "suspiciously few $refs: {}", refs.len());
    for r in refs {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("non-local $ref {r}"));
        assert!(doc.pointer(pointer).is_some(), "dangling $ref {r}");
    }
    // Links name operations that exist, with parameters those operations have.
    let mut operations = std::collections::BTreeMap::new();
    for (_, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                operations.insert(
                    op["operationId"].as_str().unwrap_or_default().to_string(),
                    op.clone(),
                );
            }
        }
    }
    let mut links = 0;
    for op in operations.values() {
        for (status, response) in op["responses"].as_object().expect("responses") {
            for (name, link) in response["links"].as_object().into_iter().flatten() {
                let target = link["operationId"].as_str().unwrap_or_default();
                let target_op = operations
                    .get(target)
                    .unwrap_or_else(|| panic!("link {name} ({status}) names no operation: {target}"));
                for param in link["parameters"].as_object().expect("link parameters").keys() {
                    let declared = target_op["parameters"]
                        .as_array()
                        .is_some_and(|ps| ps.iter().any(|p| p["name"] == param.as_str()));
                    assert!(declared, "link {name}: {target} has no parameter {param}");
                }
                links += 1;
            }
        }
    }
    assert!(links >= 20, "only {links} links");
    // The WebSocket frames are described too, though no HTTP body uses them.
    for name in ["ClientFrame", "ServerFrame", "ErrorBody", "ErrorCode"] {
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "schema {name} missing"
        );
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|x| collect_refs(x, out));
        }
        Value::Array(items) => items.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

/// Checks one real answer against the document: `status` is documented for
/// `method path` (the path as in the document, e.g. `/v1/users/{username}`),
/// its JSON schema is a reference to `schema_name`, and `body` validates
/// against it. Returns the body decoded as `T` (the Rust wire type of that
/// name), so the Rust side agrees too.
fn conforms<T: DeserializeOwned>(
    doc: &Value,
    method: &str,
    path: &str,
    status: u16,
    body: &Value,
    schema_name: &str,
) -> T {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not documented");
    let response = &op["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{method} {path} answered {status}, which is not documented: {body}"
    );
    // Shared error answers are references to `components.responses`.
    let response = resolve(doc, response);
    let schema = &response["content"]["application/json"]["schema"];
    assert_eq!(
        schema["$ref"],
        format!("#/components/schemas/{schema_name}"),
        "{method} {path} {status}: documented schema"
    );
    let errors = schema_errors(doc, schema_name, body);
    assert!(
        errors.is_empty(),
        "{method} {path} {status} does not match {schema_name}: {errors:?}\nbody: {body}"
    );
    decode(body.clone())
}

/// Why `body` does not validate against `#/components/schemas/{name}`
/// (empty: it does). Formats such as `date-time` are checked too.
fn schema_errors(doc: &Value, name: &str, body: &Value) -> Vec<String> {
    // The components travel with the reference so `#/components/...` resolves.
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{name}"),
        "components": doc["components"],
    });
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("the schema {name} does not compile: {e}"));
    validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[tokio::test]
async fn the_schema_check_rejects_what_the_wire_types_reject() {
    let server = TestServer::start();
    let doc = fetch_doc(&server).await;
    let good = json!({"ok": true});
    assert!(schema_errors(&doc, "Ok", &good).is_empty());
    let user = json!({
        "username": "ana", "display_name": "Ana", "role": "mentee",
        "profile": {}, "created_at": "2026-01-02T03:04:05Z", "last_seen": null
    });
    assert_eq!(schema_errors(&doc, "User", &user), Vec::<String>::new());
    for (field, bad) in [
        ("role", json!("wizard")),
        ("created_at", json!("yesterday")),
        ("username", json!(7)),
        ("profile", json!({"unknown": 1})),
    ] {
        let mut broken = user.clone();
        broken[field] = bad;
        assert!(
            !schema_errors(&doc, "User", &broken).is_empty(),
            "{field} = {} passed",
            broken[field]
        );
        // ... and the Rust wire type refuses it as well.
        assert!(serde_json::from_value::<User>(broken).is_err(), "{field}");
    }
    let mut missing = user.clone();
    if let Some(o) = missing.as_object_mut() {
        o.remove("role");
    }
    assert!(!schema_errors(&doc, "User", &missing).is_empty());
    let err = json!({"error": {"code": "no_such_code", "message": "x"}});
    assert!(!schema_errors(&doc, "ErrorBody", &err).is_empty());
}

async fn call(api: &Api, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut rb = api.builder(method, path);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = Api::send(rb).await;
    (resp.status.as_u16(), resp.body)
}

#[tokio::test]
async fn real_answers_match_their_documented_schemas() {
    let server = TestServer::start();
    let doc = fetch_doc(&server).await;
    let (mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    ana.say(conv, "c-1", "hello **mona**\nline two").await;
    let c = conv.0;

    // Successes.
    let (s, b) = call(&mona, Method::GET, "/v1/me", None).await;
    let me: User = conforms(&doc, "get", "/v1/me", s, &b, "User");
    assert_eq!(me.username, "mona");
    let (s, b) = call(&ana, Method::GET, "/v1/users?role=mentor", None).await;
    let users: UserList = conforms(&doc, "get", "/v1/users", s, &b, "UserList");
    assert!(users.users.iter().any(|u| u.username == "mona"));
    let (s, b) = call(&ana, Method::GET, "/v1/users/mona", None).await;
    conforms::<User>(&doc, "get", "/v1/users/{username}", s, &b, "User");
    let (s, b) = call(&mona, Method::GET, "/v1/conversations", None).await;
    let list: ConversationList = conforms(&doc, "get", "/v1/conversations", s, &b, "ConversationList");
    assert!(list.conversations[0].last_message.is_some());
    let (s, b) = call(&mona, Method::GET, &format!("/v1/conversations/{c}"), None).await;
    conforms::<Conversation>(&doc, "get", "/v1/conversations/{id}", s, &b, "Conversation");
    let (s, b) = call(
        &mona,
        Method::GET,
        &format!("/v1/conversations/{c}/messages"),
        None,
    )
    .await;
    let page: MessagePage = conforms(
        &doc,
        "get",
        "/v1/conversations/{id}/messages",
        s,
        &b,
        "MessagePage",
    );
    let last = page.messages.last().expect("messages").id;
    let (s, b) = call(
        &mona,
        Method::POST,
        &format!("/v1/conversations/{c}/read"),
        Some(json!({"up_to": last})),
    )
    .await;
    conforms::<Value>(&doc, "post", "/v1/conversations/{id}/read", s, &b, "ReadResponse");
    let (s, b) = call(
        &mona,
        Method::POST,
        &format!("/v1/conversations/{c}/typing"),
        None,
    )
    .await;
    conforms::<Value>(&doc, "post", "/v1/conversations/{id}/typing", s, &b, "Ok");
    let (s, b) = call(
        &mona,
        Method::POST,
        &format!("/v1/conversations/{c}/messages"),
        Some(json!({"client_id": "m-1", "body": "hi ana"})),
    )
    .await;
    assert_eq!(s, 201);
    conforms::<Value>(&doc, "post", "/v1/conversations/{id}/messages", s, &b, "Message");
    let (s, b) = call(&ana, Method::GET, "/v1/notifications", None).await;
    conforms::<NotificationList>(&doc, "get", "/v1/notifications", s, &b, "NotificationList");
    let (s, b) = call(&ana, Method::GET, "/v1/sync?since=0", None).await;
    let sync: SyncResponse = conforms(&doc, "get", "/v1/sync", s, &b, "SyncResponse");
    assert!(!sync.events.is_empty(), "the log has events: {b}");
    let (s, b) = call(
        &ana,
        Method::POST,
        "/v1/tokens",
        Some(json!({"name": "cron", "expires_in_days": 7})),
    )
    .await;
    assert_eq!(s, 201);
    let created: CreatedToken = conforms(&doc, "post", "/v1/tokens", s, &b, "CreatedToken");
    let (s, b) = call(&ana, Method::GET, "/v1/tokens", None).await;
    conforms::<TokenList>(&doc, "get", "/v1/tokens", s, &b, "TokenList");
    let (s, b) = call(
        &ana,
        Method::DELETE,
        &format!("/v1/tokens/{}", created.info.id),
        None,
    )
    .await;
    conforms::<Value>(&doc, "delete", "/v1/tokens/{id}", s, &b, "Ok");
    let (s, b) = call(&server.anon(), Method::GET, "/healthz", None).await;
    conforms::<Value>(&doc, "get", "/healthz", s, &b, "Health");
    let (s, b) = call(
        &server.anon(),
        Method::POST,
        "/v1/auth/register",
        Some(json!({"username": "zoe", "password": common::PASSWORD, "role": "mentee"})),
    )
    .await;
    conforms::<Value>(&doc, "post", "/v1/auth/register", s, &b, "AuthResponse");
    let (s, b) = call(
        &server.anon(),
        Method::POST,
        "/v1/auth/login",
        Some(json!({"username": "zoe", "password": common::PASSWORD})),
    )
    .await;
    conforms::<Value>(&doc, "post", "/v1/auth/login", s, &b, "AuthResponse");

    // Errors: each has a documented status and the one error shape.
    let stranger = server.mentee("sam").await;
    let anon = server.anon();
    let (stranger, mona, ana) = (&stranger.api, &mona.api, &ana.api);
    // (who, method, url, body, documented method, documented path, status)
    type Case<'a> = (&'a Api, Method, String, Option<Value>, &'a str, &'a str, u16);
    let cases: Vec<Case> = vec![
        (&anon, Method::GET, "/v1/me".into(), None, "get", "/v1/me", 401),
        (
            stranger,
            Method::GET,
            format!("/v1/conversations/{c}"),
            None,
            "get",
            "/v1/conversations/{id}",
            404,
        ),
        (
            stranger,
            Method::GET,
            "/v1/conversations/abc".into(),
            None,
            "get",
            "/v1/conversations/{id}",
            400,
        ),
        (
            mona,
            Method::GET,
            format!("/v1/conversations/{c}/messages?before=1&after=2"),
            None,
            "get",
            "/v1/conversations/{id}/messages",
            400,
        ),
        (
            mona,
            Method::POST,
            format!("/v1/conversations/{c}/decline"),
            None,
            "post",
            "/v1/conversations/{id}/decline",
            409,
        ),
        (
            stranger,
            Method::POST,
            format!("/v1/conversations/{c}/complete"),
            None,
            "post",
            "/v1/conversations/{id}/complete",
            404,
        ),
        (
            ana,
            Method::POST,
            "/v1/conversations".into(),
            Some(json!({"to": "nobody", "message": "hi"})),
            "post",
            "/v1/conversations",
            404,
        ),
        (
            ana,
            Method::POST,
            format!("/v1/conversations/{c}/messages"),
            Some(json!({"client_id": "c-1", "body": "another body"})),
            "post",
            "/v1/conversations/{id}/messages",
            409,
        ),
        (
            ana,
            Method::PATCH,
            "/v1/me".into(),
            Some(json!({"display_name": "x".repeat(500)})),
            "patch",
            "/v1/me",
            400,
        ),
        (
            ana,
            Method::PUT,
            "/v1/admin/mentors/mona/approve".into(),
            None,
            "put",
            "/v1/admin/mentors/{username}/approve",
            403,
        ),
        (
            &anon,
            Method::POST,
            "/v1/auth/login".into(),
            Some(json!({"username": "zoe", "password": "wrong password!"})),
            "post",
            "/v1/auth/login",
            401,
        ),
        (
            &anon,
            Method::POST,
            "/v1/auth/register".into(),
            Some(json!({"username": "zoe", "password": common::PASSWORD, "role": "mentee"})),
            "post",
            "/v1/auth/register",
            409,
        ),
        (
            ana,
            Method::GET,
            "/v1/sync?timeout=3600".into(),
            None,
            "get",
            "/v1/sync",
            400,
        ),
    ];
    for (api, method, url, body, doc_method, doc_path, want) in cases {
        let (s, b) = call(api, method.clone(), &url, body).await;
        assert_eq!(s, want, "{method} {url}: {b}");
        conforms::<ErrorBody>(&doc, doc_method, doc_path, s, &b, "ErrorBody");
    }
}

#[tokio::test]
async fn non_json_endpoints_are_described_as_such() {
    let server = TestServer::start();
    let doc = fetch_doc(&server).await;
    let metrics = &doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"];
    assert!(metrics.get("text/plain").is_some(), "{metrics}");
    let ws = &doc["paths"]["/v1/ws"]["get"]["responses"];
    assert!(ws.get("101").is_some(), "{ws}");
    let upload = &doc["paths"]["/v1/files"]["post"]["requestBody"]["content"];
    assert_eq!(
        upload["application/octet-stream"]["schema"]["format"], "binary",
        "{upload}"
    );
    let download = &doc["paths"]["/v1/files/{id}"]["get"]["responses"]["200"]["content"];
    assert_eq!(download["*/*"]["schema"]["format"], "binary", "{download}");
    let delete_template = &doc["paths"]["/v1/templates/{name}"]["delete"]["responses"]["204"];
    assert!(
        delete_template.is_object() && delete_template.get("content").is_none(),
        "{delete_template}"
    );
    let decline = &doc["paths"]["/v1/conversations/{id}/decline"]["post"]["requestBody"];
    assert_eq!(decline["required"], false, "{decline}");
    // And the real /metrics answers text, not JSON.
    let resp = Api::send(server.anon().builder(Method::GET, "/metrics")).await;
    assert_eq!(resp.status, 200);
    let ct = resp
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(ct.starts_with("text/plain"), "{ct}");
}

#[tokio::test]
async fn rich_messaging_answers_match_their_documented_schemas() {
    let server = TestServer::start();
    let doc = fetch_doc(&server).await;
    let (mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    let c = conv.0;
    let first = ana.say(conv, "c-1", "the first lifetimes question").await;
    let m = first.id.0;

    let (s, b) = call(
        &mona,
        Method::PUT,
        &format!("/v1/conversations/{c}/settings"),
        Some(json!({"muted": true})),
    )
    .await;
    let settled: Conversation = conforms(
        &doc,
        "put",
        "/v1/conversations/{id}/settings",
        s,
        &b,
        "Conversation",
    );
    assert!(settled.muted);

    let (s, b) = call(&mona, Method::GET, &format!("/v1/messages/{m}"), None).await;
    conforms::<Message>(&doc, "get", "/v1/messages/{id}", s, &b, "Message");
    let (s, b) = call(
        &mona,
        Method::PUT,
        &format!("/v1/messages/{m}/reactions/%F0%9F%91%8D"),
        None,
    )
    .await;
    let reacted: Message = conforms(
        &doc,
        "put",
        "/v1/messages/{id}/reactions/{emoji}",
        s,
        &b,
        "Message",
    );
    assert_eq!(reacted.reactions.len(), 1, "{b}");
    let (s, b) = call(
        &ana,
        Method::PATCH,
        &format!("/v1/messages/{m}"),
        Some(json!({"body": "the first lifetimes question, edited"})),
    )
    .await;
    let edited: Message = conforms(&doc, "patch", "/v1/messages/{id}", s, &b, "Message");
    assert!(edited.edited_at.is_some());
    let (s, b) = call(
        &mona,
        Method::PATCH,
        &format!("/v1/messages/{m}"),
        Some(json!({"body": "x"})),
    )
    .await;
    assert_eq!(s, 403, "{b}");
    conforms::<ErrorBody>(&doc, "patch", "/v1/messages/{id}", s, &b, "ErrorBody");

    let (s, b) = call(&ana, Method::GET, "/v1/search?q=lifetimes", None).await;
    let results: SearchResults = conforms(&doc, "get", "/v1/search", s, &b, "SearchResults");
    assert!(!results.hits.is_empty(), "{b}");

    let (s, b) = call(
        &mona,
        Method::PUT,
        "/v1/templates/welcome",
        Some(json!({"body": "Hi {name}!"})),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    conforms::<Template>(&doc, "put", "/v1/templates/{name}", s, &b, "Template");
    let (s, b) = call(&mona, Method::GET, "/v1/templates", None).await;
    conforms::<TemplateList>(&doc, "get", "/v1/templates", s, &b, "TemplateList");
    let (s, b) = call(&mona, Method::DELETE, "/v1/templates/welcome", None).await;
    assert_eq!(s, 204, "{b}");
    assert!(doc["paths"]["/v1/templates/{name}"]["delete"]["responses"]["204"].is_object());

    let due = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48)).to_string();
    let (s, b) = call(
        &ana,
        Method::POST,
        "/v1/scheduled",
        Some(json!({"kind": "message", "conversation_id": c, "body": "later", "due_at": due, "client_id": "s-1"})),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let item: ScheduledItem = conforms(&doc, "post", "/v1/scheduled", s, &b, "ScheduledItem");
    let (s, b) = call(&ana, Method::GET, "/v1/scheduled", None).await;
    conforms::<ScheduledList>(&doc, "get", "/v1/scheduled", s, &b, "ScheduledList");
    let (s, b) = call(&ana, Method::DELETE, &format!("/v1/scheduled/{}", item.id), None).await;
    conforms::<ScheduledItem>(&doc, "delete", "/v1/scheduled/{id}", s, &b, "ScheduledItem");

    // Files: raw bytes up, bytes down (not JSON), documented as binary.
    let resp = ana
        .raw(
            Method::POST,
            "/v1/files?name=notes.txt",
            Some("text/plain"),
            Some(b"some notes".to_vec()),
        )
        .await;
    let (s, b) = (resp.status.as_u16(), resp.body);
    let file: FileInfo = conforms(&doc, "post", "/v1/files", s, &b, "FileInfo");
    let resp = ana
        .raw(Method::GET, &format!("/v1/files/{}", file.id), None, None)
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.text, "some notes");
    assert!(doc["paths"]["/v1/files/{id}"]["get"]["responses"]["200"].is_object());

    let (s, b) = call(&mona, Method::DELETE, &format!("/v1/messages/{m}"), None).await;
    assert_eq!(s, 403, "not mona's message: {b}");
    let (s, b) = call(&ana, Method::DELETE, &format!("/v1/messages/{m}"), None).await;
    let gone: Message = conforms(&doc, "delete", "/v1/messages/{id}", s, &b, "Message");
    assert!(gone.deleted_at.is_some());
}
