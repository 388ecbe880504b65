//! Expressions and scripts: rhai, compiled once per definition, run sandboxed.
//!
//! Every context variable is in scope under its own name. Expressions
//! (`when`, `key`, `until`) only read; scripts may assign declared variables,
//! and what they assign is type-checked against the declaration. The sandbox
//! has no I/O (no `print`, `debug`, `eval`, `import`, no clock, no sleep),
//! bounded operations, string, array and map sizes, and call depth. `now()`
//! and `random()` read the [`Env`] the engine passes in, so that replaying an
//! instance with its recorded environment gives the same results.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use rhai::{
    packages::Package, ASTNode, Dynamic, Engine, EvalAltResult, FuncRegistration, Position, Scope,
    Stmt, AST,
};
use serde_json::Value;

use crate::definition::{Definition, VarIx, VarType, Variable};

/// At most this many operations per evaluation.
pub const MAX_OPERATIONS: u64 = 1_000_000;
/// At most this many bytes in one string.
pub const MAX_STRING_SIZE: usize = 1 << 20;
/// At most this many items in one list or map.
pub const MAX_COLLECTION_SIZE: usize = 100_000;

/// A compiled expression: reads the context, writes nothing.
#[derive(Clone, Debug)]
pub struct Expr {
    source: String,
    ast: AST,
    reads: Vec<VarIx>,
}

impl Expr {
    /// The source text as written in the schema.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The context variables it reads.
    pub fn reads(&self) -> &[VarIx] {
        &self.reads
    }
}

/// A compiled script: reads the context and assigns declared variables.
#[derive(Clone, Debug)]
pub struct Script {
    source: String,
    ast: AST,
    reads: Vec<VarIx>,
    writes: Vec<VarIx>,
}

impl Script {
    /// The source text as written in the schema.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The context variables it reads.
    pub fn reads(&self) -> &[VarIx] {
        &self.reads
    }

    /// The context variables it may write.
    pub fn writes(&self) -> &[VarIx] {
        &self.writes
    }
}

/// What the engine lends an evaluation: the time and a random seed, both
/// recorded in history so that a replay sees the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Env {
    /// What `now()` returns, in milliseconds since the Unix epoch.
    pub now_ms: i64,
    /// The seed of the values `random()` returns.
    pub seed: u64,
}

/// An expression or script failed while running.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    /// What went wrong, naming the value.
    pub message: String,
    /// The line in the expression's source, 1-based, when known.
    pub line: Option<usize>,
    /// The column in the expression's source, 1-based, when known.
    pub column: Option<usize>,
}

/// A problem found while compiling an expression or script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    /// What kind of problem.
    pub kind: CompileErrorKind,
    /// What is wrong.
    pub message: String,
    /// The line in the source, 1-based.
    pub line: usize,
    /// The column in the source, 1-based.
    pub column: usize,
}

/// The kinds of [`CompileError`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompileErrorKind {
    /// The text is not a valid expression or script.
    Syntax,
    /// It reads a variable that is neither declared nor local.
    UndeclaredRead(String),
    /// It assigns a variable that is not declared.
    UndeclaredWrite(String),
    /// It assigns a declared variable a value of another type.
    WrongType(String),
    /// A `let` hides a context variable of the same name.
    Shadow(String),
}

/// Compiles and runs expressions and scripts in the sandbox.
pub struct Evaluator {
    engine: Engine,
}

impl Default for Evaluator {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator").finish_non_exhaustive()
    }
}

impl Evaluator {
    /// A sandboxed engine with the process functions (`now`, `today`,
    /// `random`, `random_int`, `add_duration`).
    pub fn new() -> Self {
        let mut engine = Engine::new_raw();
        for module in [
            rhai::packages::ArithmeticPackage::new().as_shared_module(),
            rhai::packages::BasicStringPackage::new().as_shared_module(),
            rhai::packages::BasicIteratorPackage::new().as_shared_module(),
            rhai::packages::BasicFnPackage::new().as_shared_module(),
            rhai::packages::LogicPackage::new().as_shared_module(),
            rhai::packages::BasicMathPackage::new().as_shared_module(),
            rhai::packages::BasicArrayPackage::new().as_shared_module(),
            rhai::packages::BasicMapPackage::new().as_shared_module(),
            rhai::packages::MoreStringPackage::new().as_shared_module(),
        ] {
            engine.register_global_module(module);
        }
        for symbol in ["eval", "import", "export", "print", "debug"] {
            engine.disable_symbol(symbol);
        }
        engine
            .set_max_operations(MAX_OPERATIONS)
            .set_max_string_size(MAX_STRING_SIZE)
            .set_max_array_size(MAX_COLLECTION_SIZE)
            .set_max_map_size(MAX_COLLECTION_SIZE)
            .set_max_call_levels(32)
            .set_max_expr_depths(64, 32)
            .set_max_variables(1_000)
            .set_max_functions(100);
        register_env_functions(&mut engine);
        Evaluator { engine }
    }

