//! Compiling each node kind's fields.

use std::time::Duration;

use crate::definition::{Branch, Flow, NodeIx, NodeKind, Retry, TimerWait, VarType};

use super::super::codes;
use super::super::fields;
use super::super::model::{NodeDecl, BRANCH_KEYS, RETRY_KEYS};
use super::super::read::unknown_key;
use super::super::yaml::Node;
use super::{Compiled, Context};

/// The fields that several kinds share.
#[derive(Default)]
pub(crate) struct Common {
    pub timeout: Option<Duration>,
    pub on_timeout: Option<NodeIx>,
    pub on_error: Option<NodeIx>,
    pub retry: Option<Retry>,
}

/// Compiles one node, collecting its flows even when its kind fails.
pub(super) fn node(decl: &NodeDecl, cx: &mut Context<'_>) -> Compiled {
    let mut flows = Vec::new();
    cx.open = decl.kind.is_none() && decl.field("next").is_none();
    let common = common(decl, cx, &mut flows);
    let kind = match decl.kind.as_ref().map(|k| k.value) {
        Some("start") => cx.next(decl).map(|next| {
            flows.push((Flow::Next, next));
            NodeKind::Start { next }
        }),
        Some("end") => end(decl, cx),
        Some("task") => task(decl, cx, &mut flows),
        Some("script") => script(decl, cx, &mut flows),
        Some("gateway") => gateway(decl, cx, &mut flows),
        Some("parallel") => parallel(decl, cx, &mut flows),
        Some("timer") => timer(decl, cx, &mut flows),
        Some("receive") => receive(decl, cx, &mut flows),
        Some("sign") => sign(decl, cx, &mut flows),
        Some("signature_issuing_request") => issuing_request(decl, cx, &mut flows),
        Some("expect_signature_issuing") => expect_issuing(decl, cx, &mut flows),
        _ => {
            // The kind is unknown (reported already); keep its flows so that
            // the nodes after it are not reported unreachable as well.
            let next = decl
                .field("next")
                .and_then(|n| fields::list(n, "`next`", cx.sink));
            for item in next.unwrap_or_default() {
                push(&mut flows, cx.target_at(decl, item, "next"));
            }
            None
        }
    };
    Compiled {
        kind,
        flows,
        common,
        open: cx.open,
    }
}

fn common(decl: &NodeDecl, cx: &mut Context<'_>, flows: &mut Vec<(Flow, NodeIx)>) -> Common {
    let timeout = decl
        .field("timeout")
        .and_then(|node| cx.duration(decl, node, "timeout"));
    let on_timeout = cx.target(decl, "on_timeout");
    let on_error = cx.target(decl, "on_error");
    let retry = decl.field("retry").and_then(|node| retry(decl, node, cx));
    match (decl.field("timeout"), decl.field("on_timeout")) {
        (Some(node), None) => {
            let message = format!("{} has a `timeout` but no `on_timeout`", decl.label());
            let help = "add `on_timeout:` with the node to go to when the time runs out";
            cx.sink.error(codes::TIMEOUT_PAIR, node.pos, message, help);
        }
        (None, Some(node)) => {
            let message = format!("{} has an `on_timeout` but no `timeout`", decl.label());
            let help = "add `timeout:` with a duration such as `3d`, or remove `on_timeout`";
            cx.sink.error(codes::TIMEOUT_PAIR, node.pos, message, help);
        }
        _ => {}
    }
    flows.extend(on_timeout.map(|t| (Flow::Timeout, t)));
    flows.extend(on_error.map(|t| (Flow::Error, t)));
    Common {
        timeout,
        on_timeout,
        on_error,
        retry,
    }
}

fn retry(decl: &NodeDecl, node: &Node, cx: &mut Context<'_>) -> Option<Retry> {
    let entries = fields::mapping(node, "`retry`", cx.sink)?;
    let (mut times, mut delay) = (None, None);
    for (key, key_node, value) in fields::unique_entries(entries, "`retry`", cx.sink) {
        match key.as_str() {
            "times" => times = fields::integer(value, "`retry.times`", 1, cx.sink),
            "delay" => delay = cx.duration(decl, value, "retry.delay"),
            _ => unknown_key(&key, key_node.pos, RETRY_KEYS, "in `retry`", cx.sink),
        }
    }
    let times = u32::try_from(times?.value).unwrap_or(u32::MAX);
    Some(Retry {
        times,
        delay: delay.unwrap_or(Duration::from_secs(60)),
    })
}

fn end(decl: &NodeDecl, cx: &mut Context<'_>) -> Option<NodeKind> {
    let outcome = match decl.field("outcome") {
        Some(node) => Some(fields::text(node, "`outcome`", cx.sink)?.value),
        None => None,
    };
    Some(NodeKind::End { outcome })
}

