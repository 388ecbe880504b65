//! `expect_signature_issuing`: the engine parks the token on a wait for the
//! `signature.issuance` event whose key is the request id; this file is the
//! other side of that wait, the certificate service's processing run by the
//! worker as a chore.
//!
//! On every pass the chore decides the pending requests: it issues a
//! certificate or rejects the request, and publishes the event in the same
//! transaction as the decision. The event is kept in the inbox until the
//! instance waits for it, so an issuance that completes before the
//! instance reaches the node is not lost. With `approval: manual` (`sesflow
//! ses set --approval manual`) requests that pass the checks stay pending
//! until an operator runs `sesflow certs approve|reject ID`; a wait with a
//! `timeout` then takes `on_timeout` if nobody decides in time.

use async_trait::async_trait;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use sesflow_engine::activity::{self, Chore};

use super::{at, of_module, Module};
use crate::certs::{issue, Decision};
use crate::store::entities::cert_request;

/// The certificate service's processing as a worker chore.
#[derive(Clone, Debug)]
pub struct Service {
    module: Module,
}

impl Service {
    /// The chore over `module`.
    pub fn new(module: Module) -> Self {
        Self { module }
    }
}

#[async_trait]
impl Chore for Service {
    fn name(&self) -> &str {
        "certificate service"
    }

    /// Decides the pending requests; returns how many were issued or
    /// rejected (requests left for an operator do not count).
    async fn run(&self, now_ms: i64) -> Result<usize, activity::Error> {
        let n_pending = cert_request::Entity::find()
            .filter(cert_request::Column::Status.eq(issue::PENDING))
            .count(self.module.db())
            .await
            .map_err(|error| activity::Error::Unavailable(format!("database: {error}")))?;
        if n_pending == 0 {
            return Ok(0);
        }
        let ses = self.module.activity_ses()?;
        let decisions = ses
            .certs()
            .process_pending(at(now_ms))
            .await
            .map_err(|error| of_module(error.into()))?;
        Ok(decisions
            .iter()
            .filter(|decision| !matches!(decision, Decision::Pending { .. }))
            .count())
    }
}
