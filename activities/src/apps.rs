//! App items: JSON objects kept in versions. Each change makes a new
//! version; signatures cover the app's signed fields (all but system fields
//! unless the app says otherwise).

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::store::{self, entities::app, entities::app_item};

/// Fields that are never signed unless an app names them: those starting
/// with `_` and these.
pub const SYSTEM_FIELDS: [&str; 6] = [
    "id",
    "version",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
];

/// One version of an item.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Item {
    /// The app.
    pub app: String,
    /// The item's id.
    pub id: String,
    /// The version, from 1.
    pub version: i32,
    /// The fields.
    pub fields: Map<String, Value>,
    /// When this version was made.
    pub created_at: DateTime<Utc>,
}

/// Whether `name` is a system field.
pub fn is_system_field(name: &str) -> bool {
    name.starts_with('_') || SYSTEM_FIELDS.contains(&name)
}

/// Stores `fields` (a JSON object) as the next version of `app/id`.
pub async fn put<C: ConnectionTrait>(
    conn: &C,
    app: &str,
    id: &str,
    fields: Value,
    now: DateTime<Utc>,
) -> Result<Item> {
    check_name("app", app)?;
    check_name("item id", id)?;
    let Value::Object(fields) = fields else {
        return Err(Error::Invalid {
            field: "item",
            value: short(&fields.to_string()),
            remedy: "give a JSON object, such as {\"amount\": 100}".into(),
        });
    };
    let version = match latest(conn, app, id).await? {
        Some(item) => item.version + 1,
        None => 1,
    };
    let row = app_item::ActiveModel {
        app: Set(app.to_owned()),
        item_id: Set(id.to_owned()),
        version: Set(version),
        fields: Set(Value::Object(fields)),
        created_at: Set(store::millis(now)),
    };
    let row = row.insert(conn).await.map_err(|e| {
        if store::is_conflict(&e) {
            Error::Invalid {
                field: "item",
                value: format!("{app}/{id}"),
                remedy: "it was changed at the same time; put it again".into(),
            }
        } else {
            Error::Db(e)
        }
    })?;
    Ok(item_of(row))
}

/// The latest version of `app/id`.
pub async fn get<C: ConnectionTrait>(conn: &C, app: &str, id: &str) -> Result<Item> {
    latest(conn, app, id)
        .await?
        .ok_or_else(|| Error::UnknownItem {
            app: app.to_owned(),
            id: id.to_owned(),
        })
}

/// Every version of `app/id`, oldest first.
pub async fn history<C: ConnectionTrait>(conn: &C, app: &str, id: &str) -> Result<Vec<Item>> {
    let rows = app_item::Entity::find()
        .filter(app_item::Column::App.eq(app))
        .filter(app_item::Column::ItemId.eq(id))
        .order_by_asc(app_item::Column::Version)
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(item_of).collect())
}

