//! `processes/document-approval.yaml` end to end through the binary: two
//! reviewers in parallel, then the approver signs the document with a code
//! read from the outbox, and the signature verifies. Also: a signing task
//! cannot be completed without a signature, nor signed by someone else, a
//! changed file or a signer without a certificate is refused with the
//! remedy, and a refusal with a comment takes `on_rejected`.

mod signing_support;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use signing_support::{process_file, Cli, PASSWORD};

/// The module with two-factor by e-mail, the approval process, and users:
/// `ann` with a certificate, `carl` without one.
fn setup() -> Cli {
    let cli = Cli::new();
    cli.ok(&["security", "two-factor", "--enable", "--channels", "email"]);
    cli.ok(&["ses", "enable", "--two-factor"]);
    cli.add_user("ann", "ann@example.com");
    cli.add_user("carl", "carl@example.com");
    cli.ok(&["certs", "request", "ann"]);
    cli.ok(&[
        "deploy",
        &process_file("document-approval").display().to_string(),
    ]);
    let agreement = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/agreement.txt");
    std::fs::copy(agreement, cli.path("contract.txt")).expect("the example file copies");
    cli
}

/// Starts an approval of `document` signed by `approver`.
fn start(cli: &Cli, document: &str, approver: &str) -> String {
    let vars = [
        "author=bob".to_owned(),
        format!("document={document}"),
        "legal_reviewer=lena".to_owned(),
        "finance_reviewer=finn".to_owned(),
        format!("approver={approver}"),
    ];
    let mut args = vec!["start", "document-approval"];
    for var in &vars {
        args.extend(["--var", var.as_str()]);
    }
    cli.ok(&args).trim().to_owned()
}

