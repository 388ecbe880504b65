//! Every path of every recorded schema, driven through the real driver.

use serde_json::{json, Value};

use super::Bench;

/// One path through one schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// ses-issuance: the certificate is issued.
    SesIssued,
    /// ses-issuance: the service rejects the request.
    SesRejected,
    /// ses-issuance: no answer within three days.
    SesTimedOut,
    /// ses-issuance: the answer arrives before the wait begins.
    SesEarlyAnswer,
    /// ses-issuance: the request fails, an operator retries, it is issued.
    SesRetried,
    /// contract: a small amount, signed, archived after cooling off.
    ContractSmall,
    /// contract: the customer withdraws.
    ContractWithdrawn,
    /// contract: the manager approves a large amount.
    ContractApproved,
    /// contract: the manager declines.
    ContractDeclined,
    /// contract: escalated, the director approves, the manager refuses to sign.
    ContractEscalated,
    /// contract: nobody decides.
    ContractExpired,
    /// document-approval: both approve, signed.
    DocumentSigned,
    /// document-approval: revised once, then signed.
    DocumentRevised,
    /// document-approval: the author gives up.
    DocumentWithdrawn,
    /// document-approval: reviews and revision time out.
    DocumentLapsed,
    /// document-approval: not signed within a week.
    DocumentUnsigned,
    /// document-approval: the approver refuses to sign.
    DocumentRefused,
    /// expense: a small claim, paid.
    ExpenseSmall,
    /// expense: a large claim approved, paid.
    ExpenseApproved,
    /// expense: a large claim refused.
    ExpenseRefused,
    /// expense: nobody reviews.
    ExpenseEscalated,
    /// expense: a negative claim.
    ExpenseNegative,
    /// expense: cancelled while in review.
    ExpenseCancelled,
    /// agreement: signed.
    AgreementSigned,
    /// agreement: the signer refuses.
    AgreementRefused,
    /// agreement: not signed within a week.
    AgreementExpired,
    /// agreement: the certificate is refused.
    AgreementNoCertificate,
    /// agreement: the request fails once and is tried again.
    AgreementRetried,
    /// agreement: the request fails three times.
    AgreementFailed,
    /// rounds: straight through.
    RoundsDone,
    /// rounds: an incident fixed by an operator.
    RoundsFixed,
}

/// Every path.
pub const ALL: [Path; 31] = [
    Path::SesIssued,
    Path::SesRejected,
    Path::SesTimedOut,
    Path::SesEarlyAnswer,
    Path::SesRetried,
    Path::ContractSmall,
    Path::ContractWithdrawn,
    Path::ContractApproved,
    Path::ContractDeclined,
    Path::ContractEscalated,
    Path::ContractExpired,
    Path::DocumentSigned,
    Path::DocumentRevised,
    Path::DocumentWithdrawn,
    Path::DocumentLapsed,
    Path::DocumentUnsigned,
    Path::DocumentRefused,
    Path::ExpenseSmall,
    Path::ExpenseApproved,
    Path::ExpenseRefused,
    Path::ExpenseEscalated,
    Path::ExpenseNegative,
    Path::ExpenseCancelled,
    Path::AgreementSigned,
    Path::AgreementRefused,
    Path::AgreementExpired,
    Path::AgreementNoCertificate,
    Path::AgreementRetried,
    Path::AgreementFailed,
    Path::RoundsDone,
    Path::RoundsFixed,
];

impl Path {
    /// The status and outcome the path ends with.
    pub fn end(self) -> (&'static str, Option<&'static str>) {
        use Path::*;
        let outcome = match self {
            SesIssued | SesEarlyAnswer | SesRetried | RoundsDone | RoundsFixed => None,
            SesRejected | SesTimedOut => Some("rejected"),
            ContractSmall | ContractApproved => Some("signed"),
            ContractWithdrawn => Some("withdrawn"),
            ContractDeclined | ContractEscalated => Some("declined"),
            ContractExpired => Some("expired"),
            DocumentSigned | DocumentRevised => Some("approved"),
            DocumentWithdrawn | DocumentLapsed => Some("withdrawn"),
            DocumentUnsigned | DocumentRefused => Some("unsigned"),
            ExpenseSmall | ExpenseApproved => Some("paid"),
            ExpenseRefused | ExpenseNegative => Some("refused"),
            ExpenseEscalated => Some("escalated"),
            ExpenseCancelled => return ("cancelled", None),
            AgreementSigned => Some("signed"),
            AgreementRefused => Some("refused"),
            AgreementExpired => Some("expired"),
            AgreementNoCertificate => Some("no-certificate"),
            AgreementRetried => Some("signed"),
            AgreementFailed => Some("failed"),
        };
        ("completed", outcome)
    }

