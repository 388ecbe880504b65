//! The seed's scenario through the binary on a real SQLite file: the module
//! on with two-factor and automatic certificates, a certificate issued
//! through the `ses-issuance` process by the worker, a file and an app item
//! signed with codes read from the outbox, both verified, the certificate
//! revoked, and both verifications failing.

mod signing_support;

use serde_json::Value;
use signing_support::{process_file, Cli};

/// Starts `ses-issuance` for `login` (replacing the certificate generated
/// automatically), completes the data task and runs the worker until idle.
/// Returns the instance id.
fn issue_through_the_process(cli: &Cli, login: &str, email: &str) -> String {
    let file = process_file("ses-issuance").display().to_string();
    cli.ok(&["deploy", &file]);
    let start = [
        "start",
        "ses-issuance",
        "--var",
        &format!("employee={login}"),
        "--var",
        "replace=true",
        "--initiator",
        "hr",
    ];
    let instance = cli.ok(&start).trim().to_owned();
    let task = cli.task_of("hr");
    let name = format!("full_name={} Example", signing_support::capitalized(login));
    let email = format!("email={email}");
    cli.ok(&["complete", &task, "--var", &name, "--var", &email]);
    assert_eq!(
        cli.show(&instance)["status"],
        "active",
        "waits for the service"
    );
    let (_, idle) = cli.expect(0, &["run", "--until-idle"], "");
    assert!(
        idle.contains("1 calls, 1 chore items, 1 deliveries"),
        "{idle}"
    );
    instance
}

/// Signs with the code the first step puts in the outbox.
fn sign_with_code(cli: &Cli, target: &[&str]) -> String {
    let mut args = vec!["sign", "--user", "ann", "--password-stdin"];
    args.extend_from_slice(target);
    let sent = cli.ok_with_password(&args);
    assert!(
        sent.contains("a code was sent to a***@example.com"),
        "{sent}"
    );
    let code = cli.code();
    args.extend(["--code", code.as_str()]);
    cli.ok_with_password(&args)
}

#[test]
fn issue_through_the_process_sign_verify_revoke() {
    let cli = Cli::new();
    let two_factor = ["security", "two-factor", "--enable", "--channels", "email"];
    cli.ok(&two_factor);
    cli.ok(&["ses", "enable", "--two-factor", "--auto-certificates"]);
    cli.add_user("ann", "ann@example.com");
    let automatic = cli.json(&["certs", "list", "--user", "ann"]);
    assert_eq!(automatic.as_array().map(Vec::len), Some(1), "{automatic}");

    let instance = issue_through_the_process(&cli, "ann", "ann@example.com");
    let shown = cli.show(&instance);
    assert_eq!(shown["status"], "completed", "{shown}");
    assert_eq!(
        shown["outcome"],
        Value::Null,
        "the `done` end has no outcome"
    );
    let certificate = &shown["variables"]["certificate"];
    let serial = certificate["serial"].as_str().expect("a serial").to_owned();
    assert_eq!(certificate["login"], "ann");
    assert_eq!(certificate["email"], "ann@example.com");
    let listed = cli.json(&["certs", "list", "--user", "ann"]);
    let statuses: Vec<(&str, &str)> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| {
            (
                c["serial"].as_str().unwrap_or(""),
                c["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(statuses.len(), 2, "{listed}");
    assert!(statuses.contains(&(serial.as_str(), "valid")), "{listed}");
    assert_eq!(
        statuses
            .iter()
            .filter(|(_, status)| *status == "revoked")
            .count(),
        1,
        "the automatic certificate is superseded: {listed}"
    );

    let agreement = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/agreement.txt");
    std::fs::copy(agreement, cli.path("agreement.txt")).expect("the example file copies");
    let signed = sign_with_code(&cli, &["--file", "agreement.txt"]);
    assert!(
        signed.contains(&format!("with certificate {serial}")),
        "{signed}"
    );
    cli.ok(&[
        "apps",
        "put",
        "hr",
        "contract-7",
        "--json",
        r#"{"salary": 5200}"#,
    ]);
    sign_with_code(
        &cli,
        &["--app-item", "hr/contract-7", "--out", "contract.sig"],
    );
    let verify_file = [
        "verify",
        "--file",
        "agreement.txt",
        "--sig",
        "agreement.txt.sig",
    ];
    let verify_item = [
        "verify",
        "--app-item",
        "hr/contract-7",
        "--sig",
        "contract.sig",
    ];
    for verify in [&verify_file, &verify_item] {
        let (valid, _) = cli.expect(0, verify, "");
        assert!(
            valid.contains("VALID") && valid.contains(&serial),
            "{valid}"
        );
    }

    cli.ok(&["certs", "revoke", &serial, "--reason", "key-compromise"]);
    for verify in [&verify_file, &verify_item] {
        let (report, _) = cli.expect(1, verify, "");
        assert!(
            report.contains("revoked") && report.contains("key-compromise"),
            "{report}"
        );
    }
    let refused = cli.expect(
        1,
        &[
            "sign",
            "--user",
            "ann",
            "--file",
            "agreement.txt",
            "--password-stdin",
        ],
        &format!("{}\n", signing_support::PASSWORD),
    );
    assert!(
        refused.1.contains("holds no valid SES certificate") && refused.1.contains("ses-issuance"),
        "without a certificate signing says how to get one: {}",
        refused.1
    );
}
