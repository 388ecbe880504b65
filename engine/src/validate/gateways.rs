//! Gateways that cannot dead-end: a gateway without `default` must have
//! branches that provably cover every case.
//!
//! Two proofs are tried. The branches whose conditions read only boolean
//! variables (at most [`MAX_TRUTH_VARIABLES`] in all) are evaluated for
//! every combination of them. Else a pair of branches must be complements
//! written plainly: `x` and `!x`, `a == b` and `a != b`, `a < b` and
//! `a >= b`, `a > b` and `a <= b`.

use serde_json::Value;

use crate::definition::{Branch, NodeKind, VarType, Variable};
use crate::expr::{Env, Evaluator};
use crate::schema::{codes, Sink};

use super::Plan;

/// Most boolean variables whose combinations are all tried.
pub const MAX_TRUTH_VARIABLES: usize = 10;

/// Reports each gateway without `default` whose branches can all be false.
pub(super) fn check(plan: &Plan<'_>, sink: &mut Sink) {
    let mut evaluator = None;
    for (ix, compiled) in plan.compiled.iter().enumerate() {
        let Some(NodeKind::Gateway {
            branches,
            default: None,
        }) = &compiled.kind
        else {
            continue;
        };
        if branches.is_empty() || complementary(branches) {
            continue;
        }
        let evaluator = evaluator.get_or_insert_with(Evaluator::new);
        if covers_all(branches, plan.variables, evaluator) {
            continue;
        }
        let decl = &plan.schema.nodes[ix];
        let conditions: Vec<String> = branches
            .iter()
            .map(|b| format!("`{}`", b.when.source().trim()))
            .collect();
        let message = format!(
            "gateway `{}` has no `default`, and its branches ({}) can all be false",
            decl.name(),
            conditions.join(", ")
        );
        let help = "add `default:` with the node to take when no branch holds, or write \
                    conditions that cover every case, such as `x` and `!x`";
        sink.error(codes::GATEWAY_DEAD_END, decl.at(), message, help);
    }
}

/// Whether every combination of the boolean variables read makes some
/// branch true, looking only at the branches that read nothing but booleans
/// (if they cover every case, so do all the branches).
fn covers_all(branches: &[Branch], variables: &[Variable], evaluator: &Evaluator) -> bool {
    let boolean_only: Vec<&Branch> = branches
        .iter()
        .filter(|b| {
            b.when
                .reads()
                .iter()
                .all(|ix| variables[*ix].ty == VarType::Boolean)
        })
        .collect();
    let mut read: Vec<usize> = boolean_only
        .iter()
        .flat_map(|b| b.when.reads().to_vec())
        .collect();
    read.sort_unstable();
    read.dedup();
    if boolean_only.is_empty() || read.len() > MAX_TRUTH_VARIABLES {
        return false;
    }
    let env = Env { now_ms: 0, seed: 0 };
    let mut vars = vec![Value::Null; variables.len()];
    (0u32..1 << read.len()).all(|mask| {
        for (bit, ix) in read.iter().enumerate() {
            vars[*ix] = Value::Bool(mask & (1 << bit) != 0);
        }
        boolean_only.iter().any(|branch| {
            evaluator
                .eval_over(&branch.when, variables, &vars, &env)
                .is_ok_and(|value| value == Value::Bool(true))
        })
    })
}

/// Whether two branches are plainly written complements.
fn complementary(branches: &[Branch]) -> bool {
    let normal: Vec<String> = branches
        .iter()
        .map(|b| normalize(b.when.source()))
        .collect();
    normal.iter().enumerate().any(|(i, p)| {
        normal[i + 1..]
            .iter()
            .any(|q| complements(p, q) || complements(q, p))
    })
}

fn complements(p: &str, q: &str) -> bool {
    if let Some(negated) = p.strip_prefix('!') {
        if strip_parens(negated) == q {
            return true;
        }
    }
    let (Some((l1, op1, r1)), Some((l2, op2, r2))) = (comparison(p), comparison(q)) else {
        return false;
    };
    let opposite = matches!((op1, op2), ("==", "!=") | ("<", ">=") | (">", "<="));
    opposite && l1 == l2 && r1 == r2
}

/// `left op right` at the top level of `text`.
fn comparison(text: &str) -> Option<(&str, &'static str, &str)> {
    let bytes = text.as_bytes();
    let (mut depth, mut quote) = (0i32, None);
    let mut found = None;
    for (i, &b) in bytes.iter().enumerate() {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'' | b'`') => quote = Some(b),
            (None, b'(' | b'[' | b'{') => depth += 1,
            (None, b')' | b']' | b'}') => depth -= 1,
            (None, b'&' | b'|' | b'?') if depth == 0 => return None,
            (None, _) if depth == 0 && found.is_none() => {
                found = ["==", "!=", "<=", ">=", "<", ">"]
                    .into_iter()
                    .find(|op| text[i..].starts_with(op))
                    .map(|op| (i, op));
            }
            _ => {}
        }
    }
    let (at, op) = found?;
    Some((&text[..at], op, &text[at + op.len()..]))
}

fn normalize(text: &str) -> String {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    strip_parens(&compact).to_owned()
}

/// `text` without parentheses that wrap all of it.
fn strip_parens(mut text: &str) -> &str {
    while let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        let mut depth = 0i32;
        let balanced = inner.chars().all(|c| {
            depth += match c {
                '(' => 1,
                ')' => -1,
                _ => 0,
            };
            depth >= 0
        });
        if !balanced {
            break;
        }
        text = inner;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_complements_are_recognised() {
        assert!(complements("!approved", "approved"));
        assert!(complements("!(a&&b)", "a&&b"));
        assert!(complements("amount<1000", "amount>=1000"));
        assert!(complements("status==\"ok\"", "status!=\"ok\""));
        assert!(!complements("amount<1000", "amount>1000"));
        assert!(!complements("a<1||b", "a>=1||b"));
        assert_eq!(normalize(" ( x > 1 ) "), "x>1");
        assert_eq!(strip_parens("(a)&&(b)"), "(a)&&(b)");
    }
}
