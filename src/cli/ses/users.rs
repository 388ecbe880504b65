//! `sesflow users`: add, list, show and change users.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde::Serialize;
use sesflow_activities::users::{self, NewUser, User};

use super::{finish, now, open, read_password, show_time, Output};

/// Manage the users who hold certificates and sign.
#[derive(Debug, Args)]
pub struct UsersArgs {
    /// The action.
    #[command(subcommand)]
    pub command: UsersCommand,
}

/// Actions on users.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user; with automatic certificates on, they get one at once.
    Add {
        /// The login: lower-case letters, digits, `.`, `_`, `-`.
        login: String,
        /// The full name.
        #[arg(long)]
        name: String,
        /// The e-mail address.
        #[arg(long)]
        email: Option<String>,
        /// The phone number in international form (+44 20 7946 0958).
        #[arg(long)]
        phone: Option<String>,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List {
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Show one user.
    Show {
        /// The login.
        login: String,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Change a user's e-mail address or phone number.
    Set {
        /// The login.
        login: String,
        /// The new e-mail address.
        #[arg(long)]
        email: Option<String>,
        /// The new phone number.
        #[arg(long)]
        phone: Option<String>,
    },
}

/// A user as printed: never the password hash.
#[derive(Serialize)]
struct View {
    login: String,
    full_name: String,
    email: Option<String>,
    phone: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
}

impl From<&User> for View {
    fn from(user: &User) -> Self {
        Self {
            login: user.login.clone(),
            full_name: user.full_name.clone(),
            email: user.email.clone(),
            phone: user.phone.clone(),
            created_at: sesflow_activities::store::datetime(user.created_at),
        }
    }
}

fn line(user: &View) -> String {
    format!(
        "{}\t{}\t{}\t{}\n",
        user.login,
        user.full_name,
        user.email.as_deref().unwrap_or("-"),
        user.phone.as_deref().unwrap_or("-")
    )
}

/// Runs `sesflow users`.
pub async fn run(db: &str, args: UsersArgs) -> anyhow::Result<ExitCode> {
    let ses = open(db).await?;
    match args.command {
        UsersCommand::Add {
            login,
            name,
            email,
            phone,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let new = NewUser {
                login,
                full_name: name,
                email,
                phone,
                password,
            };
            finish(async {
                let (user, decision) = ses.add_user(new, now()).await?;
                println!("added user {} ({})", user.login, user.full_name);
                if let Some(decision) = decision {
                    super::certs::print_decision(&decision);
                }
                Ok(ExitCode::SUCCESS)
            }
            .await)
        }
        UsersCommand::List { output } => {
            let list: Vec<View> = users::list(ses.db()).await?.iter().map(View::from).collect();
            output.print(&list, |list| list.iter().map(line).collect());
            Ok(ExitCode::SUCCESS)
        }
        UsersCommand::Show { login, output } => finish(
            async {
                let user = View::from(&users::require(ses.db(), &login).await?);
                output.print(&user, |u| {
                    format!(
                        "login:      {}\nfull name:  {}\ne-mail:     {}\nphone:      {}\nadded:      {}\n",
                        u.login,
                        u.full_name,
                        u.email.as_deref().unwrap_or("-"),
                        u.phone.as_deref().unwrap_or("-"),
                        show_time(u.created_at)
                    )
                });
                Ok(ExitCode::SUCCESS)
            }
            .await,
        ),
        UsersCommand::Set {
            login,
            email,
            phone,
        } => finish(
            async {
                let user =
                    users::set_contacts(ses.db(), &login, email.as_deref(), phone.as_deref())
                        .await?;
                print!("{}", line(&View::from(&user)));
                Ok(ExitCode::SUCCESS)
            }
            .await,
        ),
    }
}
