//! sea-orm entities of the SES module's tables, all prefixed `ses_`.

pub mod app;
pub mod app_item;
pub mod audit;
pub mod ca;
pub mod cert_request;
pub mod certificate;
pub mod code;
pub mod outbox;
pub mod setting;
pub mod sign_request;
pub mod signature;
pub mod user;
