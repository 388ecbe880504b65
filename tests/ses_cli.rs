//! The SES commands driven through the binary on a real SQLite file: the
//! operator's path from setup to a failed verification after revocation.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const PASSWORD: &str = "s3cret-pass";

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A store with two-factor by e-mail on and the user `ann` certified.
    fn ready() -> Self {
        let cli = Self::new();
        let channels = ["security", "two-factor", "--enable", "--channels", "email"];
        cli.expect(0, &channels, None);
        let enable = ["ses", "enable", "--two-factor", "--auto-certificates"];
        cli.expect(0, &enable, None);
        cli.add_ann();
        cli
    }

    /// Adds the user `ann` with an e-mail address; returns what was printed.
    fn add_ann(&self) -> String {
        let add = [
            "users",
            "add",
            "ann",
            "--name",
            "Ann Lee",
            "--email",
            "ann@example.com",
            "--password-stdin",
        ];
        self.expect(0, &add, Some(&format!("{PASSWORD}\n")))
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.run_env(&[], args, stdin)
    }

    /// Runs with the variables `env` set over the usual ones.
    fn run_env(&self, env: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> Output {
        let db = format!("sqlite://{}", self.dir.path().join("ses.db").display());
        let mut child = Command::new(env!("CARGO_BIN_EXE_sesflow"))
            .args(args)
            .env("SESFLOW_DB", db)
            .env("SESFLOW_KEY_FILE", self.dir.path().join("master.key"))
            .env_remove("SESFLOW_MASTER_KEY")
            .envs(env.iter().copied())
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sesflow starts");
        let mut input = child.stdin.take().expect("stdin");
        input
            .write_all(stdin.unwrap_or("").as_bytes())
            .expect("stdin");
        drop(input);
        child.wait_with_output().expect("sesflow ends")
    }

    /// Runs and expects `code`; returns stdout and stderr together.
    fn expect(&self, code: i32, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(code), "sesflow {args:?}:\n{text}");
        text
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn code(&self) -> String {
        let text = self.expect(0, &["outbox", "--last", "1"], None);
        let start = text.find("code is ").expect("a code in the outbox") + 8;
        text[start..start + 6].to_owned()
    }

    fn sign(&self, target: &[&str]) -> String {
        let password = format!("{PASSWORD}\n");
        let mut args = vec!["sign", "--user", "ann", "--password-stdin"];
        args.extend_from_slice(target);
        let sent = self.expect(0, &args, Some(&password));
        assert!(
            sent.contains("a code was sent to a***@example.com"),
            "{sent}"
        );
        let code = self.code();
        args.extend_from_slice(&["--code", &code]);
        self.expect(0, &args, Some(&password))
    }
}

