//! `mchatd`: the mentorchat server, as a library so the binary, the admin
//! commands and the benchmarks share one implementation.
//!
//! Request flow: [`routes`] (axum handlers) validate input with
//! `mchat_shared::validate`, authenticate with [`auth::Auth`], and call the
//! async methods of [`store::Store`], which run SQL on dedicated threads.
//! Errors from any layer become [`error::ApiError`], the one JSON error shape.

pub mod admin;
pub mod attachments;
pub mod auth;
pub mod client_ip;
pub mod config;
pub mod error;
pub mod extract;
pub mod listen;
pub mod metrics;
pub mod openapi;
pub mod ratelimit;
pub mod realtime;
pub mod routes;
pub mod server;
pub mod shed;
pub mod state;
pub mod store;
