//! `custody-gateway`: serve (default), migrate, sim, merchant create/list.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::json;

use custody_gateway::config::Settings;
use custody_gateway::webhooks::endpoint;
use custody_gateway::{StartError, connect_database, orders, sim, start, store, telemetry};

#[derive(Parser)]
#[command(
    name = "custody-gateway",
    version,
    about = "One merchant API over several crypto custody providers"
)]
struct Cli {
    /// Folder holding default.toml.
    #[arg(long, env = "CUSTODY_CONFIG_DIR", default_value = "config")]
    config_dir: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Run only the provider simulators, on server.bind.
    Sim,
    /// Manage merchants.
    Merchant {
        #[command(subcommand)]
        command: MerchantCommand,
    },
}

#[derive(Subcommand)]
enum MerchantCommand {
    /// Create a merchant; prints {"id", "api_key", "webhook_secret"} once.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        webhook_url: Option<String>,
    },
    /// List merchants (without secrets).
    List,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(&cli.config_dir) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(settings.log.format);
    match run(cli.command.unwrap_or(Command::Serve), settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> Result<(), StartError> {
    match command {
        Command::Serve => {
            let gateway = start(settings).await?;
            tracing::info!(url = %gateway.url(), "custody-gateway listening");
            if let Some(key) = &gateway.demo_api_key {
                // Simulator mode only: the demo merchant's key, so the README walk-through works.
                println!("simulator mode: demo merchant API key: {key}");
            }
            gateway.wait().await;
        }
        Command::Migrate => {
            connect_database(&settings).await?;
            println!("migrations applied");
        }
        Command::Sim => {
            let listener = tokio::net::TcpListener::bind(&settings.server.bind)
                .await
                .map_err(|source| StartError::Bind {
                    bind: settings.server.bind.clone(),
                    source,
                })?;
            tracing::info!(bind = %settings.server.bind, "provider simulators listening");
            sim::serve(&settings, listener)
                .await
                .map_err(|source| StartError::Bind {
                    bind: settings.server.bind.clone(),
                    source,
                })?;
        }
        Command::Merchant { command } => {
            let pool = connect_database(&settings).await?;
            match command {
                MerchantCommand::Create { name, webhook_url } => {
                    if let Some(url) = &webhook_url {
                        endpoint::check(url, settings.webhooks.allow_private_addresses)
                            .await
                            .map_err(|err| StartError::Invalid(err.to_string()))?;
                    }
                    let created =
                        orders::merchants::create_merchant(&pool, &name, webhook_url.as_deref())
                            .await?;
                    println!(
                        "{}",
                        json!({
                            "id": created.merchant.id,
                            "api_key": created.api_key,
                            "webhook_secret": created.merchant.webhook_secret,
                        })
                    );
                }
                MerchantCommand::List => {
                    for merchant in store::merchants::list_merchants(&pool).await? {
                        println!(
                            "{}",
                            json!({
                                "id": merchant.id,
                                "name": merchant.name,
                                "webhook_url": merchant.webhook_url,
                                "disabled": merchant.disabled,
                                "created_at": merchant.created_at,
                            })
                        );
                    }
                }
            }
        }
    }
    Ok(())
}
