//! The command line: the clap definitions of the global flags and the command list, global
//! settings resolution, `--show-settings`, and printing. Each command is its own module
//! (`cli::ingest`, `cli::vacuum`, ...) holding its clap `Args`, the function that turns them
//! into the operation's settings (destructuring every field, so that a new flag cannot be
//! silently ignored), the call into `ops`, and the text rendering of the report. Argument
//! groups more than one command uses (dates, the Kafka source) are in `cli::args`.
//!
//! Nothing here talks to Delta or Kafka directly. What can go wrong: a usage error (clap, exit
//! 2), a setting that does not resolve (a bad `VBDA_*` value or `vbda.toml`, exit 1) and
//! whatever the operation reports; errors print to stderr (and, with `--output json`, as one
//! JSON object on stdout). A closed stdout is not an error.

mod args;
mod backfill;
mod bronze_to_silver;
mod check;
mod checkpoint;
mod ddl;
mod describe;
mod generate;
mod history;
mod human;
mod init;
mod ingest;
mod optimize;
mod output;
mod produce;
mod publish;
mod report;
mod restore;
mod show;
mod silver_to_gold;
mod sql;
mod status;
mod stream;
mod tables;
mod vacuum;
mod validate;

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::lake::Lakehouse;
use crate::ops::run_metrics::{self, MetricsSinks, RunOutcome, RunSamples};
use crate::settings::{self, Project, Setting, StorageSettings, resolve};
use crate::telemetry::{self, LogFormat};
use output::{Formats, print_error, print_stdout, usage_error};

/// Runs and maintains a Delta Lake lakehouse for video-streaming analytics.
///
/// Player events land in bronze (`ingest`, `stream`), are validated and deduplicated into
/// silver (`bronze-to-silver`) and aggregated into gold (`silver-to-gold`).
///
/// Exit codes: 0 success; 1 the data or a spec is wrong (do not retry); 2 usage error;
/// 3 the environment failed (storage, Kafka, network: worth a retry).
#[derive(Debug, Parser)]
#[command(name = "vbda", version, propagate_version = true, max_term_width = 110)]
pub struct Cli {
    /// Project folder (with tables/, jobs/, vbda.toml) or its vbda.toml [env: VBDA_PROJECT] [default: .]
    #[arg(long, global = true, help_heading = "Global options", value_name = "DIR")]
    project: Option<PathBuf>,
    /// Lakehouse root: a local folder or s3://bucket/prefix [env: VBDA_LAKEHOUSE] [default: ./lakehouse]
    #[arg(long, global = true, help_heading = "Global options", value_name = "PATH|URL")]
    lakehouse: Option<String>,
    /// More log output: -v debug, -vv trace (vbda), -vvv trace (every library too)
    #[arg(short, long, global = true, help_heading = "Global options", action = clap::ArgAction::Count)]
    verbose: u8,
    /// Less log output: errors only
    #[arg(short, long, global = true, help_heading = "Global options", conflicts_with = "verbose")]
    quiet: bool,
    /// Log line format on stderr [env: VBDA_LOG_FORMAT] [default: text]
    #[arg(long, global = true, help_heading = "Global options", value_enum)]
    log_format: Option<LogFormat>,
    /// Run summary format on stdout: text, or one JSON object for schedulers [env: VBDA_OUTPUT] [default: text]
    #[arg(long, global = true, help_heading = "Global options", value_enum)]
    output: Option<OutputFormat>,
    /// Also write the run's metrics (Prometheus text format) to this file, for the node exporter's
    /// textfile collector; one file per command [env: VBDA_METRICS_FILE]
    #[arg(long, global = true, help_heading = "Global options", value_name = "PATH")]
    metrics_file: Option<PathBuf>,
    /// Also push the run's metrics to this Prometheus Pushgateway (job vbda, grouped by command)
    /// [env: VBDA_PUSHGATEWAY]
    #[arg(long, global = true, help_heading = "Global options", value_name = "URL")]
    pushgateway: Option<String>,
    /// Print the resolved settings (secrets redacted) and exit
    #[arg(long, global = true, help_heading = "Global options", hide = true)]
    show_settings: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    Text,
    Json,
}

