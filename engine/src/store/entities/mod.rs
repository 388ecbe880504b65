//! sea-orm entities of the engine's tables.

pub mod definition;
pub mod event;
pub mod history;
pub mod instance;
pub mod job;
pub mod task;
pub mod wait;
pub mod worker;