fn task(
    decl: &NodeDecl,
    cx: &mut Context<'_>,
    flows: &mut Vec<(Flow, NodeIx)>,
) -> Option<NodeKind> {
    let assignee = cx.assignee(decl, "assignee");
    let mut form = Some(Vec::new());
    if let Some(node) = decl.field("form") {
        let items = fields::list(node, "`form`", cx.sink).unwrap_or_default();
        for item in items {
            let var = cx.var_at(decl, item, "form", &[]);
            form = form.zip(var).map(|(mut form, var)| {
                form.push(var);
                form
            });
        }
    }
    let next = push(flows, cx.next(decl));
    Some(NodeKind::Task {
        assignee: assignee?,
        form: form?,
        next: next?,
    })
}

fn script(
    decl: &NodeDecl,
    cx: &mut Context<'_>,
    flows: &mut Vec<(Flow, NodeIx)>,
) -> Option<NodeKind> {
    let script = match decl.field("script") {
        Some(node) => cx.script(decl, node, "script"),
        None => {
            cx.missing(decl, "script", "add `script:` with the statements to run");
            None
        }
    };
    let next = push(flows, cx.next(decl));
    Some(NodeKind::Script {
        script: script?,
        next: next?,
    })
}

fn gateway(
    decl: &NodeDecl,
    cx: &mut Context<'_>,
    flows: &mut Vec<(Flow, NodeIx)>,
) -> Option<NodeKind> {
    let default = cx.target(decl, "default");
    let mut branches = Some(Vec::new());
    let items = decl
        .field("branches")
        .and_then(|node| fields::list(node, "`branches`", cx.sink));
    let items = items.unwrap_or_default();
    if items.is_empty() {
        let message = format!("{} (gateway) has no branches", decl.label());
        let help = "add `branches:` with items `- when: EXPRESSION` and `next: NODE`";
        cx.sink.error(codes::NO_BRANCHES, decl.at(), message, help);
    }
    for (i, item) in items.into_iter().enumerate() {
        let branch = branch(decl, item, cx);
        if let Some((_, Some(next))) = &branch {
            flows.push((Flow::Branch(i), *next));
        }
        branches = match (branches, branch) {
            (Some(mut all), Some((Some(when), Some(next)))) => {
                all.push(Branch { when, next });
                Some(all)
            }
            _ => None,
        };
    }
    flows.extend(default.map(|d| (Flow::Default, d)));
    Some(NodeKind::Gateway {
        branches: branches?,
        default,
    })
}

type BranchParts = (Option<crate::expr::Expr>, Option<NodeIx>);

fn branch(decl: &NodeDecl, item: &Node, cx: &mut Context<'_>) -> Option<BranchParts> {
    let entries = fields::mapping(item, "a branch", cx.sink)?;
    let (mut when, mut next, mut seen) = (None, None, (false, false));
    for (key, key_node, value) in fields::unique_entries(entries, "a branch", cx.sink) {
        match key.as_str() {
            "when" => (when, seen.0) = (cx.expr(decl, value, "when"), true),
            "next" => (next, seen.1) = (cx.target_at(decl, value, "next"), true),
            _ => unknown_key(&key, key_node.pos, BRANCH_KEYS, "in a branch", cx.sink),
        }
    }
    for (field, present) in [("when", seen.0), ("next", seen.1)] {
        if !present {
            let message = format!("{}: a branch has no `{field}`", decl.label());
            let help = "give every branch a `when` condition and a `next` node";
            cx.sink.error(codes::MISSING_FIELD, item.pos, message, help);
        }
    }
    Some((when, next))
}

fn parallel(
    decl: &NodeDecl,
    cx: &mut Context<'_>,
    flows: &mut Vec<(Flow, NodeIx)>,
) -> Option<NodeKind> {
    let Some(node) = decl.field("next") else {
        cx.missing_next(decl);
        return None;
    };
    let Some(items) = fields::list(node, "`next`", cx.sink) else {
        cx.open = true;
        return None;
    };
    if items.is_empty() {
        cx.missing_next(decl);
        return None;
    }
    let mut next = Some(Vec::new());
    for item in items {
        let target = push(flows, cx.target_at(decl, item, "next"));
        next = next.zip(target).map(|(mut all, t)| {
            all.push(t);
            all
        });
    }
    Some(NodeKind::Parallel { next: next? })
}

fn timer(
    decl: &NodeDecl,
    cx: &mut Context<'_>,
    flows: &mut Vec<(Flow, NodeIx)>,
) -> Option<NodeKind> {
    let wait = match (decl.field("wait"), decl.field("until")) {
        (Some(node), None) => cx.duration(decl, node, "wait").map(TimerWait::Duration),
        (None, Some(node)) => cx.expr(decl, node, "until").map(TimerWait::Until),
        (both, _) => {
            let pos = both.map_or(decl.at(), |node| node.pos);
            let message = format!(
                "{} (timer) needs exactly one of `wait` and `until`",
                decl.label()
            );
            let help = "write `wait: 2h` for a duration or `until: EXPRESSION` for a moment";
            cx.sink.error(codes::TIMER_WAIT, pos, message, help);
            None
        }
    };
    let next = push(flows, cx.next(decl));
    Some(NodeKind::Timer {
        wait: wait?,
        next: next?,
    })
}