    /// Compiles an expression over `variables`.
    pub fn compile_expr(
        &self,
        source: &str,
        variables: &[Variable],
    ) -> Result<Expr, Vec<CompileError>> {
        let ast = self
            .engine
            .compile_expression(source)
            .map_err(|e| vec![syntax(&e)])?;
        let analysis = analyse(&ast, variables);
        let errors = analysis.errors(variables);
        if !errors.is_empty() {
            return Err(errors);
        }
        let reads = analysis.reads_ix(variables);
        Ok(Expr {
            source: source.to_owned(),
            ast,
            reads,
        })
    }

    /// Compiles a script over `variables`.
    pub fn compile_script(
        &self,
        source: &str,
        variables: &[Variable],
    ) -> Result<Script, Vec<CompileError>> {
        let ast = self.engine.compile(source).map_err(|e| vec![syntax(&e)])?;
        let analysis = analyse(&ast, variables);
        let errors = analysis.errors(variables);
        if !errors.is_empty() {
            return Err(errors);
        }
        let reads = analysis.reads_ix(variables);
        let mut writes: Vec<VarIx> = analysis
            .writes
            .iter()
            .filter_map(|w| variables.iter().position(|v| v.name == w.name))
            .collect();
        writes.sort_unstable();
        writes.dedup();
        Ok(Script {
            source: source.to_owned(),
            ast,
            reads,
            writes,
        })
    }

    /// Evaluates a condition; anything but a boolean is an error.
    pub fn eval_bool(
        &self,
        e: &Expr,
        def: &Definition,
        vars: &[Value],
        env: &Env,
    ) -> Result<bool, EvalError> {
        let value = self.eval_value(e, def, vars, env)?;
        value.as_bool().ok_or_else(|| EvalError {
            message: format!("`{}` gave {value}, not true or false", e.source),
            line: None,
            column: None,
        })
    }

    /// Evaluates an expression to a JSON value.
    pub fn eval_value(
        &self,
        e: &Expr,
        def: &Definition,
        vars: &[Value],
        env: &Env,
    ) -> Result<Value, EvalError> {
        self.eval_over(e, &def.variables, vars, env)
    }

    /// Evaluates an expression over variables that need not form a
    /// definition yet (validation evaluates conditions this way).
    pub fn eval_over(
        &self,
        e: &Expr,
        variables: &[Variable],
        vars: &[Value],
        env: &Env,
    ) -> Result<Value, EvalError> {
        let mut scope = scope_of(variables, vars)?;
        let _guard = EnvGuard::set(env);
        let result = self
            .engine
            .eval_ast_with_scope::<Dynamic>(&mut scope, &e.ast)
            .map_err(|error| runtime(&error))?;
        to_json(&result)
    }

    /// Runs a script; returns the declared variables it assigned, each checked
    /// against its declared type (a wrong type is an error naming variable,
    /// value and type).
    pub fn run_script(
        &self,
        s: &Script,
        def: &Definition,
        vars: &[Value],
        env: &Env,
    ) -> Result<Vec<(VarIx, Value)>, EvalError> {
        let mut scope = scope_of(&def.variables, vars)?;
        let _guard = EnvGuard::set(env);
        self.engine
            .run_ast_with_scope(&mut scope, &s.ast)
            .map_err(|error| runtime(&error))?;

        let mut assigned = Vec::new();
        for (ix, (_, _, value)) in scope.iter().take(def.variables.len()).enumerate() {
            let value = to_json(&value)?;
            let before = vars.get(ix).unwrap_or(&Value::Null);
            if &value == before {
                continue;
            }
            let variable = &def.variables[ix];
            variable.ty.check(&value).map_err(|detail| EvalError {
                message: format!(
                    "the script assigned {value} to `{}`, which is {}: {detail}",
                    variable.name, variable.ty
                ),
                line: None,
                column: None,
            })?;
            assigned.push((ix, value));
        }
        Ok(assigned)
    }
}