impl std::str::FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        <Self as ValueEnum>::from_str(s, true)
    }
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        <Self as ValueEnum>::from_str(s, true)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a project in a new folder: vbda.toml, tables/, jobs/ and airflow/ from the built-in defaults
    Init(init::InitArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    #[command(after_help = "Examples:
  vbda completions bash > ~/.local/share/bash-completion/completions/vbda
  vbda completions zsh > \"${fpath[1]}/_vbda\"
  vbda completions fish > ~/.config/fish/completions/vbda.fish")]
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write realistic synthetic player events and a content catalog to files
    Generate(generate::GenerateArgs),
    /// Append new landing files to bronze.video_events, each file exactly once
    Ingest(ingest::IngestArgs),
    /// Consume Kafka into bronze in micro-batches, exactly once
    ///
    /// TLS (OpenSSL), SASL PLAIN and SCRAM-SHA-256/512, and gzip, snappy, lz4 and zstd are
    /// built in (not GSSAPI, nor OAUTHBEARER's OIDC token fetch). A wrong password, an
    /// untrusted certificate or the wrong security.protocol exits 1 at once with a hint
    /// (retrying cannot help).
    Stream(stream::StreamArgs),
    /// Validate, type and deduplicate bronze into silver and quarantine (dates given, or those new bronze commits touched)
    BronzeToSilver(bronze_to_silver::BronzeToSilverArgs),
    /// Build the gold tables for dates (or what changed in silver) with the SQL models in jobs/
    SilverToGold(silver_to_gold::SilverToGoldArgs),
    /// Check every table spec and gold SQL model without touching the lakehouse (file, line, suggestion)
    Validate(validate::ValidateArgs),
    /// Run the table specs' expectations against committed data (exit 1 when a `fail` rule fails)
    Check(check::CheckArgs),
    /// List the tables with location, version, files, bytes and rows
    Tables(tables::TablesArgs),
    /// Ad-hoc SQL over the tables by name (gold.daily_kpis), as a table, CSV, JSON lines or Parquet
    Sql(sql::SqlArgs),
    /// Show one table: spec, columns, expectations, version, size
    Describe(describe::DescribeArgs),
    /// Print a table's rows (one date's partition with --date), sorted by its keys
    Show(show::ShowArgs),
    /// Remove data files no longer referenced, honouring each table's retention
    Vacuum(vacuum::VacuumArgs),
    /// Compact small files into target-size files (bin-packing), per table or per date partition
    Optimize(optimize::OptimizeArgs),
    /// Write a checkpoint and clean up expired log files
    Checkpoint(checkpoint::CheckpointArgs),
    /// Show a table's commits with their operations and counts
    History(history::HistoryArgs),
    /// Versions, sizes, freshness, small files of every table, and the stream's Kafka lag
    Status(status::StatusArgs),
    /// Restore a table to an earlier version or timestamp (a new commit; history is kept)
    #[command(disable_version_flag = true)]
    Restore(restore::RestoreArgs),
    /// Print the statements that register every table with Spark, Trino or Athena (by location)
    Ddl(ddl::DdlArgs),
    /// Publish gold tables into PostgreSQL for BI tools, each date in one transaction (dates given, or what changed)
    Publish(publish::PublishArgs),
    /// Write an HTML report of a date range: KPIs and trends, content, QoE, ads, churn, data quality
    Report(report::ReportArgs),
    /// Send NDJSON files' lines (e.g. from `vbda generate`) to a Kafka topic, keyed by session_id
    Produce(produce::ProduceArgs),
    /// Run bronze-to-silver and silver-to-gold for each date of a range in order, resumably
    Backfill(backfill::BackfillArgs),
}

/// Everything global, resolved.
#[derive(Debug, Serialize)]
struct GlobalSettings {
    project: PathBuf,
    config_file: Option<PathBuf>,
    lakehouse: Setting<Option<String>>,
    output: Setting<Option<OutputFormat>>,
    log_format: Setting<Option<LogFormat>>,
    landing: Setting<Option<String>>,
    storage: StorageSettings,
    metrics_file: Setting<Option<PathBuf>>,
    pushgateway: Setting<Option<String>>,
}

impl GlobalSettings {
    fn metrics_sinks(&self) -> MetricsSinks {
        MetricsSinks { file: self.metrics_file.value.clone(), pushgateway: self.pushgateway.value.clone() }
    }
}