fn receive(
    decl: &NodeDecl,
    cx: &mut Context<'_>,
    flows: &mut Vec<(Flow, NodeIx)>,
) -> Option<NodeKind> {
    let event = required_text(
        decl,
        "event",
        "add `event:` with the kind of event to wait for",
        cx,
    );
    let key = match decl.field("key") {
        Some(node) => cx.expr(decl, node, "key"),
        None => {
            cx.missing(
                decl,
                "key",
                "add `key:` with an expression giving the correlation key",
            );
            None
        }
    };
    let output = optional(decl.field("output").map(|_| cx.var(decl, "output", &[])));
    let next = push(flows, cx.next(decl));
    Some(NodeKind::Receive {
        event: event?,
        key: key?,
        output: output?,
        next: next?,
    })
}

fn sign(
    decl: &NodeDecl,
    cx: &mut Context<'_>,
    flows: &mut Vec<(Flow, NodeIx)>,
) -> Option<NodeKind> {
    let signer = cx.assignee(decl, "signer");
    let document = required_var(decl, "document", &[VarType::File, VarType::AppItem], cx);
    let output = optional(
        decl.field("output")
            .map(|_| cx.var(decl, "output", &[VarType::Object])),
    );
    let on_rejected = on_rejected(decl, cx, flows);
    let next = push(flows, cx.next(decl));
    Some(NodeKind::Sign {
        signer: signer?,
        document: document?,
        output: output?,
        on_rejected: on_rejected?,
        next: next?,
    })
}

fn issuing_request(
    decl: &NodeDecl,
    cx: &mut Context<'_>,
    flows: &mut Vec<(Flow, NodeIx)>,
) -> Option<NodeKind> {
    let service = required_text(decl, "service", "add `service: ses`", cx);
    let mut fields_map = Some(Vec::new());
    if let Some(entries) = decl
        .field("fields")
        .and_then(|n| fields::mapping(n, "`fields`", cx.sink))
    {
        for (name, _, value) in fields::unique_entries(entries, "`fields`", cx.sink) {
            let var = cx.var_at(decl, value, "fields", &[]);
            fields_map = fields_map.zip(var).map(|(mut all, var)| {
                all.push((name, var));
                all
            });
        }
    }
    let output = required_var(decl, "output", &[VarType::String], cx);
    let next = push(flows, cx.next(decl));
    Some(NodeKind::SignatureIssuingRequest {
        service: service?,
        fields: fields_map?,
        output: output?,
        next: next?,
    })
}

fn expect_issuing(
    decl: &NodeDecl,
    cx: &mut Context<'_>,
    flows: &mut Vec<(Flow, NodeIx)>,
) -> Option<NodeKind> {
    let request = required_var(decl, "request", &[VarType::String], cx);
    let types = [VarType::Certificate, VarType::Object];
    let output = optional(decl.field("output").map(|_| cx.var(decl, "output", &types)));
    let reason = optional(
        decl.field("reason")
            .map(|_| cx.var(decl, "reason", &[VarType::String])),
    );
    let on_rejected = on_rejected(decl, cx, flows);
    let next = push(flows, cx.next(decl));
    Some(NodeKind::ExpectSignatureIssuing {
        request: request?,
        output: output?,
        reason: reason?,
        on_rejected: on_rejected?,
        next: next?,
    })
}

fn on_rejected(
    decl: &NodeDecl,
    cx: &mut Context<'_>,
    flows: &mut Vec<(Flow, NodeIx)>,
) -> Option<Option<NodeIx>> {
    let target = decl
        .field("on_rejected")
        .map(|_| cx.target(decl, "on_rejected"));
    flows.extend(target.flatten().map(|t| (Flow::Rejected, t)));
    optional(target)
}

fn required_text(decl: &NodeDecl, field: &str, help: &str, cx: &mut Context<'_>) -> Option<String> {
    match decl.field(field) {
        Some(node) => fields::text(node, &format!("`{field}`"), cx.sink).map(|t| t.value),
        None => {
            cx.missing(decl, field, help);
            None
        }
    }
}

fn required_var(
    decl: &NodeDecl,
    field: &str,
    types: &[VarType],
    cx: &mut Context<'_>,
) -> Option<usize> {
    if decl.field(field).is_none() {
        let names: Vec<&str> = types.iter().map(VarType::name).collect();
        let help = format!(
            "add `{field}:` with a variable of type {}",
            names.join(" or ")
        );
        cx.missing(decl, field, &help);
        return None;
    }
    cx.var(decl, field, types)
}

/// `None` (absent) is fine; `Some(None)` (present but wrong) is not.
fn optional<T>(value: Option<Option<T>>) -> Option<Option<T>> {
    match value {
        None => Some(None),
        Some(None) => None,
        Some(Some(v)) => Some(Some(v)),
    }
}

fn push(flows: &mut Vec<(Flow, NodeIx)>, target: Option<NodeIx>) -> Option<NodeIx> {
    flows.extend(target.map(|t| (Flow::Next, t)));
    target
}