thread_local! {
    static ENV: RefCell<Option<EnvState>> = const { RefCell::new(None) };
}

#[derive(Clone, Copy)]
struct EnvState {
    now_ms: i64,
    rng: u64,
}

/// Lends an [`Env`] to the functions of one evaluation on this thread.
struct EnvGuard {
    previous: Option<EnvState>,
}

impl EnvGuard {
    fn set(env: &Env) -> EnvGuard {
        let state = EnvState {
            now_ms: env.now_ms,
            rng: env.seed,
        };
        EnvGuard {
            previous: ENV.with(|cell| cell.borrow_mut().replace(state)),
        }
    }
}

impl Drop for EnvGuard {
    fn drop(&mut self) {
        ENV.with(|cell| *cell.borrow_mut() = self.previous);
    }
}

type FnResult<T> = Result<T, Box<EvalAltResult>>;

fn with_env<T>(name: &str, f: impl FnOnce(&mut EnvState) -> T) -> FnResult<T> {
    ENV.with(|cell| match cell.borrow_mut().as_mut() {
        Some(state) => Ok(f(state)),
        None => Err(format!("{name}() is only available while a process runs").into()),
    })
}

/// splitmix64: small, fast, and the same everywhere.
fn next_random(state: &mut EnvState) -> u64 {
    state.rng = state.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = state.rng;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn datetime_of(ms: i64) -> FnResult<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| format!("{ms} ms is out of the range of dates").into())
}

fn register_env_functions(engine: &mut Engine) {
    let volatile = |name: &str| FuncRegistration::new(name).with_volatility(true);
    volatile("now").register_into_engine(engine, || -> FnResult<String> {
        let ms = with_env("now", |s| s.now_ms)?;
        Ok(datetime_of(ms)?.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    });
    volatile("now_ms").register_into_engine(engine, || with_env("now_ms", |s| s.now_ms));
    volatile("today").register_into_engine(engine, || -> FnResult<String> {
        let ms = with_env("today", |s| s.now_ms)?;
        Ok(datetime_of(ms)?.format("%Y-%m-%d").to_string())
    });
    volatile("random").register_into_engine(engine, || {
        with_env("random", |s| {
            (next_random(s) >> 11) as f64 / (1u64 << 53) as f64
        })
    });
    volatile("random_int").register_into_engine(engine, |low: i64, high: i64| -> FnResult<i64> {
        if high < low {
            return Err(format!("random_int({low}, {high}): the range is empty").into());
        }
        let span = high.abs_diff(low).saturating_add(1);
        let draw = with_env("random_int", next_random)?;
        Ok(low.wrapping_add((draw % span) as i64))
    });
    FuncRegistration::new("add_duration").register_into_engine(
        engine,
        |moment: &str, duration: &str| -> FnResult<String> {
            let start = chrono::DateTime::parse_from_rfc3339(moment)
                .map_err(|e| format!("add_duration: `{moment}` is not an RFC 3339 time: {e}"))?;
            let span = humantime::parse_duration(duration)
                .map_err(|e| format!("add_duration: `{duration}` is not a duration: {e}"))?;
            let span = chrono::Duration::from_std(span)
                .map_err(|_| format!("add_duration: `{duration}` is too long"))?;
            let end = start
                .checked_add_signed(span)
                .ok_or_else(|| format!("add_duration: `{moment}` + `{duration}` overflows"))?;
            Ok(end.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        },
    );
}

fn scope_of<'a>(variables: &[Variable], vars: &[Value]) -> Result<Scope<'a>, EvalError> {
    let mut scope = Scope::with_capacity(variables.len());
    for (ix, variable) in variables.iter().enumerate() {
        let value = vars.get(ix).unwrap_or(&Value::Null);
        let dynamic = rhai::serde::to_dynamic(value).map_err(|e| EvalError {
            message: format!(
                "variable `{}` cannot be read by scripts: {e}",
                variable.name
            ),
            line: None,
            column: None,
        })?;
        scope.push_dynamic(variable.name.clone(), dynamic);
    }
    Ok(scope)
}

fn to_json(value: &Dynamic) -> Result<Value, EvalError> {
    rhai::serde::from_dynamic::<Value>(value).map_err(|e| EvalError {
        message: format!("the result {value} cannot be stored: {e}"),
        line: None,
        column: None,
    })
}

fn runtime(error: &EvalAltResult) -> EvalError {
    let position = error.position();
    let mut message = error.to_string();
    if let Some(cut) = message.rfind(" (line ") {
        message.truncate(cut);
    }
    EvalError {
        message,
        line: position.line(),
        column: position.position(),
    }
}

fn syntax(error: &rhai::ParseError) -> CompileError {
    let text = error.err_type().to_string();
    let mut chars = text.chars();
    let message = match chars.next() {
        Some(first) => format!(
            "does not compile: {}{}",
            first.to_lowercase(),
            chars.as_str()
        ),
        None => "does not compile".to_owned(),
    };
    compile_error(CompileErrorKind::Syntax, message, error.position())
}

fn compile_error(kind: CompileErrorKind, message: String, position: Position) -> CompileError {
    CompileError {
        kind,
        message,
        line: position.line().unwrap_or(1),
        column: position.position().unwrap_or(1),
    }
}

/// What a walk over an AST found.
#[derive(Default)]
struct Analysis {
    reads: Vec<(String, Position)>,
    writes: Vec<Write>,
    locals: HashSet<String>,
    shadows: Vec<(String, Position)>,
}

struct Write {
    name: String,
    position: Position,
    value: Shape,
}

/// What is statically known about the value of an expression.
enum Shape {
    Constant(Value),
    Variable(String),
    Text,
    List,
    Map,
    Unknown,
}

fn analyse(ast: &AST, variables: &[Variable]) -> Analysis {
    let mut analysis = Analysis::default();
    for function in ast.iter_functions() {
        analysis
            .locals
            .extend(function.params.iter().map(|p| p.to_string()));
    }
    let declared: HashSet<&str> = variables.iter().map(|v| v.name.as_str()).collect();
    let mut write_positions = HashSet::new();
    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Stmt(stmt)) => {
                analysis.visit_stmt(stmt, &declared, &mut write_positions);
            }
            Some(ASTNode::Expr(rhai::Expr::Variable(name, _, position)))
                if !write_positions.contains(position) =>
            {
                analysis.reads.push((name.1.to_string(), *position));
            }
            _ => {}
        }
        true
    });
    analysis
}

