//! Declarative configs for Weir, Terraform style: `weir validate`, `weir plan`,
//! `weir apply` and `weir destroy`.
//!
//! A config is HCL or YAML (one schema, see [`schema`]) declaring streams and consumers.
//! The pipeline is: [`syntax`](crate::schema::load) parses files into one tree with
//! positions → [`schema::load`] evaluates variables and references and checks the schema
//! → [`plan::compute`] diffs against a [`LiveState`] → [`render::render_plan`] prints it →
//! [`apply::execute`] converges the control plane. [`rest`] serves plan and apply as
//! `/v1/plan` and `/v1/apply`, so the CLI and the console share this code.

mod error;
mod eval;
mod source;
mod syntax;

pub mod apply;
pub mod live;
pub mod plan;
pub mod render;
pub mod rest;
pub mod schema;

pub use apply::{ApplyEvent, Prepared};
pub use error::ConfigError;
pub use live::{LiveState, LiveStream};
pub use plan::{Action, Plan, ResourceChange};
pub use render::render_plan;
pub use schema::{load, Config, ConsumerSpec, Mode, StreamSpec};
pub use source::{Diagnostic, Document, SourceFile};