/// What every command's settings resolution and run may use.
struct Context<'a> {
    project: &'a Project,
    globals: &'a GlobalSettings,
    /// The command line with secrets redacted, for commit info.
    args: Vec<String>,
    /// `--show-settings`: print the resolved settings instead of running.
    show_settings: bool,
}

impl Context<'_> {
    /// The lakehouse, opened only by commands that run (never for `--show-settings`).
    fn lakehouse(&self) -> Result<Lakehouse> {
        let root = self.globals.lakehouse.value.clone().unwrap_or_else(|| "lakehouse".into());
        Lakehouse::new(&root, self.globals.storage.delta_options())
    }

    fn catalog(&self) -> Result<Catalog> {
        Catalog::load(&self.project.dir)
    }

    /// The catalog with its gold models planned (`vbda validate`'s checks): for the commands
    /// that transform or check data, so a broken model fails before any data is read.
    fn validated_catalog(&self) -> Result<Catalog> {
        crate::ops::validate::validated_catalog(&self.project.dir)
    }
}

/// Parse the command line, run, print, and return the exit code. Never panics on bad input.
pub fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    let matches = match <Cli as clap::CommandFactory>::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => return usage_error(&e, &raw),
    };
    // The command's name as typed (`bronze-to-silver`), for the run's metrics.
    let name = matches.subcommand_name().unwrap_or("vbda").to_string();
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e, &raw),
    };
    // Recorded in commit info: the program name, not the path it was run from; no secrets.
    let mut args = settings::redact_args(&raw);
    if let Some(first) = args.first_mut() {
        *first = "vbda".into();
    }
    let early = Formats::early(&raw);
    match run(cli, &name, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err((e, formats)) => {
            print_error(&e, formats.unwrap_or(early));
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: Cli, name: &str, args: Vec<String>) -> std::result::Result<(), (Error, Option<Formats>)> {
    let started = std::time::Instant::now();
    let project = Project::load(cli.project.clone()).map_err(|e| (e, None))?;
    let globals = resolve_globals(&cli, &project).map_err(|e| (e, None))?;
    let sinks = globals.metrics_sinks();
    sinks.check().map_err(|e| (e, None))?;
    let output = globals.output.value.unwrap_or(OutputFormat::Text);
    let log = globals.log_format.value.unwrap_or(LogFormat::Text);
    let formats = Formats { output, log };
    let verbosity = if cli.quiet { -1 } else { cli.verbose as i8 };
    telemetry::init(log, verbosity);
    let ctx = Context { project: &project, globals: &globals, args, show_settings: cli.show_settings };
    let result = dispatch(cli.command, &ctx);
    if !sinks.is_empty() {
        let mut failed = RunSamples::default();
        let (exit_code, samples) = match &result {
            Ok(Some(r)) => (r.failure.as_ref().map_or(0, Error::exit_code), Some(&r.samples)),
            Ok(None) => (0, None),
            Err(e) => {
                // The `fail` expectations that stopped the run, for the alert on them.
                for (table, rule, rows) in e.failed_rules() {
                    failed.expectations.insert((table.clone(), rule.clone(), "fail".into()), *rows);
                }
                (e.exit_code(), Some(&failed))
            }
        };
        // `--show-settings` and `completions` ran nothing worth a sample.
        if let Some(samples) = samples {
            let outcome = RunOutcome { command: name, exit_code, seconds: started.elapsed().as_secs_f64(), labels: run_metrics::airflow_labels() };
            emit_metrics(&sinks, &outcome, samples);
        }
    }
    match result {
        // `--show-settings`: printed already.
        Ok(None) => Ok(()),
        Ok(Some(report)) => {
            match output {
                OutputFormat::Json => print_stdout(&report.json),
                OutputFormat::Text => print_stdout(&report.text),
            }
            match report.failure {
                // The summary (with `ok: true` for the work done) is already out; the error
                // goes to stderr and sets the exit code.
                Some(e) => Err((e, Some(Formats { output: OutputFormat::Text, log }))),
                None => Ok(()),
            }
        }
        Err(e) => Err((e, Some(formats))),
    }
}

/// Write and push the run's metrics; a failure is a warning, the run's work being done.
fn emit_metrics(sinks: &MetricsSinks, outcome: &RunOutcome<'_>, samples: &RunSamples) {
    let text = run_metrics::encode(Some(outcome), samples);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("metrics not written: cannot start the async runtime: {e}");
            return;
        }
    };
    for warning in runtime.block_on(sinks.emit(&text, outcome)) {
        tracing::warn!("{warning}");
    }
}

