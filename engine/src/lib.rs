//! sesflow-engine
