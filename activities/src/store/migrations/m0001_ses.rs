//! The SES module's tables: users, settings, CA, requests, certificates,
//! signing, codes, signatures, outbox, audit, apps.

use sea_orm::{EntityName, IdenStatic, Iterable};
use sea_orm_migration::prelude::*;

use crate::store::entities::{
    app, app_item, audit, ca, cert_request, certificate, code, outbox, setting, sign_request,
    signature, user,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            manager.create_table(table).await?;
        }
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables().iter().rev() {
            let name = table.get_table_name().cloned();
            if let Some(name) = name {
                manager
                    .drop_table(Table::drop().table(name).if_exists().to_owned())
                    .await?;
            }
        }
        Ok(())
    }
}

/// The kinds of column the tables use.
enum Kind {
    Text,
    Int,
    BigInt,
    Bool,
    Json,
    Blob,
}

/// A table of entity `E` whose columns are all NOT NULL except those listed
/// in `nullable`, with `primary` as its primary key.
fn table<E>(
    kinds: &[(E::Column, Kind)],
    nullable: &[E::Column],
    primary: &[E::Column],
) -> TableCreateStatement
where
    E: sea_orm::EntityTrait + EntityName + Default + Iden + 'static,
    E::Column: IdenStatic + Copy + 'static,
{
    let mut create = Table::create();
    create.table(E::default()).if_not_exists();
    for column in E::Column::iter() {
        let kind = kinds
            .iter()
            .find(|(c, _)| c.as_str() == column.as_str())
            .map(|(_, k)| k)
            .unwrap_or(&Kind::Text);
        let mut def = ColumnDef::new(column);
        match kind {
            Kind::Text => def.string(),
            Kind::Int => def.integer(),
            Kind::BigInt => def.big_integer(),
            Kind::Bool => def.boolean(),
            Kind::Json => def.json_binary(),
            Kind::Blob => def.blob(),
        };
        if !nullable.iter().any(|c| c.as_str() == column.as_str()) {
            def.not_null();
        }
        if primary.len() == 1 && primary[0].as_str() == column.as_str() {
            def.primary_key();
        }
        create.col(&mut def);
    }
    if primary.len() > 1 {
        let mut key = Index::create();
        for column in primary {
            key.col(*column);
        }
        create.primary_key(&mut key);
    }
    create.to_owned()
}

fn tables() -> Vec<TableCreateStatement> {
    use Kind::*;
    vec![
        table::<user::Entity>(
            &[(user::Column::CreatedAt, BigInt)],
            &[user::Column::Email, user::Column::Phone],
            &[user::Column::Login],
        ),
        table::<setting::Entity>(
            &[
                (setting::Column::Value, Json),
                (setting::Column::UpdatedAt, BigInt),
            ],
            &[],
            &[setting::Column::Name],
        ),
        table::<ca::Entity>(
            &[
                (ca::Column::Certificate, Blob),
                (ca::Column::Key, Blob),
                (ca::Column::CrlNumber, BigInt),
                (ca::Column::CreatedAt, BigInt),
            ],
            &[],
            &[ca::Column::Service],
        ),
        cert_request_table(),
        certificate_table(),
        table::<sign_request::Entity>(
            &[
                (sign_request::Column::Document, Json),
                (sign_request::Column::Attempts, Int),
                (sign_request::Column::NCodes, Int),
                (sign_request::Column::CreatedAt, BigInt),
                (sign_request::Column::UpdatedAt, BigInt),
            ],
            &[],
            &[sign_request::Column::Id],
        ),
        table::<code::Entity>(
            &[
                (code::Column::SentAt, BigInt),
                (code::Column::ExpiresAt, BigInt),
                (code::Column::UsedAt, BigInt),
                (code::Column::Superseded, Bool),
            ],
            &[code::Column::UsedAt],
            &[code::Column::Id],
        ),
        table::<signature::Entity>(
            &[
                (signature::Column::SignedAt, BigInt),
                (signature::Column::Record, Json),
            ],
            &[],
            &[signature::Column::Id],
        ),
        table::<outbox::Entity>(
            &[(outbox::Column::CreatedAt, BigInt)],
            &[outbox::Column::Subject],
            &[outbox::Column::Id],
        ),
        table::<audit::Entity>(
            &[(audit::Column::At, BigInt), (audit::Column::Detail, Json)],
            &[audit::Column::Login, audit::Column::Subject],
            &[audit::Column::Id],
        ),
        table::<app::Entity>(
            &[
                (app::Column::SignedFields, Json),
                (app::Column::UpdatedAt, BigInt),
            ],
            &[app::Column::SignedFields],
            &[app::Column::Name],
        ),
        table::<app_item::Entity>(
            &[
                (app_item::Column::Version, Int),
                (app_item::Column::Fields, Json),
                (app_item::Column::CreatedAt, BigInt),
            ],
            &[],
            &[
                app_item::Column::App,
                app_item::Column::ItemId,
                app_item::Column::Version,
            ],
        ),
    ]
}

fn cert_request_table() -> TableCreateStatement {
    use cert_request::Column as C;
    table::<cert_request::Entity>(
        &[
            (C::Replace, Kind::Bool),
            (C::CreatedAt, Kind::BigInt),
            (C::DecidedAt, Kind::BigInt),
        ],
        &[
            C::FullName,
            C::Email,
            C::Phone,
            C::Reason,
            C::Serial,
            C::DecidedAt,
        ],
        &[C::Id],
    )
}

fn certificate_table() -> TableCreateStatement {
    use certificate::Column as C;
    table::<certificate::Entity>(
        &[
            (C::Certificate, Kind::Blob),
            (C::Key, Kind::Blob),
            (C::NotBefore, Kind::BigInt),
            (C::NotAfter, Kind::BigInt),
            (C::RevokedAt, Kind::BigInt),
        ],
        &[C::Email, C::Phone, C::RevokedAt, C::RevocationReason],
        &[C::Serial],
    )
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        Index::create()
            .name("ux_ses_cert_request_key")
            .table(cert_request::Entity)
            .col(cert_request::Column::RequestKey)
            .unique()
            .if_not_exists()
            .to_owned(),
        Index::create()
            .name("ix_ses_cert_request_status")
            .table(cert_request::Entity)
            .col(cert_request::Column::Status)
            .if_not_exists()
            .to_owned(),
        Index::create()
            .name("ix_ses_certificate_login")
            .table(certificate::Entity)
            .col(certificate::Column::Login)
            .if_not_exists()
            .to_owned(),
        Index::create()
            .name("ix_ses_sign_request_login")
            .table(sign_request::Entity)
            .col(sign_request::Column::Login)
            .col(sign_request::Column::Status)
            .if_not_exists()
            .to_owned(),
        Index::create()
            .name("ix_ses_code_request")
            .table(code::Entity)
            .col(code::Column::SignRequestId)
            .if_not_exists()
            .to_owned(),
        Index::create()
            .name("ix_ses_signature_target")
            .table(signature::Entity)
            .col(signature::Column::Target)
            .if_not_exists()
            .to_owned(),
        Index::create()
            .name("ix_ses_audit_at")
            .table(audit::Entity)
            .col(audit::Column::At)
            .if_not_exists()
            .to_owned(),
    ]
}
