//! sesflow-engine: knows processes, not signatures.
//!
//! Schemas are parsed and compiled into definitions, validated, and run as
//! durable instances whose state lives in the store. Activities that do work
//! outside the engine plug in through the [`activity::Activity`] trait.

pub mod activity;
pub mod definition;
pub mod diagram;
pub mod driver;
pub mod events;
pub mod expr;
pub mod history;
pub mod queue;
pub mod replay;
pub mod runtime;
pub mod scenario;
pub mod schema;
pub mod store;
mod validate;

pub use driver::{Config, Engine};
