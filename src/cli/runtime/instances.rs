//! deploy, start, instances, show, history, tasks, complete, events send,
//! incidents, retry, cancel.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use sesflow_engine::definition::{Definition, MAX_DURATION};
use sesflow_engine::driver::{
    parse_var, Delivery, Deployed, Error, InstanceSummary, InstanceView, TaskView,
};
use sesflow_engine::events::Event;
use sesflow_engine::runtime::{read_issuance, Status, ISSUANCE_EVENT, ISSUANCE_SHAPE};
use sesflow_engine::{Config, Engine};

use super::{moment, open, print_json, Command, EventsCommand, Format};

/// Runs the commands that change or read instances.
pub(super) async fn run(db: &str, command: Command) -> anyhow::Result<()> {
    let engine = open(db, Config::default()).await?;
    match command {
        Command::Deploy { file } => deploy(&engine, &file).await,
        Command::Start {
            process,
            version,
            vars,
            vars_file,
            initiator,
        } => {
            let given = (vars, vars_file);
            start(&engine, &process, version, given, initiator).await
        }
        Command::Instances {
            status,
            process,
            limit,
            format,
        } => {
            let status = status.as_deref().map(parse_status).transpose()?;
            let rows = engine.instances(status, process.as_deref(), limit).await?;
            print_instances(&rows, format)
        }
        Command::Show { instance, format } => show(&engine, &instance, format).await,
        Command::History {
            instance,
            format,
            export,
        } => match export {
            Some(file) => crate::cli::replay::export(&engine, &instance, &file).await,
            None => history(&engine, &instance, format).await,
        },
        Command::Tasks { assignee, format } => {
            let tasks = engine.tasks(assignee.as_deref()).await?;
            print_tasks(&tasks, format)
        }
        Command::Complete { task, vars, reject } => complete(&engine, &task, &vars, reject).await,
        Command::Events { command } => send(&engine, command).await,
        Command::Incidents { format } => {
            let rows = engine.instances(Some(Status::Incident), None, 1000).await?;
            print_instances(&rows, format)
        }
        Command::Retry { instance, vars } => {
            let def = engine.instance_definition(&instance).await?;
            let status = engine.retry(&instance, parse_vars(&def, &vars)?).await?;
            eprintln!("instance {instance} retried: {}", status.name());
            Ok(())
        }
        Command::Cancel { instance } => {
            engine.cancel(&instance).await?;
            eprintln!("instance {instance} cancelled");
            Ok(())
        }
        Command::Run(_) | Command::Bench(_) => unreachable!("dispatched by the caller"),
    }
}

async fn start(
    engine: &Engine,
    process: &str,
    version: Option<u32>,
    (vars, vars_file): (Vec<String>, Option<PathBuf>),
    initiator: Option<String>,
) -> anyhow::Result<()> {
    let def = engine.definition(process, version).await?;
    let mut given = read_vars_file(vars_file.as_deref())?;
    given.extend(parse_vars(&def, &vars)?);
    let started = engine
        .start(process, Some(def.version), given, initiator)
        .await?;
    eprintln!(
        "started {process} version {}: {}",
        def.version,
        started.status.name()
    );
    println!("{}", started.id);
    Ok(())
}

async fn complete(
    engine: &Engine,
    task: &str,
    vars: &[String],
    reject: bool,
) -> anyhow::Result<()> {
    let instance = task.rsplit_once('.').map_or(task, |(instance, _)| instance);
    let tasks = engine.tasks(None).await?;
    if tasks
        .iter()
        .any(|open| open.id == task && open.kind == "sign")
    {
        return Err(Error::Input(format!(
            "task {task} is a signing: it is signed with `sesflow sign --task {task}` or \
             refused with `sesflow sign --task {task} --reject --comment TEXT`, both \
             confirmed with the signer's password; `complete` does not take signings"
        ))
        .into());
    }
    let def = engine.instance_definition(instance).await?;
    let data = parse_vars(&def, vars)?;
    let status = engine.complete(task, data, reject).await?;
    eprintln!(
        "task {task} completed; instance {instance} is {}",
        status.name()
    );
    Ok(())
}

async fn deploy(engine: &Engine, file: &Path) -> anyhow::Result<()> {
    if let Some(schema) = sesflow_engine::scenario::default_schema(file) {
        eprintln!(
            "skipped {}: a scenario file (run it with `sesflow test`), it tests {}",
            file.display(),
            schema.display()
        );
        return Ok(());
    }
    let source = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read schema file {}", file.display()))?;
    let (def, deployed) = engine.deploy(&file.display().to_string(), &source).await?;
    match deployed {
        Deployed::New => eprintln!("deployed {} version {}", def.process, def.version),
        Deployed::Unchanged => eprintln!(
            "{} version {} is deployed already with the same content; nothing changed",
            def.process, def.version
        ),
    }
    Ok(())
}

async fn send(engine: &Engine, command: EventsCommand) -> anyhow::Result<()> {
    let EventsCommand::Send {
        kind,
        key,
        id,
        data,
        ttl,
    } = command;
    let payload: Value = serde_json::from_str(&data).map_err(|error| {
        Error::Input(format!(
            "--data `{data}` is not JSON: {error}; write e.g. '{{\"a\": 1}}'"
        ))
    })?;
    let ttl = ttl.as_deref().map(parse_ttl).transpose()?;
    let event = Event {
        id: id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        kind,
        key,
        payload,
    };
    check_event(&event)?;
    match engine.send_event(&event, ttl).await? {
        Delivery::Duplicate => eprintln!("event {} was received before; ignored", event.id),
        Delivery::Delivered { instance_id } => {
            eprintln!("event {} delivered to instance {instance_id}", event.id);
        }
        Delivery::Kept => eprintln!("event {} kept until an instance waits for it", event.id),
    }
    println!("{}", event.id);
    Ok(())
}