impl Analysis {
    fn visit_stmt(
        &mut self,
        stmt: &Stmt,
        declared: &HashSet<&str>,
        write_positions: &mut HashSet<Position>,
    ) {
        match stmt {
            Stmt::Var(var, _, position) => {
                let name = var.0.name.to_string();
                if declared.contains(name.as_str()) {
                    self.shadows.push((name.clone(), *position));
                }
                self.locals.insert(name);
            }
            Stmt::For(var, _) => {
                self.locals.insert(var.0.name.to_string());
                if let Some(counter) = &var.1 {
                    self.locals.insert(counter.name.to_string());
                }
            }
            Stmt::TryCatch(flow, _) => {
                if let rhai::Expr::Variable(name, _, _) = &flow.expr {
                    self.locals.insert(name.1.to_string());
                }
            }
            Stmt::Assignment(assignment) => {
                let (op, binary) = assignment.as_ref();
                if let Some((name, position)) = root_variable(&binary.lhs) {
                    write_positions.insert(position);
                    let plain = !op.is_op_assignment();
                    let direct = matches!(binary.lhs, rhai::Expr::Variable(..));
                    let value = if plain && direct {
                        shape(&binary.rhs)
                    } else {
                        Shape::Unknown
                    };
                    self.writes.push(Write {
                        name,
                        position,
                        value,
                    });
                }
            }
            _ => {}
        }
    }

    fn reads_ix(&self, variables: &[Variable]) -> Vec<VarIx> {
        let mut reads: Vec<VarIx> = self
            .reads
            .iter()
            .filter_map(|(name, _)| variables.iter().position(|v| &v.name == name))
            .collect();
        reads.sort_unstable();
        reads.dedup();
        reads
    }

