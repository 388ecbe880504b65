//! Embedding sesflow in a program: an engine on an SQLite file with the SES
//! module plugged in, the shipped issuance process deployed, one employee
//! issued a certificate through it, and a file signed with it.
//!
//! Run it with `cargo run --example embed`; it works in a temporary folder
//! and prints each step.

use serde_json::json;
use sesflow_activities::certs::keys::MasterKey;
use sesflow_activities::ses::{settings, Document, Step};
use sesflow_activities::users::NewUser;
use sesflow_activities::{Keys, Module};
use sesflow_engine::activity::Registry;
use sesflow_engine::{Config, Engine};
use zeroize::Zeroizing;

const ISSUANCE: &str = include_str!("../processes/ses-issuance.yaml");
const AGREEMENT: &[u8] = include_bytes!("agreement.txt");

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("sesflow-embed-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}", dir.join("sesflow.db").display());

    // the store, the SES module (with a key of its own here) and the engine
    let db = sesflow_engine::store::open(&url).await?;
    let module = Module::new(db.clone(), Keys::Given(MasterKey::generate()));
    let mut registry = Registry::new();
    sesflow_activities::register(&mut registry, &module).await?;
    let engine = Engine::new(db, registry, Config::default());
    let ses = module.ses()?;
    println!("store: {url}");

    // the module on, and an employee
    let now = chrono::Utc::now();
    settings::enable(ses.db(), false, false, now).await?;
    let employee = NewUser {
        login: "ann".into(),
        full_name: "Ann Example".into(),
        email: Some("ann@example.com".into()),
        phone: None,
        password: Zeroizing::new("correct horse battery".into()),
    };
    ses.add_user(employee, now).await?;
    println!("user ann added, SES module on");

    // the issuance process: start, fill the data task, let the worker run
    engine.deploy("ses-issuance.yaml", ISSUANCE).await?;
    let vars = vec![("employee".to_owned(), json!("ann"))];
    let started = engine
        .start("ses-issuance", None, vars, Some("hr".into()))
        .await?;
    let task = engine.tasks(Some("hr")).await?.remove(0);
    let data = vec![("full_name".to_owned(), json!("Ann Example"))];
    engine.complete(&task.id, data, false).await?;
    let done = engine.run_until_idle().await?;
    println!(
        "worker: {} call(s), {} certificate decision(s)",
        done.calls, done.chores
    );
    let view = engine.show(&started.id).await?;
    let serial = &view.variables["certificate"]["serial"];
    println!(
        "instance {} is {}: certificate {serial}",
        view.summary.id, view.summary.status
    );

    // a signature with the new certificate
    let path = dir.join("agreement.txt");
    std::fs::write(&path, AGREEMENT)?;
    let document = Document::file(&path)?;
    let step = ses
        .sign(
            "ann",
            "correct horse battery",
            &document,
            None,
            chrono::Utc::now(),
        )
        .await?;
    match step {
        Step::Signed(record) => println!("signed {} with {}", record.target, record.serial),
        Step::CodeSent(_) => println!("two-factor is on: a code was sent"),
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
