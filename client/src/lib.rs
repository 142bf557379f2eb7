//! `mchat`: the mentorchat client library (HTTP API client, live connection, local store,
//! terminal sanitiser) behind the `mchat` command line and TUI.

pub mod api;
pub mod cli;
pub mod config;
pub mod demo;
pub mod files;
pub mod live;
pub mod local;
pub mod sanitize;
pub mod templates;
pub mod tls;
pub mod tui;
pub mod when;