#[test]
fn the_operator_path_from_setup_to_a_failed_verification() {
    let cli = Cli::new();
    let refused = cli.expect(1, &["ses", "enable", "--two-factor"], None);
    assert!(
        refused.contains("sesflow security two-factor --enable"),
        "{refused}"
    );
    cli.expect(
        0,
        &["security", "two-factor", "--enable", "--channels", "email"],
        None,
    );
    let status = cli.expect(
        0,
        &["ses", "enable", "--two-factor", "--auto-certificates"],
        None,
    );
    assert!(status.contains("two-factor: on") && status.contains("not fit for legally"));
    let bad = cli.expect(
        1,
        &[
            "users",
            "add",
            "bob",
            "--name",
            "Bob",
            "--email",
            "bob@",
            "--password-stdin",
        ],
        Some("whatever-pass\n"),
    );
    assert!(bad.contains("e-mail `bob@` is not valid"), "{bad}");
    let added = cli.add_ann();
    assert!(added.contains("issued certificate"), "{added}");

    std::fs::write(cli.path("offer.txt"), "an offer").expect("write");
    let signed = cli.sign(&["--file", "offer.txt"]);
    assert!(
        signed.contains("not fit for legally significant documents"),
        "{signed}"
    );
    assert!(Path::new(&cli.path("offer.txt.sig")).exists());
    let ok = cli.expect(
        0,
        &["verify", "--file", "offer.txt", "--sig", "offer.txt.sig"],
        None,
    );
    assert!(
        ok.contains("VALID") && ok.contains("not fit for legally"),
        "{ok}"
    );

    cli.expect(
        0,
        &["apps", "put", "deals", "9", "--json", r#"{"price": 10}"#],
        None,
    );
    cli.sign(&["--app-item", "deals/9", "--out", "deal.sig"]);
    let args = ["verify", "--app-item", "deals/9", "--sig", "deal.sig"];
    cli.expect(0, &args, None);
    cli.expect(
        0,
        &["apps", "put", "deals", "9", "--json", r#"{"price": 99}"#],
        None,
    );
    let changed = cli.expect(1, &args, None);
    assert!(changed.contains("changed in version 2"), "{changed}");
    let shown = cli.expect(0, &["apps", "get", "deals", "9"], None);
    assert!(shown.contains("no longer valid since version 2"), "{shown}");

    cli.expect(0, &["ca", "export", "--out", "ca.pem"], None);
    let offline = [
        "verify",
        "--file",
        "offer.txt",
        "--sig",
        "offer.txt.sig",
        "--ca",
        "ca.pem",
    ];
    cli.expect(0, &offline, None);
    let listed = cli.expect(0, &["certs", "list", "--user", "ann"], None);
    let serial = listed
        .split_whitespace()
        .next()
        .expect("a serial")
        .to_owned();
    cli.expect(
        0,
        &["certs", "revoke", &serial, "--reason", "key-compromise"],
        None,
    );
    let revoked = cli.expect(
        1,
        &["verify", "--file", "offer.txt", "--sig", "offer.txt.sig"],
        None,
    );
    assert!(
        revoked.contains("revoked") && revoked.contains("key-compromise"),
        "{revoked}"
    );
    cli.expect(0, &["ca", "crl", "--out", "ses.crl"], None);
    let mut with_crl = offline.to_vec();
    with_crl.extend_from_slice(&["--crl", "ses.crl"]);
    let crl_failed = cli.expect(1, &with_crl, None);
    assert!(crl_failed.contains("revoked"), "{crl_failed}");

    let history = cli.expect(0, &["signatures", "--user", "ann"], None);
    assert!(history.contains("file:offer.txt") && history.contains("app:deals/9"));
    let audit = cli.expect(0, &["audit"], None);
    for action in [
        "certificate.issued",
        "code.sent",
        "signature.created",
        "certificate.revoked",
    ] {
        assert!(audit.contains(action), "{action} missing:\n{audit}");
    }
    let mut truncated = std::fs::read(cli.path("deal.sig")).expect("read");
    truncated.truncate(truncated.len() / 3);
    std::fs::write(cli.path("cut.sig"), truncated).expect("write");
    let cut = cli.expect(
        1,
        &["verify", "--app-item", "deals/9", "--sig", "cut.sig"],
        None,
    );
    assert!(cut.contains("truncated or garbled"), "{cut}");
}

#[test]
fn wrong_input_is_named_with_its_remedy_and_exits_1() {
    let cli = Cli::new();
    let unknown = cli.expect(1, &["users", "show", "nobody"], None);
    assert!(unknown.contains("sesflow users add nobody"), "{unknown}");
    let reason = cli.expect(1, &["certs", "revoke", "00ff", "--reason", "bored"], None);
    assert!(reason.contains("key-compromise"), "{reason}");
    let item = cli.expect(1, &["apps", "put", "a", "1", "--json", "[1, 2]"], None);
    assert!(item.contains("JSON object"), "{item}");
    std::fs::write(cli.path("x.txt"), "x").expect("write");
    let off = cli.expect(
        1,
        &[
            "sign",
            "--user",
            "ann",
            "--file",
            "x.txt",
            "--password-stdin",
        ],
        Some("whatever\n"),
    );
    assert!(off.contains("sesflow ses enable"), "{off}");
}

/// Stdout and stderr of `out` together.
fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_wrong_or_missing_master_key_is_refused_before_a_code_is_sent() {
    let cli = Cli::ready();
    std::fs::write(cli.path("m2.txt"), "a memo").expect("write");
    let args = [
        "sign",
        "--user",
        "ann",
        "--file",
        "m2.txt",
        "--password-stdin",
    ];
    let password = format!("{PASSWORD}\n");
    let wrong_key = "11".repeat(32);
    let wrong = cli.run_env(
        &[("SESFLOW_MASTER_KEY", &wrong_key)],
        &args,
        Some(&password),
    );
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong));
    assert!(
        text(&wrong).contains("the store expects key"),
        "{}",
        text(&wrong)
    );
    let fresh = cli.path("elsewhere/master.key");
    let missing = cli.run_env(&[("SESFLOW_KEY_FILE", &fresh)], &args, Some(&password));
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    assert!(
        text(&missing).contains("does not exist"),
        "{}",
        text(&missing)
    );
    assert!(!Path::new(&fresh).exists(), "no new key file is made");
    let outbox = cli.expect(0, &["outbox"], None);
    assert!(!outbox.contains("code is"), "no code was sent: {outbox}");
    let signed = cli.sign(&["--file", "m2.txt"]);
    assert!(signed.contains("signed file m2.txt"), "{signed}");
}

#[test]
fn an_unwritable_out_path_leaves_the_code_unused_and_nothing_signed() {
    let cli = Cli::ready();
    std::fs::write(cli.path("h.txt"), "a handover").expect("write");
    let password = format!("{PASSWORD}\n");
    let mut args = vec![
        "sign",
        "--user",
        "ann",
        "--file",
        "h.txt",
        "--password-stdin",
    ];
    cli.expect(0, &args, Some(&password));
    let code = cli.code();
    args.extend_from_slice(&["--code", &code]);
    let mut bad = args.clone();
    bad.extend_from_slice(&["--out", "/nonexistent/h.sig"]);
    let refused = cli.run(&bad, Some(&password));
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("/nonexistent/h.sig"),
        "{}",
        text(&refused)
    );
    let listed = cli.expect(0, &["signatures"], None);
    assert!(!listed.contains("h.txt"), "nothing was signed: {listed}");
    let signed = cli.expect(0, &args, Some(&password));
    assert!(signed.contains("signed file h.txt"), "{signed}");
    assert!(Path::new(&cli.path("h.txt.sig")).exists());
    let left: Vec<_> = std::fs::read_dir(cli.dir.path())
        .expect("list")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}