/// Both reviewers approve `instance`; their tasks are open side by side.
fn review(cli: &Cli, instance: &str) {
    let shown = cli.show(instance);
    let mut open: Vec<&str> = shown["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|task| task["node"].as_str().unwrap_or(""))
        .collect();
    open.sort_unstable();
    assert_eq!(
        open,
        ["finance-review", "legal-review"],
        "in parallel: {shown}"
    );
    let legal = task_at(&shown, "legal-review");
    cli.ok(&[
        "complete",
        &legal,
        "--var",
        "legal_ok=true",
        "--var",
        "legal_notes=fine",
    ]);
    let halfway = cli.show(instance);
    assert_eq!(
        halfway["joins"]["reviewed"],
        json!({"legal-review": 1}),
        "{halfway}"
    );
    let finance = task_at(&halfway, "finance-review");
    cli.ok(&["complete", &finance, "--var", "finance_ok=true"]);
}

/// The id of the open task at `node` in a shown instance.
fn task_at(shown: &Value, node: &str) -> String {
    let tasks = shown["tasks"].as_array().expect("tasks");
    let task = tasks.iter().find(|task| task["node"] == node);
    let task = task.unwrap_or_else(|| panic!("no task at {node}: {shown}"));
    task["id"].as_str().expect("an id").to_owned()
}

/// The signing task of `instance`, checked to be `approver`'s.
fn signing_task(cli: &Cli, instance: &str, approver: &str) -> String {
    let shown = cli.show(instance);
    let task = task_at(&shown, "sign");
    let tasks = cli.tasks(Some(approver));
    let listed = tasks
        .iter()
        .find(|t| t["id"] == task.as_str())
        .expect("listed");
    assert_eq!(listed["kind"], "sign");
    task
}

fn refused(cli: &Cli, args: &[&str], stdin: &str) -> String {
    cli.expect(1, args, stdin).1
}

#[test]
fn two_reviewers_in_parallel_then_the_approver_signs() {
    let cli = setup();
    let document = cli.path("contract.txt");
    let instance = start(&cli, &document, "ann");
    review(&cli, &instance);
    let task = signing_task(&cli, &instance, "ann");

    let unsigned = refused(&cli, &["complete", &task], "");
    assert!(
        unsigned.contains("is a signing")
            && unsigned.contains(&format!("sesflow sign --task {task}")),
        "{unsigned}"
    );
    let forged = r#"signature={"signer": {"login": "ann"}}"#;
    let forged = refused(&cli, &["complete", &task, "--var", forged], "");
    assert!(
        forged.contains("`complete` does not take signings"),
        "{forged}"
    );
    let password = format!("{PASSWORD}\n");
    let other = [
        "sign",
        "--task",
        &task,
        "--user",
        "carl",
        "--password-stdin",
    ];
    let other = refused(&cli, &other, &password);
    assert!(
        other.contains("is for `ann` to sign, not for `carl`"),
        "{other}"
    );

    let first = ["sign", "--task", &task, "--password-stdin"];
    let sent = cli.ok_with_password(&first);
    assert!(
        sent.contains("a code was sent to a***@example.com"),
        "{sent}"
    );
    assert_eq!(
        cli.show(&instance)["status"],
        "active",
        "a code alone signs nothing"
    );
    let code = cli.code();
    let second = ["sign", "--task", &task, "--password-stdin", "--code", &code];
    let signed = cli.ok_with_password(&second);
    assert!(
        signed.contains("signed file contract.txt as Ann Example"),
        "{signed}"
    );
    assert!(
        signed.contains(&format!("instance {instance} is completed")),
        "{signed}"
    );

    let shown = cli.show(&instance);
    assert_eq!(shown["outcome"], "approved", "{shown}");
    let signature = &shown["variables"]["signature"];
    let content = std::fs::read(&document).expect("the document reads");
    assert_eq!(
        signature["digest"]["value"],
        hex::encode(Sha256::digest(&content))
    );
    assert_eq!(signature["signer"]["login"], "ann");
    assert_eq!(signature["method"], "password+code:email");
    let verify = [
        "verify",
        "--file",
        "contract.txt",
        "--sig",
        "contract.txt.sig",
    ];
    let (report, _) = cli.expect(0, &verify, "");
    assert!(report.contains("VALID"), "{report}");
    let sig_file = std::fs::read_to_string(cli.path("contract.txt.sig")).expect("sig file");
    let on_file: Value = serde_json::from_str(&sig_file).expect("a record");
    assert_eq!(
        &on_file, signature,
        "the task's output is the record on file"
    );
}

#[test]
fn a_refusal_a_changed_file_and_a_signer_without_certificate() {
    let cli = setup();
    let path = cli.path("contract.txt");
    let content = std::fs::read(&path).expect("the document reads");
    let pinned = json!({ "path": path, "sha256": hex::encode(Sha256::digest(&content)) });
    let instance = start(&cli, &pinned.to_string(), "ann");
    review(&cli, &instance);
    let task = signing_task(&cli, &instance, "ann");
    let password = format!("{PASSWORD}\n");

    std::fs::write(&path, b"a different contract").expect("the file changes");
    let sign = ["sign", "--task", &task, "--password-stdin"];
    let changed = refused(&cli, &sign, &password);
    assert!(
        changed.contains("changed since it was attached"),
        "{changed}"
    );
    std::fs::write(&path, &content).expect("the file is restored");

    let reject = [
        "sign",
        "--task",
        &task,
        "--reject",
        "--comment",
        "clause 2 is too broad",
        "--password-stdin",
    ];
    let wrong = refused(&cli, &reject, "not the password\n");
    assert!(wrong.contains("wrong password for `ann`"), "{wrong}");
    assert_eq!(cli.show(&instance)["status"], "active");
    cli.ok_with_password(&reject);
    let shown = cli.show(&instance);
    assert_eq!(shown["outcome"], "unsigned", "on_rejected taken: {shown}");
    let refusal = &shown["variables"]["signature"];
    assert_eq!(refusal["status"], "refused");
    assert_eq!(refusal["comment"], "clause 2 is too broad");
    let audit = cli.ok(&["audit"]);
    assert!(audit.contains("signing.refused"), "{audit}");

    let second = start(&cli, &path, "carl");
    review(&cli, &second);
    let task = signing_task(&cli, &second, "carl");
    let sign = ["sign", "--task", &task, "--password-stdin"];
    let none = refused(&cli, &sign, &password);
    assert!(
        none.contains("`carl` holds no valid SES certificate") && none.contains("ses-issuance"),
        "signing without a certificate says how to get one: {none}"
    );
}