/// Resolve the command's settings, then print them (`--show-settings`) or run the command.
fn dispatch(command: Command, ctx: &Context) -> Result<Option<Rendered>> {
    match command {
        Command::Init(a) => execute(ctx, "init", init::settings(a, ctx)?, init::run),
        Command::Completions { shell } => {
            if ctx.show_settings {
                print_settings(ctx.globals, "completions", &serde_json::json!({ "shell": shell.to_string() }));
                return Ok(None);
            }
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut out = std::io::stdout().lock();
            clap_complete::generate(shell, &mut command, "vbda", &mut out);
            Ok(None)
        }
        Command::Generate(a) => execute(ctx, "generate", generate::settings(a, ctx)?, generate::run),
        Command::Ingest(a) => {
            let plan = ingest::settings(a, ctx)?;
            execute(ctx, plan.command(), plan, ingest::run)
        }
        Command::Stream(a) => execute(ctx, "stream", stream::settings(a, ctx)?, stream::run),
        Command::BronzeToSilver(a) => {
            execute(ctx, "bronze-to-silver", bronze_to_silver::settings(a, ctx)?, bronze_to_silver::run)
        }
        Command::SilverToGold(a) => execute(ctx, "silver-to-gold", silver_to_gold::settings(a, ctx)?, silver_to_gold::run),
        Command::Validate(a) => execute(ctx, "validate", validate::settings(a, ctx)?, validate::run),
        Command::Check(a) => execute(ctx, "check", check::settings(a, ctx)?, check::run),
        Command::Tables(a) => execute(ctx, "tables", tables::settings(a, ctx)?, tables::run),
        Command::Describe(a) => execute(ctx, "describe", describe::settings(a, ctx)?, describe::run),
        Command::Sql(a) => execute(ctx, "sql", sql::settings(a, ctx)?, sql::run),
        Command::Show(a) => execute(ctx, "show", show::settings(a, ctx)?, show::run),
        Command::Vacuum(a) => execute(ctx, "vacuum", vacuum::settings(a, ctx)?, vacuum::run),
        Command::Optimize(a) => execute(ctx, "optimize", optimize::settings(a, ctx)?, optimize::run),
        Command::Checkpoint(a) => execute(ctx, "checkpoint", checkpoint::settings(a, ctx)?, checkpoint::run),
        Command::History(a) => execute(ctx, "history", history::settings(a, ctx)?, history::run),
        Command::Status(a) => execute(ctx, "status", status::settings(a, ctx)?, status::run),
        Command::Restore(a) => execute(ctx, "restore", restore::settings(a, ctx)?, restore::run),
        Command::Ddl(a) => execute(ctx, "ddl", ddl::settings(a, ctx)?, ddl::run),
        Command::Publish(a) => execute(ctx, "publish", publish::settings(a, ctx)?, publish::run),
        Command::Report(a) => execute(ctx, "report", report::settings(a, ctx)?, report::run),
        Command::Produce(a) => execute(ctx, "produce", produce::settings(a, ctx)?, produce::run),
        Command::Backfill(a) => execute(ctx, "backfill", backfill::settings(a, ctx)?, backfill::run),
    }
}

/// `--show-settings` prints the resolved settings and returns None; otherwise the command
/// runs on a fresh async runtime. Nothing before this point opens the lakehouse or connects.
fn execute<'c, S, F>(ctx: &'c Context<'c>, command: &str, settings: S, run: impl FnOnce(S, &'c Context<'c>) -> F) -> Result<Option<Rendered>>
where
    S: Serialize,
    F: Future<Output = Result<Rendered>>,
{
    if ctx.show_settings {
        print_settings(ctx.globals, command, &settings);
        return Ok(None);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::environment("cannot start the async runtime").with_source(e))?;
    runtime.block_on(run(settings, ctx)).map(Some)
}