    /// Runs the path as the `n`-th recording (values vary with `n`) and
    /// returns the instance id.
    pub async fn run(self, bench: &Bench, n: usize) -> String {
        use Path::*;
        match self {
            SesIssued | SesRejected | SesTimedOut | SesEarlyAnswer | SesRetried => {
                ses_issuance(bench, self, n).await
            }
            ContractSmall | ContractWithdrawn | ContractApproved | ContractDeclined
            | ContractEscalated | ContractExpired => contract(bench, self, n).await,
            DocumentSigned | DocumentRevised | DocumentWithdrawn | DocumentLapsed
            | DocumentUnsigned | DocumentRefused => document(bench, self, n).await,
            ExpenseSmall | ExpenseApproved | ExpenseRefused | ExpenseEscalated
            | ExpenseNegative | ExpenseCancelled => expense(bench, self, n).await,
            AgreementSigned
            | AgreementRefused
            | AgreementExpired
            | AgreementNoCertificate
            | AgreementRetried
            | AgreementFailed => agreement(bench, self, n).await,
            RoundsDone => bench.start("rounds", json!({"rounds": 1 + n % 4})).await,
            RoundsFixed => {
                let id = bench
                    .start("rounds", json!({"rounds": 3, "divisor": 0}))
                    .await;
                bench.retry(&id, json!({"divisor": 1 + n % 5})).await;
                id
            }
        }
    }
}

fn issued(n: usize) -> Value {
    json!({"status": "issued", "certificate": {"serial": format!("{n:04X}")}})
}

async fn ses_issuance(bench: &Bench, path: Path, n: usize) -> String {
    let employee = if path == Path::SesRetried {
        "flaky"
    } else {
        "ana"
    };
    let id = bench
        .start("ses-issuance", json!({"employee": employee}))
        .await;
    let data = json!({"full_name": format!("Ana Lima {n}"), "email": "ana@example.com"});
    bench.complete(&id, "enter-data", data).await;
    if path == Path::SesEarlyAnswer {
        // The request node's token is the third: start, enter-data, request.
        bench
            .send("signature.issuance", &format!("req-{id}-3"), issued(n))
            .await;
    }
    bench.idle().await;
    if path == Path::SesRetried {
        bench.retry(&id, json!({})).await;
        bench.idle().await;
    }
    let key = bench.var(&id, "request_id").await;
    let key = key.as_str().unwrap_or_default().to_owned();
    match path {
        Path::SesRejected => {
            let payload = json!({"status": "rejected", "reason": "unknown employee"});
            bench.send("signature.issuance", &key, payload).await;
        }
        Path::SesTimedOut => bench.advance("3d").await,
        Path::SesEarlyAnswer => {}
        _ => bench.send("signature.issuance", &key, issued(n)).await,
    }
    id
}

async fn contract(bench: &Bench, path: Path, n: usize) -> String {
    let amount = match path {
        Path::ContractSmall | Path::ContractWithdrawn => 500 + n,
        _ => 10_000 + n * 100,
    };
    let vars = json!({"customer": format!("Customer {n}"), "customer_email": "buyer@example.com",
        "amount": amount, "contract": format!("contracts/{n}.pdf"), "manager": "mia"});
    let id = bench.start("contract", vars).await;
    decide_and_sign(bench, &id, path, n).await;
    match path {
        Path::ContractExpired => bench.advance("3d").await,
        Path::ContractSmall | Path::ContractWithdrawn | Path::ContractApproved => {
            bench.advance("14d").await
        }
        _ => {}
    }
    id
}

async fn decide_and_sign(bench: &Bench, id: &str, path: Path, n: usize) {
    let signature = json!({"signature": {"signer": "mia", "n": n}});
    let decide = |approved: bool| json!({ "approved": approved });
    match path {
        Path::ContractSmall => bench.complete(id, "sign", signature).await,
        Path::ContractWithdrawn => {
            bench.complete(id, "sign", signature).await;
            bench.advance("1d").await;
            let key = bench.var(id, "contract_ref").await;
            let key = key.as_str().unwrap_or_default();
            let payload = json!({"reason": "changed their mind"});
            bench.send("contract.withdrawn", key, payload).await;
        }
        Path::ContractApproved => {
            bench.complete(id, "manager-approval", decide(true)).await;
            bench.complete(id, "sign", signature).await;
        }
        Path::ContractDeclined => bench.complete(id, "manager-approval", decide(false)).await,
        Path::ContractEscalated => {
            bench.advance("2d").await;
            bench.complete(id, "director-approval", decide(true)).await;
            bench.refuse(id, "sign").await;
        }
        _ => bench.advance("2d").await,
    }
}