async fn show(engine: &Engine, instance: &str, format: Format) -> anyhow::Result<()> {
    let view = engine.show(instance).await?;
    if format == Format::Json {
        return print_json(&view);
    }
    let summary = &view.summary;
    println!("instance  {}", summary.id);
    println!("process   {} version {}", summary.process, summary.version);
    println!("status    {}", summary.status);
    if let Some(outcome) = &summary.outcome {
        println!("outcome   {outcome}");
    }
    if let Some(incident) = &summary.incident {
        println!("incident  {incident}");
    }
    let (started, changed) = (moment(summary.created_at), moment(summary.updated_at));
    println!("started   {started}  changed {changed}  rev {}", view.rev);
    print_where(&view);
    Ok(())
}

/// Prints tokens, variables, joins, tasks and jobs of a shown instance.
fn print_where(view: &InstanceView) {
    println!("tokens");
    for token in &view.tokens {
        let detail = token
            .detail
            .as_deref()
            .map(|d| format!("  {d}"))
            .unwrap_or_default();
        println!(
            "  {:<6} {:<24} {}{detail}",
            token.id, token.node, token.wait
        );
    }
    println!("variables");
    for (name, value) in &view.variables {
        println!("  {name} = {value}");
    }
    for (join, arrived) in &view.joins {
        println!("join {join}: arrived {arrived}");
    }
    for task in &view.tasks {
        let assignee = task.assignee.as_deref().unwrap_or("-");
        println!("task {} at {} for {assignee}", task.id, task.node);
    }
    for job in &view.jobs {
        let due = moment(job["due_at"].as_i64().unwrap_or(0));
        println!("job {} at {} due {due}", job["kind"], job["node"]);
    }
}

async fn history(engine: &Engine, instance: &str, format: Format) -> anyhow::Result<()> {
    let lines = engine.history(instance).await?;
    for line in &lines {
        match format {
            Format::Json => println!("{}", serde_json::to_string(line)?),
            Format::Text => {
                let mut fields = serde_json::to_value(&line.record)?;
                if let Some(map) = fields.as_object_mut() {
                    map.remove("type");
                }
                println!(
                    "{} r{:<3} {:<15} {}",
                    moment(line.at),
                    line.rev,
                    line.record.name(),
                    fields
                );
            }
        }
    }
    Ok(())
}

fn print_instances(rows: &[InstanceSummary], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return print_json(&rows);
    }
    for row in rows {
        let note = row
            .incident
            .as_deref()
            .or(row.outcome.as_deref())
            .unwrap_or("");
        println!(
            "{}  {:<20} v{:<3} {:<10} {}",
            row.id, row.process, row.version, row.status, note
        );
    }
    Ok(())
}

fn print_tasks(tasks: &[TaskView], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return print_json(&tasks);
    }
    for task in tasks {
        println!(
            "{}  {:<10} {:<20} {:<12} form: {}",
            task.id,
            task.kind,
            task.node,
            task.assignee.as_deref().unwrap_or("-"),
            task.form.join(", ")
        );
    }
    Ok(())
}

fn parse_vars(def: &Definition, texts: &[String]) -> Result<Vec<(String, Value)>, Error> {
    texts.iter().map(|text| parse_var(def, text)).collect()
}

fn read_vars_file(file: Option<&Path>) -> anyhow::Result<Vec<(String, Value)>> {
    let Some(file) = file else {
        return Ok(Vec::new());
    };
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read variables file {}", file.display()))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|error| Error::Input(format!("{}: not JSON: {error}", file.display())))?;
    let Value::Object(map) = value else {
        let message = format!("{}: expected a JSON object of variables", file.display());
        return Err(Error::Input(message).into());
    };
    Ok(map.into_iter().collect())
}

fn parse_status(text: &str) -> Result<Status, Error> {
    Status::from_name(text).ok_or_else(|| {
        Error::Input(format!(
            "--status `{text}` is not a status; use active, incident, completed or cancelled"
        ))
    })
}

/// A `--ttl`: a positive duration of at most [`MAX_DURATION`].
fn parse_ttl(text: &str) -> Result<Duration, Error> {
    let ttl = humantime::parse_duration(text).map_err(|error| {
        Error::Input(format!(
            "--ttl `{text}` is not a duration ({error}); write e.g. 1h or 7d"
        ))
    })?;
    if ttl.is_zero() {
        return Err(Error::Input(format!(
            "--ttl `{text}` is zero, so the event would be kept for no time; \
             give a positive duration such as 1h, or leave --ttl out for the default"
        )));
    }
    if ttl > MAX_DURATION {
        return Err(Error::Input(format!(
            "--ttl `{text}` is longer than the limit of 100 years (36500d); give a shorter one"
        )));
    }
    Ok(ttl)
}

/// Refuses an event with an empty kind, key or id, or a certificate
/// service answer that does not have the documented shape.
fn check_event(event: &Event) -> Result<(), Error> {
    for (what, value) in [
        ("kind", &event.kind),
        ("--key", &event.key),
        ("--id", &event.id),
    ] {
        if value.trim().is_empty() {
            return Err(Error::Input(format!(
                "the event {what} is empty; give a non-empty value"
            )));
        }
    }
    if event.kind == ISSUANCE_EVENT {
        read_issuance(&event.payload).map_err(|why| {
            Error::Input(format!(
                "--data for a {ISSUANCE_EVENT} event: {why}; write {ISSUANCE_SHAPE}"
            ))
        })?;
    }
    Ok(())
}
