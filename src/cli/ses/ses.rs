//! `sesflow ses`: turn the module on and off, and set its options.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use sesflow_activities::notify::{EmailVia, SmsVia};
use sesflow_activities::ses::settings::{self, Approval, Settings};
use sesflow_activities::ses::NOTICE;

use super::{finish, now, open, Output};

/// Users with no certificate above which enabling shows a progress bar.
const PROGRESS_FROM: u64 = 20;

/// The SES module's settings.
#[derive(Debug, Args)]
pub struct SesArgs {
    /// The action.
    #[command(subcommand)]
    pub command: SesCommand,
}

/// Actions on the module.
#[derive(Debug, Subcommand)]
pub enum SesCommand {
    /// Turn the module on.
    Enable {
        /// Require a one-time code when signing (the company settings must
        /// have two-factor set up).
        #[arg(long)]
        two_factor: bool,
        /// Issue a certificate to every user, existing and new.
        #[arg(long)]
        auto_certificates: bool,
    },
    /// Turn the module off; its data stays.
    Disable,
    /// Show the settings.
    Status {
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Change the certificate validity or the approval of requests.
    Set {
        /// Days a new certificate is valid.
        #[arg(long)]
        validity_days: Option<u32>,
        /// Who decides requests that pass the checks: auto or manual.
        #[arg(long)]
        approval: Option<String>,
    },
    /// Choose how codes are delivered.
    Delivery {
        /// E-mail through `outbox` or `smtp`.
        #[arg(long)]
        email: Option<String>,
        /// The SMTP server: smtp://host:port, smtp://host:port?tls=required,
        /// smtps://host:port, with optional user:password@.
        #[arg(long)]
        smtp_url: Option<String>,
        /// The sender address of e-mail.
        #[arg(long)]
        smtp_from: Option<String>,
        /// SMS through `outbox` or `http`.
        #[arg(long)]
        sms: Option<String>,
        /// The gateway URL; {to} and {text} are replaced.
        #[arg(long)]
        sms_url: Option<String>,
        /// The JSON body posted; {to} and {text} are replaced.
        #[arg(long)]
        sms_body: Option<String>,
    },
}

/// Runs `sesflow ses`.
pub async fn run(db: &str, args: SesArgs) -> anyhow::Result<ExitCode> {
    let ses = open(db).await?;
    let result = async {
        let settings = match args.command {
            SesCommand::Enable {
                two_factor,
                auto_certificates,
            } => {
                let bar = ProgressBar::hidden();
                let progress = |done: u64, total: u64| {
                    if total >= PROGRESS_FROM && bar.is_hidden() {
                        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                        bar.set_length(total);
                        bar.set_style(
                            ProgressStyle::with_template("issuing {bar:40} {pos}/{len} {eta}")
                                .unwrap_or_else(|_| ProgressStyle::default_bar()),
                        );
                    }
                    bar.set_position(done);
                };
                let (settings, decisions) = ses
                    .enable(two_factor, auto_certificates, now(), &progress)
                    .await?;
                bar.finish_and_clear();
                report_issued(&decisions);
                settings
            }
            SesCommand::Disable => settings::disable(ses.db(), now()).await?,
            SesCommand::Status { output } => {
                let settings = settings::load(ses.db()).await?;
                output.print(&settings, describe);
                return Ok(ExitCode::SUCCESS);
            }
            SesCommand::Set {
                validity_days,
                approval,
            } => set(&ses, validity_days, approval).await?,
            SesCommand::Delivery {
                email,
                smtp_url,
                smtp_from,
                sms,
                sms_url,
                sms_body,
            } => {
                let mut settings = settings::load(ses.db()).await?;
                if let Some(via) = email {
                    settings.delivery.email = email_via(&via, smtp_url, smtp_from)?;
                }
                if let Some(via) = sms {
                    settings.delivery.sms = sms_via(&via, sms_url, sms_body)?;
                }
                settings::save(ses.db(), &settings, now()).await?;
                settings
            }
        };
        print!("{}", describe(&settings));
        Ok(ExitCode::SUCCESS)
    };
    finish(result.await)
}

async fn set(
    ses: &sesflow_activities::ses::Ses,
    validity_days: Option<u32>,
    approval: Option<String>,
) -> sesflow_activities::Result<Settings> {
    let mut settings = settings::load(ses.db()).await?;
    if let Some(days) = validity_days {
        if !(1..=3650).contains(&days) {
            return Err(invalid(
                "validity days",
                &days.to_string(),
                "give 1 to 3650",
            ));
        }
        settings.validity_days = days;
    }
    if let Some(approval) = approval {
        settings.approval = approval.parse::<Approval>()?;
    }
    settings::save(ses.db(), &settings, now()).await?;
    Ok(settings)
}

fn email_via(
    via: &str,
    url: Option<String>,
    from: Option<String>,
) -> sesflow_activities::Result<EmailVia> {
    match (via, url, from) {
        ("outbox", _, _) => Ok(EmailVia::Outbox),
        ("smtp", Some(url), Some(from)) => {
            sesflow_activities::users::check_email(&from)?;
            Ok(EmailVia::Smtp { url, from })
        }
        ("smtp", _, _) => Err(invalid(
            "email",
            via,
            "smtp needs --smtp-url and --smtp-from",
        )),
        _ => Err(invalid("email", via, "use outbox or smtp")),
    }
}

fn sms_via(
    via: &str,
    url: Option<String>,
    body: Option<String>,
) -> sesflow_activities::Result<SmsVia> {
    match (via, url) {
        ("outbox", _) => Ok(SmsVia::Outbox),
        ("http", Some(url)) if url.starts_with("http://") || url.starts_with("https://") => {
            Ok(SmsVia::Http { url, body })
        }
        ("http", url) => Err(invalid(
            "sms-url",
            url.as_deref().unwrap_or(""),
            "give the gateway's http:// or https:// URL with --sms-url",
        )),
        _ => Err(invalid("sms", via, "use outbox or http")),
    }
}

fn invalid(field: &'static str, value: &str, remedy: &str) -> sesflow_activities::Error {
    sesflow_activities::Error::Invalid {
        field,
        value: value.to_owned(),
        remedy: remedy.to_owned(),
    }
}

fn report_issued(decisions: &[sesflow_activities::certs::Decision]) {
    use sesflow_activities::certs::Decision;
    let issued = decisions
        .iter()
        .filter(|d| matches!(d, Decision::Issued { .. }))
        .count();
    if !decisions.is_empty() {
        eprintln!("issued {issued} certificate(s) of {}", decisions.len());
    }
    for decision in decisions {
        if let Decision::Rejected { reason, .. } = decision {
            eprintln!("not issued: {reason}");
        }
    }
}

fn describe(settings: &Settings) -> String {
    let onoff = |b: bool| if b { "on" } else { "off" };
    let email = match &settings.delivery.email {
        EmailVia::Outbox => "outbox".to_owned(),
        EmailVia::Smtp { url, from } => format!(
            "smtp {} from {from}",
            sesflow_activities::notify::smtp::redact(url)
        ),
    };
    let sms = match &settings.delivery.sms {
        SmsVia::Outbox => "outbox".to_owned(),
        SmsVia::Http { url, .. } => format!("http {url}"),
    };
    format!(
        "SES module: {}\ntwo-factor: {}\nautomatic certificates: {}\ncertificate validity: {} \
         days\napproval: {}\ne-mail codes: {email}\nSMS codes: {sms}\nnote: {NOTICE}\n",
        onoff(settings.enabled),
        onoff(settings.two_factor),
        onoff(settings.auto_certificates),
        settings.validity_days,
        settings.approval,
    )
}
