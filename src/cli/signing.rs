//! Where processes meet the SES module: the activities every engine of
//! this binary serves, and `sesflow sign --task`, which signs (or refuses)
//! the document of a process's signing task and completes the task.

use std::process::ExitCode;

use sea_orm::DatabaseConnection;
use sesflow_activities::nodes::sign::{self, Signed, Signing};
use sesflow_activities::{Keys, Module};
use sesflow_engine::activity::Registry;
use sesflow_engine::{Config, Engine};

use super::ses::sign::{default_out, print_code_sent, print_signed, prompt_code, SignArgs};
use super::ses::{now, read_password, write_atomic, Staged};

/// The activities of the SES module over `db` (its tables brought up to
/// date): the signature node kinds and the certificate service, so that
/// `sesflow run` issues certificates. The master key is read when first
/// needed.
pub async fn registry(db: &DatabaseConnection) -> anyhow::Result<Registry> {
    let mut registry = Registry::new();
    let module = Module::new(db.clone(), Keys::Load);
    sesflow_activities::register(&mut registry, &module).await?;
    Ok(registry)
}

/// Runs `sesflow sign --task TASK`: signs the task's document as its
/// assignee and completes the task, or with `--reject` refuses it.
pub async fn sign_task(url: &str, args: SignArgs) -> anyhow::Result<ExitCode> {
    let db = sesflow_engine::store::open(url).await?;
    sesflow_activities::store::migrate(&db).await?;
    let keys = sesflow_activities::certs::load_key(&db).await?;
    let module = Module::new(db.clone(), Keys::Given(keys));
    let engine = Engine::new(db.clone(), registry(&db).await?, Config::default());
    let ses = module.ses()?;
    let password = read_password(args.password_stdin)?;
    let signing = Signing {
        task: args.task.as_deref().unwrap_or_default(),
        login: args.user.as_deref(),
        password: &password,
        code: args.code.as_deref(),
    };
    if args.reject {
        let comment = args.comment.as_deref().unwrap_or_default();
        return match sign::refuse(&engine, &ses, signing, comment, now()).await {
            Ok((task, status)) => {
                eprintln!(
                    "{} refused to sign `{}`; task {} completed, instance {} is {}",
                    task.signer,
                    task.variable,
                    task.id,
                    task.instance_id,
                    status.name()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(error) => finish(error),
        };
    }
    let staged = args.out.as_deref().map(Staged::for_path).transpose()?;
    let interactive = !args.password_stdin && args.code.is_none();
    let mut result = sign::sign(&engine, &ses, signing, now()).await;
    if let (Ok((_, Signed::CodeSent(sent))), true) = (&result, interactive) {
        let code = prompt_code(sent)?;
        let again = Signing {
            code: Some(&code),
            ..signing
        };
        result = sign::sign(&engine, &ses, again, now()).await;
    }
    let (assignment, signed) = match result {
        Ok(done) => done,
        Err(error) => return finish(error),
    };
    match signed {
        Signed::CodeSent(sent) => print_code_sent(&args.output, &sent),
        Signed::Done { record, status } => {
            let out = args
                .out
                .unwrap_or_else(|| default_out(&assignment.path, &record));
            match staged {
                Some(staged) => staged.commit(&out, &record.to_file())?,
                None => write_atomic(&out, &record.to_file())?,
            }
            print_signed(&args.output, &record, &out);
            eprintln!(
                "task {} completed; instance {} is {}",
                assignment.task.id,
                assignment.task.instance_id,
                status.name()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Input errors print their message and code and exit with 1; others go up.
fn finish(error: sign::Error) -> anyhow::Result<ExitCode> {
    if error.is_input() {
        eprintln!("error: {error} [{}]", error.code());
        return Ok(ExitCode::from(1));
    }
    Err(error.into())
}
