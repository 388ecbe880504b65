use serde_json::json;

use super::*;
use crate::schema::compile;

const SCHEMA: &str = r#"
process: expr-test
version: 1
context:
  amount:   { type: integer }
  approved: { type: boolean }
  name:     { type: string }
  due:      { type: datetime }
  picked:   { type: number }
nodes:
  - id: start
    kind: start
    next: calc
  - id: calc
    kind: script
    script: |
      let doubled = amount * 2;
      approved = doubled > 100;
      name = "n" + doubled;
      due = add_duration(now(), "1h");
      picked = random();
    next: done
  - id: done
    kind: end
"#;

fn definition() -> Definition {
    compile("expr.yaml", SCHEMA).expect("the test schema is valid")
}

fn script(def: &Definition) -> &Script {
    match &def.nodes[1].kind {
        crate::definition::NodeKind::Script { script, .. } => script,
        other => panic!("node 1 is {}", other.name()),
    }
}

const ENV: Env = Env {
    now_ms: 1_700_000_000_000,
    seed: 7,
};

#[test]
fn scripts_assign_declared_variables_with_the_env_clock() {
    let def = definition();
    let evaluator = Evaluator::new();
    let vars = vec![
        json!(60),
        Value::Null,
        Value::Null,
        Value::Null,
        Value::Null,
    ];
    let assigned = evaluator
        .run_script(script(&def), &def, &vars, &ENV)
        .expect("runs");
    let names: Vec<&str> = assigned
        .iter()
        .map(|(ix, _)| def.variables[*ix].name.as_str())
        .collect();
    assert_eq!(names, ["approved", "name", "due", "picked"]);
    assert_eq!(assigned[0].1, json!(true));
    assert_eq!(assigned[1].1, json!("n120"));
    assert_eq!(assigned[2].1, json!("2023-11-14T23:13:20.000Z"));
    assert_eq!(script(&def).writes(), &[1, 2, 3, 4]);
    assert_eq!(script(&def).reads(), &[0]);

    let again = evaluator
        .run_script(script(&def), &def, &vars, &ENV)
        .expect("runs");
    assert_eq!(assigned, again, "the same env gives the same results");
    let other = Env { seed: 8, ..ENV };
    let third = evaluator
        .run_script(script(&def), &def, &vars, &other)
        .expect("runs");
    assert_ne!(assigned[3], third[3], "another seed gives another random()");
}

#[test]
fn conditions_must_be_booleans() {
    let def = definition();
    let evaluator = Evaluator::new();
    let vars = vec![
        json!(5),
        json!(false),
        json!("ana"),
        Value::Null,
        Value::Null,
    ];
    let expr = evaluator
        .compile_expr("amount > 3 && !approved", &def.variables)
        .expect("compiles");
    assert_eq!(evaluator.eval_bool(&expr, &def, &vars, &ENV), Ok(true));
    let expr = evaluator
        .compile_expr("name", &def.variables)
        .expect("compiles");
    let error = evaluator
        .eval_bool(&expr, &def, &vars, &ENV)
        .expect_err("not a boolean");
    assert_eq!(error.message, "`name` gave \"ana\", not true or false");
}

#[test]
fn wrong_types_written_at_run_time_are_named() {
    let def = definition();
    let evaluator = Evaluator::new();
    let bad = evaluator.compile_script("amount = name;", &def.variables);
    assert!(bad.is_err(), "string into integer is caught statically");
    let sneaky = evaluator
        .compile_script("let v = name; amount = v;", &def.variables)
        .expect("not provable statically");
    let vars = vec![
        json!(1),
        Value::Null,
        json!("ana"),
        Value::Null,
        Value::Null,
    ];
    let error = evaluator
        .run_script(&sneaky, &def, &vars, &ENV)
        .expect_err("wrong type");
    assert_eq!(
        error.message,
        "the script assigned \"ana\" to `amount`, which is integer: \"ana\" is not an integer"
    );
}

#[test]
fn static_analysis_finds_undeclared_names_and_bad_writes() {
    let def = definition();
    let evaluator = Evaluator::new();
    let errors = evaluator
        .compile_script(
            "total = amount + bonus;\napproved = \"yes\";\nlet name = 1;",
            &def.variables,
        )
        .expect_err("three problems");
    let kinds: Vec<(&CompileErrorKind, usize, usize)> =
        errors.iter().map(|e| (&e.kind, e.line, e.column)).collect();
    assert_eq!(
        kinds,
        [
            (&CompileErrorKind::Shadow("name".into()), 3, 1),
            (&CompileErrorKind::UndeclaredWrite("total".into()), 1, 1),
            (&CompileErrorKind::WrongType("approved".into()), 2, 1),
            (&CompileErrorKind::UndeclaredRead("bonus".into()), 1, 18),
        ]
    );
    let syntax = evaluator
        .compile_expr("amount >", &def.variables)
        .expect_err("syntax");
    assert_eq!(syntax[0].kind, CompileErrorKind::Syntax);
    let assign = evaluator
        .compile_expr("amount = 3", &def.variables)
        .expect_err("no assignment");
    assert_eq!(assign[0].kind, CompileErrorKind::Syntax);
}

#[test]
fn the_sandbox_has_no_io_and_bounded_work() {
    let def = definition();
    let evaluator = Evaluator::new();
    for source in ["print(\"x\")", "eval(\"1\")", "import \"fs\" as fs;"] {
        assert!(
            evaluator.compile_script(source, &def.variables).is_err(),
            "{source} compiles"
        );
    }
    let spin = evaluator
        .compile_script("loop { }", &def.variables)
        .expect("compiles");
    let vars = vec![Value::Null; 5];
    let error = evaluator
        .run_script(&spin, &def, &vars, &ENV)
        .expect_err("stopped");
    assert!(error.message.contains("operations"), "{}", error.message);
    let grow = evaluator
        .compile_script("let s = \"x\"; loop { s += s; }", &def.variables)
        .expect("compiles");
    let error = evaluator
        .run_script(&grow, &def, &vars, &ENV)
        .expect_err("stopped");
    assert!(error.message.contains("too large"), "{}", error.message);
    let clock = evaluator
        .compile_script("let t = timestamp();", &def.variables)
        .expect("compiles");
    assert!(
        evaluator.run_script(&clock, &def, &vars, &ENV).is_err(),
        "no host clock"
    );
}
