//! `sesflow verify`: check a signature file and say which check failed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use sesflow_activities::ses::verify::{self, Inputs, Report};
use sesflow_activities::ses::{Document, NOTICE};

use super::sign::split_item;
use super::{finish, now, open, Output};

/// Verify a signature of a file or an app item.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The file that was signed.
    #[arg(
        long,
        conflicts_with = "app_item",
        required_unless_present = "app_item"
    )]
    pub file: Option<PathBuf>,
    /// The app item that was signed, as APP/ID.
    #[arg(long)]
    pub app_item: Option<String>,
    /// The signature file.
    #[arg(long)]
    pub sig: PathBuf,
    /// Verify offline against this CA certificate (PEM) instead of the store.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// With --ca, check revocation against this CRL (PEM or DER).
    #[arg(long, requires = "ca")]
    pub crl: Option<PathBuf>,
    /// Output.
    #[command(flatten)]
    pub output: Output,
}

/// Runs `sesflow verify`.
pub async fn run(db: &str, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let signature = std::fs::read(&args.sig)
        .with_context(|| format!("cannot read the signature file {}", args.sig.display()))?;
    let report = match (&args.ca, &args.file) {
        (Some(ca), Some(file)) => offline(ca, args.crl.as_ref(), file, &signature)?,
        _ => {
            let ses = open(db).await?;
            let result = async {
                match (&args.file, &args.app_item) {
                    (Some(file), _) => {
                        let document = Document::file(file)?;
                        ses.verify_document(&document, &signature, now()).await
                    }
                    (None, Some(item)) => {
                        let (app, id) = split_item(item)?;
                        ses.verify_app_item(&app, &id, &signature, now()).await
                    }
                    (None, None) => Err(sesflow_activities::Error::Invalid {
                        field: "document",
                        value: String::new(),
                        remedy: "give --file PATH or --app-item APP/ID".into(),
                    }),
                }
            };
            match result.await {
                Ok(report) => report,
                Err(error) => return finish(Err(error)),
            }
        }
    };
    args.output.print(&report, describe);
    Ok(if report.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn offline(
    ca: &Path,
    crl: Option<&PathBuf>,
    file: &Path,
    signature: &[u8],
) -> anyhow::Result<Report> {
    let ca_pem = std::fs::read_to_string(ca)
        .with_context(|| format!("cannot read the CA certificate {}", ca.display()))?;
    let ca_der =
        pem_body(&ca_pem).with_context(|| format!("{} is not a PEM certificate", ca.display()))?;
    let revocations = match crl {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read the CRL {}", path.display()))?;
            Some(
                verify::revocations_from_crl(&bytes, &ca_der)
                    .map_err(|e| anyhow::anyhow!("CRL {}: {e}", path.display()))?,
            )
        }
        None => None,
    };
    let document = Document::file(file)?;
    let inputs = Inputs {
        ca_der: &ca_der,
        revocations: revocations.as_ref(),
        document: &document,
        changed_since: None,
        now: now(),
    };
    Ok(verify::verify(signature, &inputs))
}

fn pem_body(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return None;
    }
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .ok()
}

fn describe(report: &Report) -> String {
    let mut text = String::new();
    if let Some(record) = &report.record {
        text.push_str(&format!(
            "signature of {} by {} ({}) at {}, certificate {}, method {}\n",
            record.target,
            record.signer.full_name,
            record.signer.login,
            record.signed_at,
            record.serial,
            record.method
        ));
    }
    for check in &report.checks {
        let mark = match check.passed {
            Some(true) => "ok",
            Some(false) => "FAILED",
            None => "not run",
        };
        text.push_str(&format!("  {:<20} {mark}\n", check.name));
    }
    match &report.failure {
        None => text.push_str("VALID\n"),
        Some(failure) => text.push_str(&format!("INVALID: {failure}\n")),
    }
    for note in &report.notes {
        text.push_str(&format!("note: {note}\n"));
    }
    text.push_str(&format!("note: {NOTICE}\n"));
    text
}