async fn document(bench: &Bench, path: Path, n: usize) -> String {
    let vars = json!({"author": "ana", "document": format!("docs/{n}.pdf"),
        "legal_reviewer": "lee", "finance_reviewer": "fay", "approver": "abe"});
    let id = bench.start("document-approval", vars).await;
    let approve = |id: String| approve_both(bench, id);
    let signature = json!({"signature": {"signer": "abe", "n": n}});
    match path {
        Path::DocumentSigned => {
            approve(id.clone()).await;
            bench.complete(&id, "sign", signature).await;
        }
        Path::DocumentRevised => {
            bench
                .complete(&id, "finance-review", json!({"finance_ok": false}))
                .await;
            bench
                .complete(&id, "legal-review", json!({"legal_ok": true}))
                .await;
            bench
                .complete(&id, "revise", json!({"resubmit": true}))
                .await;
            approve(id.clone()).await;
            bench.complete(&id, "sign", signature).await;
        }
        Path::DocumentWithdrawn => {
            bench
                .complete(&id, "legal-review", json!({"legal_ok": false}))
                .await;
            bench
                .complete(&id, "finance-review", json!({"finance_ok": true}))
                .await;
            bench
                .complete(&id, "revise", json!({"resubmit": false}))
                .await;
        }
        Path::DocumentLapsed => {
            bench.advance("5d").await;
            bench.advance("10d").await;
        }
        Path::DocumentUnsigned => {
            approve(id.clone()).await;
            bench.advance("7d").await;
        }
        _ => {
            approve(id.clone()).await;
            bench.refuse(&id, "sign").await;
        }
    }
    id
}

async fn approve_both(bench: &Bench, id: String) {
    bench
        .complete(&id, "legal-review", json!({"legal_ok": true}))
        .await;
    bench
        .complete(&id, "finance-review", json!({"finance_ok": true}))
        .await;
}

async fn expense(bench: &Bench, path: Path, n: usize) -> String {
    let amount = match path {
        Path::ExpenseSmall => json!(10 + n),
        Path::ExpenseNegative => json!(-1 - n as i64),
        _ => json!(2000 + n),
    };
    let id = bench
        .start("expense", json!({"amount": amount, "employee": "ana"}))
        .await;
    let pay = |id: String| async move {
        let key = bench.var(&id, "reference").await;
        let payload = json!({"iban": format!("XX{n:02}")});
        bench
            .send("payment.sent", key.as_str().unwrap_or_default(), payload)
            .await;
        bench.advance("1h").await;
    };
    match path {
        Path::ExpenseSmall => pay(id.clone()).await,
        Path::ExpenseApproved => {
            let data = json!({"approved": true, "note": format!("ok {n}")});
            bench.complete(&id, "review", data).await;
            pay(id.clone()).await;
        }
        Path::ExpenseRefused => {
            bench.advance("1d").await;
            bench
                .complete(&id, "review", json!({"approved": false}))
                .await;
        }
        Path::ExpenseEscalated => bench.advance("2d").await,
        Path::ExpenseCancelled => {
            bench.engine.cancel(&id).await.expect("cancelled");
        }
        _ => {}
    }
    id
}

async fn agreement(bench: &Bench, path: Path, n: usize) -> String {
    let signer = match path {
        Path::AgreementRetried => "flaky",
        Path::AgreementFailed => "down",
        _ => "ana",
    };
    let id = bench.start("agreement", json!({"signer": signer})).await;
    bench.idle().await;
    if matches!(path, Path::AgreementRetried | Path::AgreementFailed) {
        bench.advance("10m").await;
    }
    if path == Path::AgreementFailed {
        bench.advance("10m").await;
        return id;
    }
    let key = bench.var(&id, "request_id").await;
    let key = key.as_str().unwrap_or_default().to_owned();
    if path == Path::AgreementNoCertificate {
        let payload = json!({"status": "rejected", "reason": "unknown signer"});
        bench.send("signature.issuance", &key, payload).await;
        return id;
    }
    bench.send("signature.issuance", &key, issued(n)).await;
    match path {
        Path::AgreementRefused => bench.refuse(&id, "sign").await,
        Path::AgreementExpired => bench.advance("7d").await,
        _ => {
            let data = json!({"signature": {"signer": signer, "n": n}});
            bench.complete(&id, "sign", data).await;
        }
    }
    id
}