/// The global settings, the command's name and its resolved settings, as one JSON object.
/// Secrets are redacted by the settings' serializers (S3 credentials are shown as set or
/// unset, Kafka secrets as `<redacted>`); credentials inside URLs are blanked here.
fn print_settings<S: Serialize>(globals: &GlobalSettings, command: &str, settings: &S) {
    #[derive(Serialize)]
    struct Shown<'a, S: Serialize> {
        #[serde(flatten)]
        globals: &'a GlobalSettings,
        command: &'a str,
        settings: &'a S,
    }
    let shown = Shown { globals, command, settings };
    let text = serde_json::to_string_pretty(&shown).unwrap_or_default();
    let text = text.lines().map(settings::redact_url_userinfo).collect::<Vec<_>>().join("\n");
    print_stdout(&text);
}

fn resolve_globals(cli: &Cli, project: &Project) -> Result<GlobalSettings> {
    let file = &project.config;
    let lakehouse = resolve(
        cli.lakehouse.clone(),
        "VBDA_LAKEHOUSE",
        file.lakehouse.as_deref().map(|v| project.path_setting(v)),
        Some("lakehouse".to_string()),
    )?;
    let output = resolve(cli.output, "VBDA_OUTPUT", parse_opt(&file.output, "output")?, Some(OutputFormat::Text))?;
    let log_format =
        resolve(cli.log_format, "VBDA_LOG_FORMAT", parse_opt(&file.log_format, "log_format")?, Some(LogFormat::Text))?;
    // The landing folder is a global setting (shown with the others) that only ingest's flag sets.
    let landing_flag = match &cli.command {
        Command::Ingest(a) => a.landing.clone(),
        _ => None,
    };
    let landing = resolve(
        landing_flag,
        "VBDA_LANDING",
        file.ingest.landing.as_deref().map(|v| project.path_setting(v)),
        Some("landing".to_string()),
    )?;
    let storage = StorageSettings::resolve(&file.s3)?;
    let metrics_file = resolve(cli.metrics_file.clone(), "VBDA_METRICS_FILE", None, None)?;
    let pushgateway = resolve(cli.pushgateway.clone(), "VBDA_PUSHGATEWAY", None, None)?;
    Ok(GlobalSettings {
        project: project.dir.clone(),
        config_file: project.config_path.clone(),
        lakehouse,
        output,
        log_format,
        landing,
        storage,
        metrics_file,
        pushgateway,
    })
}

fn parse_opt<T: std::str::FromStr<Err = String>>(v: &Option<String>, key: &str) -> Result<Option<T>> {
    v.as_deref()
        .map(|s| s.parse::<T>().map_err(|e| Error::data(format!("vbda.toml: `{key}`: {e}"))))
        .transpose()
}

/// A finished command's summary, in both renderings.
struct Rendered {
    text: String,
    json: String,
    /// A run that did its work but must still fail (printed after the summary).
    failure: Option<Error>,
    /// What `--metrics-file` and `--pushgateway` report beyond duration and exit code.
    samples: RunSamples,
}

/// The JSON rendering is the report's own serialisation plus `command` and `ok`.
fn render<T: Serialize>(command: &str, report: &T, text: String) -> Rendered {
    let mut value = serde_json::to_value(report).unwrap_or_default();
    if let serde_json::Value::Object(map) = &mut value {
        map.insert("command".into(), command.into());
        map.insert("ok".into(), true.into());
    }
    Rendered { text, json: value.to_string(), failure: None, samples: RunSamples::default() }
}

impl Rendered {
    fn with_samples(mut self, samples: RunSamples) -> Self {
        self.samples = samples;
        self
    }

    /// The run did part of its work and still fails with `e`: the JSON says so too (`ok`
    /// false, the error and hint next to what was done).
    fn failing(mut self, e: Option<Error>) -> Self {
        let Some(e) = e else { return self };
        if let Ok(serde_json::Value::Object(mut map)) = serde_json::from_str::<serde_json::Value>(&self.json) {
            map.insert("ok".into(), false.into());
            map.insert("exit_code".into(), e.exit_code().into());
            map.insert("error".into(), e.message().into());
            map.insert("hint".into(), e.hint().into());
            self.json = serde_json::Value::Object(map).to_string();
        }
        self.failure = Some(e);
        self
    }
}
