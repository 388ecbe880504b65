//! What the signing tests share: an engine with the SES module's node kinds
//! and certificate service registered, on a manual clock; users; and the
//! binary driven in a folder of its own.

#![allow(
    dead_code,
    reason = "each test file uses a different part of the support"
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sesflow_activities::certs::keys::MasterKey;
use sesflow_activities::ses::{settings, Ses};
use sesflow_activities::users::NewUser;
use sesflow_activities::{security, Keys, Module};
use sesflow_engine::activity::Registry;
use sesflow_engine::driver::{ManualClock, TaskView};
use sesflow_engine::{Config, Engine};
use zeroize::Zeroizing;

/// The password of every test user.
pub const PASSWORD: &str = "correct horse battery";

/// An engine serving the SES module, and the module itself.
pub struct Signing {
    /// The engine, on a manual clock.
    pub engine: std::sync::Arc<Engine>,
    /// Its clock.
    pub clock: Arc<ManualClock>,
    /// The SES module on the same store.
    pub ses: Ses,
}

impl Signing {
    /// An engine on `url` with the module registered, at `now_ms`.
    pub async fn open(url: &str, now_ms: i64) -> Self {
        let db = sesflow_engine::store::open(url).await.expect("store opens");
        let module = Module::new(db.clone(), Keys::Given(MasterKey::generate()));
        let mut registry = Registry::new();
        sesflow_activities::register(&mut registry, &module)
            .await
            .expect("module registers");
        let clock = Arc::new(ManualClock::new(now_ms));
        let engine = std::sync::Arc::new(
            Engine::new(db, registry, Config::default()).with_clock(clock.clone()),
        );
        let ses = module.ses().expect("the given key");
        Self { engine, clock, ses }
    }

    /// The engine's clock as a time.
    pub fn now(&self) -> DateTime<Utc> {
        sesflow_activities::store::datetime(self.engine.now_ms())
    }

    /// Deploys `processes/NAME.yaml` or, failing that, `tests/processes/NAME.yaml`.
    pub async fn deploy(&self, name: &str) {
        let path = process_file(name);
        let source = std::fs::read_to_string(&path).expect("the schema reads");
        self.engine
            .deploy(&path.display().to_string(), &source)
            .await
            .unwrap_or_else(|error| panic!("{name} deploys: {error}"));
    }

    /// Turns the module on; with two-factor through e-mail when asked.
    pub async fn enable(&self, two_factor: bool) {
        if two_factor {
            security::enable_two_factor(self.ses.db(), &[security::Channel::Email], self.now())
                .await
                .expect("company two-factor");
        }
        settings::enable(self.ses.db(), two_factor, false, self.now())
            .await
            .expect("module enabled");
    }

    /// Adds a user with the test password.
    pub async fn add_user(&self, login: &str, email: Option<&str>) {
        let new = NewUser {
            login: login.into(),
            full_name: format!("{} Example", capitalized(login)),
            email: email.map(Into::into),
            phone: None,
            password: Zeroizing::new(PASSWORD.into()),
        };
        self.ses
            .add_user(new, self.now())
            .await
            .expect("user added");
    }

    /// The only open task of `instance`.
    pub async fn task(&self, instance: &str) -> TaskView {
        let view = self.engine.show(instance).await.expect("shows");
        assert_eq!(view.tasks.len(), 1, "one open task: {:?}", view.tasks);
        view.tasks[0].clone()
    }

    /// The variables of `instance` by name.
    pub async fn variables(&self, instance: &str) -> serde_json::Map<String, Value> {
        self.engine.show(instance).await.expect("shows").variables
    }
}

/// `login` with a capital first letter.
pub fn capitalized(login: &str) -> String {
    let mut chars = login.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The schema file `processes/NAME.yaml`, else `tests/processes/NAME.yaml`.
pub fn process_file(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shipped = root.join("processes").join(format!("{name}.yaml"));
    if shipped.exists() {
        return shipped;
    }
    root.join("tests/processes").join(format!("{name}.yaml"))
}

/// The binary, run in a folder of its own with its own database and key.
pub struct Cli {
    /// The folder.
    pub dir: tempfile::TempDir,
}

impl Cli {
    /// A fresh folder.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The database URL.
    pub fn db(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("sesflow.db").display())
    }

    /// A command for the binary with this folder's database and key.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sesflow"));
        command
            .args(args)
            .env("SESFLOW_DB", self.db())
            .env("SESFLOW_KEY_FILE", self.dir.path().join("master.key"))
            .env_remove("SESFLOW_MASTER_KEY")
            .env_remove("SESFLOW_LOOPBACK_ACTIVITY")
            .env_remove("RUST_LOG")
            .current_dir(self.dir.path());
        command
    }

    /// Runs with `stdin` and returns the output.
    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sesflow starts");
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(stdin.as_bytes()).expect("stdin written");
        drop(input);
        child.wait_with_output().expect("sesflow ends")
    }

    /// Runs and expects exit `code`; returns stdout and stderr.
    pub fn expect(&self, code: i32, args: &[&str], stdin: &str) -> (String, String) {
        let out = self.run(args, stdin);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert_eq!(
            out.status.code(),
            Some(code),
            "sesflow {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        (stdout, stderr)
    }

    /// Runs, expects success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.expect(0, args, "").0
    }

    /// Runs with the test password on stdin, expects success, returns
    /// stdout and stderr together.
    pub fn ok_with_password(&self, args: &[&str]) -> String {
        let (stdout, stderr) = self.expect(0, args, &format!("{PASSWORD}\n"));
        format!("{stdout}{stderr}")
    }

    /// Runs with `--format json` appended and parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.extend(["--format", "json"]);
        let stdout = self.ok(&args);
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    }

    /// A path in the folder.
    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// Adds user `login` with an e-mail address and the test password.
    pub fn add_user(&self, login: &str, email: &str) {
        let name = format!("{} Example", capitalized(login));
        let args = [
            "users",
            "add",
            login,
            "--name",
            &name,
            "--email",
            email,
            "--password-stdin",
        ];
        self.ok_with_password(&args);
    }

    /// The code of the latest message in the outbox.
    pub fn code(&self) -> String {
        let text = self.ok(&["outbox", "--last", "1"]);
        let start = text.find("code is ").expect("a code in the outbox") + "code is ".len();
        text[start..start + 6].to_owned()
    }

    /// Open tasks, of `assignee` when given.
    pub fn tasks(&self, assignee: Option<&str>) -> Vec<Value> {
        let mut args = vec!["tasks"];
        if let Some(assignee) = assignee {
            args.extend(["--assignee", assignee]);
        }
        self.json(&args)
            .as_array()
            .cloned()
            .expect("a list of tasks")
    }

    /// The only open task of `assignee`, by id.
    pub fn task_of(&self, assignee: &str) -> String {
        let tasks = self.tasks(Some(assignee));
        assert_eq!(tasks.len(), 1, "one task for {assignee}: {tasks:?}");
        tasks[0]["id"].as_str().expect("an id").to_owned()
    }

    /// `sesflow show INSTANCE` as JSON.
    pub fn show(&self, instance: &str) -> Value {
        self.json(&["show", instance])
    }
}
