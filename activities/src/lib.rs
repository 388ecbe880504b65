//! sesflow-activities: the node kinds that do work, the SES module and its
//! certificate service.
//!
//! - [`nodes`]: the node kinds `signature_issuing_request`,
//!   `expect_signature_issuing` and `sign`, and [`register`], which plugs
//!   them and the certificate service into an engine;
//! - [`users`], [`security`]: who may sign, and the company's two-factor
//!   settings;
//! - [`ses`]: the module's settings, one-time codes, signing and
//!   verification;
//! - [`certs`]: the certificate service (CA, issuance, revocation, CRLs,
//!   keys at rest);
//! - [`notify`]: delivery of codes by e-mail, SMS or the outbox;
//! - [`apps`]: versioned app items that can be signed;
//! - [`audit`]: the log of what happened, without secrets;
//! - [`store`]: the module's tables and migrations.

pub mod apps;
pub mod audit;
pub mod canonical;
pub mod certs;
pub mod error;
pub mod nodes;
pub mod notify;
pub mod security;
pub mod ses;
pub mod store;
pub mod users;

pub use error::{Error, Result};
pub use nodes::{register, Keys, Module};
