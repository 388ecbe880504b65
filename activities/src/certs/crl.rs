//! Certificate revocation lists, signed by the CA, that `openssl crl` reads.

use chrono::{DateTime, Duration, Utc};
use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{ca, Error, Service, SERVICE};
use crate::store::{self, entities::certificate};

/// Days until the next CRL is due.
pub const NEXT_UPDATE_DAYS: i64 = 7;

impl Service {
    /// A new CRL listing every revoked certificate, PEM.
    pub async fn crl(&self, now: DateTime<Utc>) -> Result<String, Error> {
        let authority = self.ca(now).await?;
        let number = self.next_crl_number().await?;
        let revoked = certificate::Entity::find()
            .filter(certificate::Column::RevokedAt.is_not_null())
            .order_by_asc(certificate::Column::RevokedAt)
            .all(&self.db)
            .await?;
        let mut revoked_certs = Vec::with_capacity(revoked.len());
        for cert in &revoked {
            let bytes = hex::decode(&cert.serial).map_err(|e| Error::X509(e.to_string()))?;
            let reason: super::Reason = cert
                .revocation_reason
                .as_deref()
                .unwrap_or("unspecified")
                .parse()?;
            revoked_certs.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&bytes),
                revocation_time: ca::offset_time(store::datetime(cert.revoked_at.unwrap_or(0))),
                reason_code: Some(reason.crl_code()),
                invalidity_date: None,
            });
        }
        let params = CertificateRevocationListParams {
            this_update: ca::offset_time(now),
            next_update: ca::offset_time(now + Duration::days(NEXT_UPDATE_DAYS)),
            crl_number: SerialNumber::from(minimal_be(number)),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&authority.issuer, &authority.key)?;
        Ok(crl.pem()?)
    }

    async fn next_crl_number(&self) -> Result<i64, Error> {
        use crate::store::entities::ca as row;
        row::Entity::update_many()
            .col_expr(
                row::Column::CrlNumber,
                Expr::col(row::Column::CrlNumber).add(1),
            )
            .filter(row::Column::Service.eq(SERVICE))
            .exec(&self.db)
            .await?;
        let stored = row::Entity::find_by_id(SERVICE)
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::X509("the CA row is missing".into()))?;
        Ok(stored.crl_number)
    }
}

/// `n` as the shortest big-endian bytes of a positive DER integer.
fn minimal_be(n: i64) -> Vec<u8> {
    let bytes = n.max(0).to_be_bytes();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(7);
    let mut out = bytes[first..].to_vec();
    if out[0] & 0x80 != 0 {
        out.insert(0, 0);
    }
    out
}
