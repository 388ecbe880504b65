//! `sesflow certs`: requests, certificates, revocation and export.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use sesflow_activities::certs::{self, Decision, Info, Origin, Reason, Request};
use sesflow_activities::ses::NOTICE;

use super::{finish, now, open, show_time, write_atomic, Output};

/// Certificates and certificate requests.
#[derive(Debug, Args)]
pub struct CertsArgs {
    /// The action.
    #[command(subcommand)]
    pub command: CertsCommand,
}

/// Actions on certificates.
#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// List certificates.
    List {
        /// Only those of this user.
        #[arg(long)]
        user: Option<String>,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Show one certificate.
    Show {
        /// The serial number (hex).
        serial: String,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Revoke a certificate.
    Revoke {
        /// The serial number (hex).
        serial: String,
        /// unspecified, key-compromise, affiliation-changed, superseded,
        /// cessation-of-operation or privilege-withdrawn.
        #[arg(long)]
        reason: String,
    },
    /// Print a certificate in PEM (never its key).
    Export {
        /// The serial number (hex).
        serial: String,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Ask the service for a certificate for a user and process it.
    Request {
        /// The user's login.
        login: String,
        /// Replace the user's valid certificate.
        #[arg(long)]
        replace: bool,
        /// The request key that makes a repeated request one (default: new).
        #[arg(long)]
        key: Option<String>,
    },
    /// List requests waiting for a decision.
    Requests {
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Check and decide every pending request now.
    Process,
    /// Approve a pending request (with manual approval).
    Approve {
        /// The request id.
        id: String,
    },
    /// Reject a pending request.
    Reject {
        /// The request id.
        id: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
}

/// Prints how a request was decided, to stderr.
pub fn print_decision(decision: &Decision) {
    match decision {
        Decision::Issued {
            request_id,
            certificate,
        } => eprintln!(
            "request {request_id}: issued certificate {} to {} valid until {}",
            certificate.serial,
            certificate.login,
            show_time(certificate.not_after)
        ),
        Decision::Rejected { request_id, reason } => {
            eprintln!("request {request_id}: rejected: {reason}")
        }
        Decision::Pending { request_id } => {
            eprintln!(
                "request {request_id}: waits for approval (`sesflow certs approve {request_id}`)"
            )
        }
    }
}

fn line(info: &Info) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\n",
        info.serial,
        info.login,
        info.status,
        show_time(info.not_after),
        info.subject
    )
}

fn details(info: &Info) -> String {
    let mut text = format!(
        "serial:      {}\nholder:      {}\nsubject:     {}\ne-mail:      {}\nissuer:      {}\n\
         valid from:  {}\nvalid until: {}\nstatus:      {}\nsha-256:     {}\n",
        info.serial,
        info.login,
        info.subject,
        info.email.as_deref().unwrap_or("-"),
        info.issuer,
        show_time(info.not_before),
        show_time(info.not_after),
        info.status,
        info.fingerprint_sha256,
    );
    if let (Some(at), Some(reason)) = (info.revoked_at, &info.revocation_reason) {
        text.push_str(&format!("revoked:     {} ({reason})\n", show_time(at)));
    }
    text.push_str(&format!("note:        {NOTICE}\n"));
    text
}

/// Runs `sesflow certs`.
pub async fn run(db: &str, args: CertsArgs) -> anyhow::Result<ExitCode> {
    let ses = open(db).await?;
    let service = ses.certs();
    let result = async {
        match args.command {
            CertsCommand::List { user, output } => {
                let infos: Vec<Info> = service
                    .list(user.as_deref())
                    .await?
                    .iter()
                    .map(|c| Info::of(c, now()))
                    .collect();
                output.print(&infos, |infos| infos.iter().map(line).collect());
            }
            CertsCommand::Show { serial, output } => {
                let info = Info::of(&service.get(&serial).await?, now());
                output.print(&info, details);
            }
            CertsCommand::Revoke { serial, reason } => {
                let reason: Reason = reason.parse()?;
                let cert = service.revoke(&serial, reason, now()).await?;
                eprintln!(
                    "revoked certificate {} of {} ({reason})",
                    cert.serial, cert.login
                );
            }
            CertsCommand::Export { serial, out } => {
                let cert = service.get(&serial).await?;
                let pem = certs::ca::pem_of("CERTIFICATE", &cert.certificate);
                emit(out, &pem)?;
            }
            CertsCommand::Request {
                login,
                replace,
                key,
            } => return request(service, login, replace, key).await,
            CertsCommand::Requests { output } => requests(service, output).await?,
            CertsCommand::Process => {
                for decision in service.process_pending(now()).await? {
                    print_decision(&decision);
                }
            }
            CertsCommand::Approve { id } => print_decision(&service.approve(&id, now()).await?),
            CertsCommand::Reject { id, reason } => {
                print_decision(&service.reject(&id, &reason, now()).await?)
            }
        }
        Ok(ExitCode::SUCCESS)
    };
    finish(result.await.map_err(|e: certs::Error| e.into()))
}

fn decision_id(decision: &Decision) -> &str {
    match decision {
        Decision::Issued { request_id, .. }
        | Decision::Rejected { request_id, .. }
        | Decision::Pending { request_id } => request_id,
    }
}

fn exit_of(decision: &Decision) -> ExitCode {
    match decision {
        Decision::Rejected { .. } => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    }
}

/// Writes `text` to `out`, or prints it.
pub fn emit(out: Option<PathBuf>, text: &str) -> Result<(), certs::Error> {
    match out {
        Some(path) => write_atomic(&path, text).map_err(|e| certs::Error::X509(format!("{e:#}"))),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

async fn request(
    service: &certs::Service,
    login: String,
    replace: bool,
    key: Option<String>,
) -> Result<ExitCode, certs::Error> {
    let request = Request {
        key: key.unwrap_or_else(|| format!("operator/{}", uuid::Uuid::now_v7())),
        login,
        full_name: None,
        email: None,
        phone: None,
        replace,
        origin: Origin::Operator,
    };
    let id = service.submit(&request, now()).await?;
    for decision in service.process_pending(now()).await? {
        if decision_id(&decision) == id {
            print_decision(&decision);
            return Ok(exit_of(&decision));
        }
    }
    print_decision(&Decision::Pending { request_id: id });
    Ok(ExitCode::SUCCESS)
}

async fn requests(service: &certs::Service, output: Output) -> Result<(), certs::Error> {
    let pending = service.pending().await?;
    let views: Vec<serde_json::Value> = pending
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id, "login": r.login, "full_name": r.full_name,
                "email": r.email, "phone": r.phone, "replace": r.replace,
                "origin": r.origin,
            })
        })
        .collect();
    output.print(&views, |_| {
        pending
            .iter()
            .map(|r| format!("{}\t{}\t{}\n", r.id, r.login, r.origin))
            .collect()
    });
    Ok(())
}
