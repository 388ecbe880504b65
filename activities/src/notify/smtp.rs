//! E-mail through an SMTP server (lettre).

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{Error, Message};

/// Sends `message` through the SMTP server at `url` from `from`.
pub async fn send(url: &str, from: &str, message: &Message) -> Result<(), Error> {
    let server = redact(url);
    let smtp_error = |message: String| Error::Smtp {
        server: server.clone(),
        message,
    };
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|e| smtp_error(e.to_string()))?
        .timeout(Some(Duration::from_secs(20)))
        .build();
    let email = lettre::Message::builder()
        .from(mailbox(from)?)
        .to(mailbox(&message.to)?)
        .subject(message.subject.clone())
        .body(message.body.clone())
        .map_err(|e| smtp_error(e.to_string()))?;
    transport
        .send(email)
        .await
        .map_err(|e| smtp_error(e.to_string()))?;
    Ok(())
}

fn mailbox(address: &str) -> Result<Mailbox, Error> {
    address
        .parse()
        .map_err(|e: lettre::address::AddressError| Error::Address {
            address: address.to_owned(),
            message: e.to_string(),
        })
}

/// `url` without the password it may carry.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}