    fn errors(&self, variables: &[Variable]) -> Vec<CompileError> {
        let types: HashMap<&str, VarType> =
            variables.iter().map(|v| (v.name.as_str(), v.ty)).collect();
        let mut errors = Vec::new();
        let mut reported = HashSet::new();
        for (name, position) in &self.shadows {
            let message = format!("`let {name}` hides the context variable `{name}`");
            errors.push(compile_error(
                CompileErrorKind::Shadow(name.clone()),
                message,
                *position,
            ));
        }
        for write in &self.writes {
            match types.get(write.name.as_str()) {
                None if !self.locals.contains(&write.name) && reported.insert(&write.name) => {
                    let message = format!("assigns `{}`, which is not declared", write.name);
                    let kind = CompileErrorKind::UndeclaredWrite(write.name.clone());
                    errors.push(compile_error(kind, message, write.position));
                }
                Some(ty) => {
                    if let Some(message) = mismatch(&write.name, *ty, &write.value, &types) {
                        let kind = CompileErrorKind::WrongType(write.name.clone());
                        errors.push(compile_error(kind, message, write.position));
                    }
                }
                None => {}
            }
        }
        for (name, position) in &self.reads {
            let known = types.contains_key(name.as_str()) || self.locals.contains(name);
            if !known && reported.insert(name) {
                let message = format!("reads `{name}`, which is not declared");
                let kind = CompileErrorKind::UndeclaredRead(name.clone());
                errors.push(compile_error(kind, message, *position));
            }
        }
        errors
    }
}

fn root_variable(expr: &rhai::Expr) -> Option<(String, Position)> {
    match expr {
        rhai::Expr::Variable(name, _, position) => Some((name.1.to_string(), *position)),
        rhai::Expr::Dot(binary, _, _) | rhai::Expr::Index(binary, _, _) => {
            root_variable(&binary.lhs)
        }
        _ => None,
    }
}

fn shape(expr: &rhai::Expr) -> Shape {
    match expr {
        rhai::Expr::BoolConstant(b, _) => Shape::Constant(Value::Bool(*b)),
        rhai::Expr::IntegerConstant(i, _) => Shape::Constant(Value::from(*i)),
        rhai::Expr::FloatConstant(f, _) => serde_json::Number::from_f64(**f)
            .map_or(Shape::Unknown, |n| Shape::Constant(Value::Number(n))),
        rhai::Expr::StringConstant(s, _) => Shape::Constant(Value::String(s.to_string())),
        rhai::Expr::CharConstant(c, _) => Shape::Constant(Value::String(c.to_string())),
        rhai::Expr::Unit(_) => Shape::Constant(Value::Null),
        rhai::Expr::InterpolatedString(..) => Shape::Text,
        rhai::Expr::Array(..) => Shape::List,
        rhai::Expr::Map(..) => Shape::Map,
        rhai::Expr::Variable(name, _, _) => Shape::Variable(name.1.to_string()),
        _ => Shape::Unknown,
    }
}

/// Broad families of types: a value of one family never fits another.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    Text,
    Numeric,
    Boolean,
    List,
    Structured,
    /// Text or structured (files and app items).
    Either,
}

fn family(ty: VarType) -> Family {
    match ty {
        VarType::String
        | VarType::Date
        | VarType::Datetime
        | VarType::Email
        | VarType::Phone
        | VarType::User => Family::Text,
        VarType::Integer | VarType::Number => Family::Numeric,
        VarType::Boolean => Family::Boolean,
        VarType::List => Family::List,
        VarType::Object | VarType::Certificate => Family::Structured,
        VarType::File | VarType::AppItem => Family::Either,
    }
}

fn fits(target: Family, source: Family) -> bool {
    let loose = |f: Family| matches!(f, Family::Text | Family::Structured | Family::Either);
    target == source
        || (target == Family::Either && loose(source))
        || (source == Family::Either && loose(target))
}

fn mismatch(
    name: &str,
    ty: VarType,
    value: &Shape,
    types: &HashMap<&str, VarType>,
) -> Option<String> {
    let source = match value {
        Shape::Constant(constant) => {
            return ty
                .check(constant)
                .err()
                .map(|detail| format!("assigns {constant} to `{name}` ({ty}): {detail}"));
        }
        Shape::Variable(other) => {
            let other_ty = *types.get(other.as_str())?;
            let ok = fits(family(ty), family(other_ty));
            return (!ok).then(|| format!("assigns `{other}` ({other_ty}) to `{name}` ({ty})"));
        }
        Shape::Text => ("text", Family::Text),
        Shape::List => ("a list", Family::List),
        Shape::Map => ("a map", Family::Structured),
        Shape::Unknown => return None,
    };
    (!fits(family(ty), source.1)).then(|| format!("assigns {} to `{name}` ({ty})", source.0))
}

#[cfg(test)]
mod tests;
