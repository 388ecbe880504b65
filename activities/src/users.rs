//! Users: who may hold a certificate and sign, with their contacts and
//! password (an argon2id hash, never the password itself).

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier};
use argon2::{password_hash::SaltString, Argon2};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QueryOrder, Set};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::store::{self, entities::user};

/// A user as stored.
pub type User = user::Model;

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 8;

/// A user to add.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// The login.
    pub login: String,
    /// The full name.
    pub full_name: String,
    /// The e-mail address.
    pub email: Option<String>,
    /// The phone number.
    pub phone: Option<String>,
    /// The password, wiped from memory when dropped.
    pub password: Zeroizing<String>,
}

/// Adds a user after checking every field.
pub async fn add<C: ConnectionTrait>(conn: &C, new: NewUser, now: DateTime<Utc>) -> Result<User> {
    let login = check_login(&new.login)?;
    let full_name = check_name(&new.full_name)?;
    let email = new.email.as_deref().map(check_email).transpose()?;
    let phone = new.phone.as_deref().map(check_phone).transpose()?;
    let password_hash = hash_password(new.password).await?;
    if get(conn, &login).await?.is_some() {
        return Err(Error::UserExists { login });
    }
    let row = user::ActiveModel {
        login: Set(login.clone()),
        full_name: Set(full_name),
        email: Set(email),
        phone: Set(phone),
        password_hash: Set(password_hash),
        created_at: Set(store::millis(now)),
    };
    row.insert(conn).await.map_err(|e| {
        if store::is_conflict(&e) {
            Error::UserExists { login }
        } else {
            Error::Db(e)
        }
    })
}

/// The user `login`, if there is one.
pub async fn get<C: ConnectionTrait>(conn: &C, login: &str) -> Result<Option<User>> {
    Ok(user::Entity::find_by_id(login).one(conn).await?)
}

/// The user `login`, or [`Error::UnknownUser`].
pub async fn require<C: ConnectionTrait>(conn: &C, login: &str) -> Result<User> {
    get(conn, login).await?.ok_or_else(|| Error::UnknownUser {
        login: login.to_owned(),
    })
}

/// Every user, by login.
pub async fn list<C: ConnectionTrait>(conn: &C) -> Result<Vec<User>> {
    Ok(user::Entity::find()
        .order_by_asc(user::Column::Login)
        .all(conn)
        .await?)
}

/// Changes the contacts of `login`; `None` keeps a value as it is.
pub async fn set_contacts<C: ConnectionTrait>(
    conn: &C,
    login: &str,
    email: Option<&str>,
    phone: Option<&str>,
) -> Result<User> {
    let user = require(conn, login).await?;
    let mut row: user::ActiveModel = user.into();
    if let Some(email) = email {
        row.email = Set(Some(check_email(email)?));
    }
    if let Some(phone) = phone {
        row.phone = Set(Some(check_phone(phone)?));
    }
    Ok(row.update(conn).await?)
}

/// Checks `password` against the user's hash, off the async threads.
pub async fn check_password(user: &User, password: &str) -> Result<()> {
    let hash = user.password_hash.clone();
    let password = Zeroizing::new(password.to_owned());
    let ok = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(Error::WrongPassword {
            login: user.login.clone(),
        })
    }
}

/// The argon2id hash of `password` (PHC string), off the async threads.
pub async fn hash_password(password: Zeroizing<String>) -> Result<String> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(Error::Invalid {
            field: "password",
            value: "(hidden)".into(),
            remedy: format!("use at least {MIN_PASSWORD} characters"),
        });
    }
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
    })
    .await
    .map_err(|e| {
        Error::Db(sea_orm::DbErr::Custom(format!(
            "password hashing stopped: {e}"
        )))
    })?
    .map_err(|e| Error::Invalid {
        field: "password",
        value: "(hidden)".into(),
        remedy: format!("it cannot be hashed: {e}"),
    })
}

/// A login: 1 to 64 lower-case letters, digits, `.`, `_` or `-`, starting
/// with a letter or digit.
pub fn check_login(login: &str) -> Result<String> {
    let ok = !login.is_empty()
        && login.len() <= 64
        && login.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && login
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(login.to_owned())
    } else {
        Err(invalid(
            "login",
            login,
            "use 1 to 64 lower-case letters, digits, `.`, `_` or `-`",
        ))
    }
}

/// A full name: 1 to 200 characters, no control characters; spaces trimmed.
pub fn check_name(name: &str) -> Result<String> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(invalid(
            "full name",
            &name,
            "give 1 to 200 printable characters",
        ));
    }
    Ok(name)
}

/// An e-mail address such as `ann@example.com`, lower-cased domain.
pub fn check_email(email: &str) -> Result<String> {
    let email = email.trim();
    let remedy = "give an address such as ann@example.com";
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(invalid("e-mail", email, remedy));
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && domain.len() <= 253
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok {
        Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
    } else {
        Err(invalid("e-mail", email, remedy))
    }
}

/// A phone number in international form: `+`, then 8 to 15 digits; spaces,
/// dashes, dots and parentheses are dropped.
pub fn check_phone(phone: &str) -> Result<String> {
    let compact: String = phone
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = compact.strip_prefix('+').unwrap_or("");
    let ok = (8..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(compact)
    } else {
        Err(invalid(
            "phone",
            phone,
            "give it in international form, such as +44 20 7946 0958",
        ))
    }
}

fn invalid(field: &'static str, value: &str, remedy: &str) -> Error {
    Error::Invalid {
        field,
        value: value.to_owned(),
        remedy: remedy.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked() {
        assert_eq!(
            check_email("Ann.Lee@Example.COM").expect("valid"),
            "Ann.Lee@example.com"
        );
        for bad in [
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@x.org",
            "a@x..org",
        ] {
            assert!(check_email(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn phones_are_checked_and_compacted() {
        assert_eq!(
            check_phone("+44 20 7946-0958").expect("valid"),
            "+442079460958"
        );
        for bad in [
            "0044207946",
            "+12",
            "+4420794609581234",
            "+44 20 abc",
            "12345678",
        ] {
            assert!(check_phone(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn logins_are_checked() {
        assert!(check_login("ann.lee-2").is_ok());
        for bad in ["", "Ann", "-ann", "ann lee", "ann/lee"] {
            assert!(check_login(bad).is_err(), "{bad:?} accepted");
        }
    }
}
