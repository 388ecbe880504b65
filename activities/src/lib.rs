//! sesflow-activities