/// Sets the fields signatures of `app` cover; `None` means all but system
/// fields.
pub async fn set_signed_fields<C: ConnectionTrait>(
    conn: &C,
    app: &str,
    fields: Option<Vec<String>>,
    now: DateTime<Utc>,
) -> Result<()> {
    check_name("app", app)?;
    if let Some(names) = &fields {
        check_known_fields(conn, app, names).await?;
    }
    let row = app::ActiveModel {
        name: Set(app.to_owned()),
        signed_fields: Set(fields.map(Value::from)),
        updated_at: Set(store::millis(now)),
    };
    app::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(app::Column::Name)
                .update_columns([app::Column::SignedFields, app::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Refuses `names` that no item of `app` has, when it has items: a
/// signature over a field that does not exist covers nothing.
async fn check_known_fields<C: ConnectionTrait>(
    conn: &C,
    app: &str,
    names: &[String],
) -> Result<()> {
    let rows = app_item::Entity::find()
        .filter(app_item::Column::App.eq(app))
        .all(conn)
        .await?;
    let mut known: Vec<String> = rows
        .into_iter()
        .flat_map(|row| item_of(row).fields.keys().cloned().collect::<Vec<_>>())
        .collect();
    known.sort();
    known.dedup();
    if known.is_empty() {
        return Ok(());
    }
    match names.iter().find(|name| !known.contains(name)) {
        Some(unknown) => Err(Error::Invalid {
            field: "signed field",
            value: unknown.clone(),
            remedy: format!(
                "no item of `{app}` has it; its items have {}",
                known.join(", ")
            ),
        }),
        None => Ok(()),
    }
}

/// Refuses to sign `item` when it has none of the fields `names` a
/// signature would cover: such a signature would hold whatever changes.
pub fn check_covered(item: &Item, names: &[String]) -> Result<()> {
    if names.iter().any(|name| item.fields.contains_key(name)) {
        return Ok(());
    }
    Err(Error::Invalid {
        field: "app item",
        value: format!("{}/{}", item.app, item.id),
        remedy: format!(
            "it has none of the fields signatures of `{}` cover ({}); set them with \
             `sesflow apps fields {} --signed FIELD`",
            item.app,
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            },
            item.app
        ),
    })
}

/// The names of the fields of `item` that a signature covers, sorted.
pub async fn signed_fields<C: ConnectionTrait>(conn: &C, item: &Item) -> Result<Vec<String>> {
    let configured = app::Entity::find_by_id(&item.app)
        .one(conn)
        .await?
        .and_then(|row| row.signed_fields)
        .and_then(|value| serde_json::from_value::<Vec<String>>(value).ok());
    let mut names = match configured {
        Some(names) => names,
        None => item
            .fields
            .keys()
            .filter(|name| !is_system_field(name))
            .cloned()
            .collect(),
    };
    names.sort();
    names.dedup();
    Ok(names)
}

/// SHA-256 (hex) of the RFC 8785 canonical JSON of the app, id, version and
/// the fields named in `names` (a missing field counts as null).
pub fn digest(
    app: &str,
    id: &str,
    version: i32,
    fields: &Map<String, Value>,
    names: &[String],
) -> String {
    let signed: Map<String, Value> = names
        .iter()
        .map(|name| {
            (
                name.clone(),
                fields.get(name).cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    let document = serde_json::json!({
        "app": app,
        "id": id,
        "version": version,
        "fields": signed,
    });
    let bytes = crate::canonical::to_vec(&document)
        .expect("a JSON value built from strings, numbers and maps serializes");
    hex::encode(Sha256::digest(bytes))
}

/// The first version after `signed_version` in `history` whose signed
/// fields differ from those of `signed_version`, if any.
pub fn changed_since(history: &[Item], signed_version: i32, names: &[String]) -> Option<i32> {
    let signed = history.iter().find(|i| i.version == signed_version)?;
    let pick = |item: &Item| -> Vec<Option<Value>> {
        names.iter().map(|n| item.fields.get(n).cloned()).collect()
    };
    let base = pick(signed);
    history
        .iter()
        .filter(|i| i.version > signed_version)
        .find(|i| pick(i) != base)
        .map(|i| i.version)
}

async fn latest<C: ConnectionTrait>(conn: &C, app: &str, id: &str) -> Result<Option<Item>> {
    let row = app_item::Entity::find()
        .filter(app_item::Column::App.eq(app))
        .filter(app_item::Column::ItemId.eq(id))
        .order_by_desc(app_item::Column::Version)
        .one(conn)
        .await?;
    Ok(row.map(item_of))
}

fn item_of(row: app_item::Model) -> Item {
    let fields = match row.fields {
        Value::Object(map) => map,
        other => Map::from_iter([("value".to_owned(), other)]),
    };
    Item {
        app: row.app,
        id: row.item_id,
        version: row.version,
        fields,
        created_at: store::datetime(row.created_at),
    }
}

fn check_name(field: &'static str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid {
            field,
            value: name.to_owned(),
            remedy: "use 1 to 128 letters, digits, `.`, `_` or `-`".into(),
        })
    }
}

fn short(text: &str) -> String {
    text.chars().take(60).collect()
}
