//! sea-orm entities of the engine's tables.

pub mod event;
