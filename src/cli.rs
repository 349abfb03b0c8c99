//! The command line: clap definitions, resolution of flags into settings, dispatch to the
//! operations in `ops`, and rendering of their reports as text or JSON. Nothing here talks to
//! Delta or Kafka directly.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::lake::Lakehouse;
use crate::ops;
use crate::settings::{self, Project, Setting, StorageSettings, resolve};
use crate::telemetry::{self, LogFormat};

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
    #[arg(long, global = true, value_name = "DIR")]
    project: Option<PathBuf>,
    /// Lakehouse root: a local folder or s3://bucket/prefix [env: VBDA_LAKEHOUSE] [default: ./lakehouse]
    #[arg(long, global = true, value_name = "PATH|URL")]
    lakehouse: Option<String>,
    /// More log output (-v debug, -vv trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Less log output: errors only
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Log line format on stderr [env: VBDA_LOG_FORMAT] [default: text]
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    /// Run summary format on stdout: text, or one JSON object for schedulers [env: VBDA_OUTPUT] [default: text]
    #[arg(long, global = true, value_enum)]
    output: Option<OutputFormat>,
    /// Print the resolved settings (secrets redacted) and exit
    #[arg(long, global = true, hide = true)]
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
    /// Write realistic synthetic player events and a content catalog to files
    Generate(GenerateArgs),
    /// Append new landing files to bronze.video_events, each file exactly once
    Ingest(IngestArgs),
    /// Consume Kafka into bronze in micro-batches, exactly once
    Stream(StreamArgs),
    /// Validate, type and deduplicate bronze into silver and quarantine (dates given, or those new bronze commits touched)
    BronzeToSilver(DateArgs),
    /// Build the gold tables for dates (or what changed in silver) with the SQL models in jobs/
    SilverToGold(GoldArgs),
    /// Run the table specs' expectations against committed data (exit 1 when a `fail` rule fails)
    Check(CheckArgs),
    /// List the tables with location, version, files, bytes and rows
    Tables,
    /// Show one table: spec, columns, expectations, version, size
    Describe(DescribeArgs),
    /// Print a table's rows (one date's partition with --date), sorted by its keys
    Show(ShowArgs),
    /// Remove data files no longer referenced, honouring each table's retention
    Vacuum(VacuumArgs),
    /// Compact small files into target-size files (bin-packing), per table or per date partition
    Optimize(OptimizeArgs),
    /// Write a checkpoint and clean up expired log files
    Checkpoint(TableOpt),
    /// Show a table's commits with their operations and counts
    History(HistoryArgs),
    /// Versions, sizes, freshness, small files of every table, and the stream's Kafka lag
    Status(StatusArgs),
    /// Restore a table to an earlier version or timestamp (a new commit; history is kept)
    #[command(disable_version_flag = true)]
    Restore(RestoreArgs),
    /// Send NDJSON files' lines (e.g. from `vbda generate`) to a Kafka topic, keyed by session_id
    Produce(ProduceArgs),
    /// Run bronze-to-silver and silver-to-gold for each date of a range in order, resumably
    Backfill(BackfillArgs),
}

#[derive(Debug, Args)]
struct GenerateArgs {
    /// Landing folder for the event files (OUT/date=D/part-N.ndjson) [default: ./landing]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Where to write the content catalog CSV (for `vbda ingest --content`)
    #[arg(long, value_name = "FILE", default_value = "content.csv")]
    content_out: PathBuf,
    /// A day to generate (repeatable) [default: 2025-01-01]
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: Vec<NaiveDate>,
    /// First day of a range (with --to)
    #[arg(long, value_name = "YYYY-MM-DD", requires = "to", conflicts_with = "date")]
    from: Option<NaiveDate>,
    /// Last day of a range, inclusive (with --from)
    #[arg(long, value_name = "YYYY-MM-DD", requires = "from")]
    to: Option<NaiveDate>,
    /// Events per day
    #[arg(long, default_value_t = 100_000)]
    events: u64,
    /// Seed: the same seed writes the same bytes
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// File format
    #[arg(long, value_enum, default_value_t = GenFormat::Ndjson)]
    format: GenFormat,
    /// Compress files with gzip
    #[arg(long)]
    gzip: bool,
    /// Files per day
    #[arg(long, default_value_t = 1)]
    files_per_day: u32,
    /// Distinct users
    #[arg(long, default_value_t = 10_000)]
    users: u32,
    /// Distinct content items in the catalog
    #[arg(long, default_value_t = 2_000)]
    content_items: u32,
    /// Share of lines that are not valid JSON
    #[arg(long, default_value_t = 0.0, value_name = "0..1")]
    malformed_share: f64,
    /// Share of events sent twice
    #[arg(long, default_value_t = 0.0, value_name = "0..1")]
    duplicate_share: f64,
    /// Share of events that arrive 1-3 days late
    #[arg(long, default_value_t = 0.0, value_name = "0..1")]
    late_share: f64,
    /// Share of events with bad values (negative numbers, wrong types, unknown event types, missing ids)
    #[arg(long, default_value_t = 0.0, value_name = "0..1")]
    bad_value_share: f64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum GenFormat {
    Ndjson,
    Csv,
}

#[derive(Debug, Args)]
struct IngestArgs {
    /// Landing folder or s3://bucket/prefix [env: VBDA_LANDING] [vbda.toml: ingest.landing] [default: ./landing]
    #[arg(long, value_name = "DIR|URL")]
    landing: Option<String>,
    /// Also ingest files that changed since they were ingested (as new data)
    #[arg(long)]
    reingest_changed: bool,
    /// Load a content catalog (CSV with header, or NDJSON) into silver.content, replacing it (no landing files are read)
    #[arg(long, value_name = "FILE")]
    content: Option<PathBuf>,
    /// Commit after this many rows [env: VBDA_INGEST_BATCH_ROWS] [vbda.toml: ingest.batch_rows] [default: 1000000]
    #[arg(long)]
    batch_rows: Option<usize>,
}

#[derive(Debug, Args)]
struct StreamArgs {
    #[command(flatten)]
    source: KafkaSourceArgs,
    /// Stop once the end offsets seen at start are committed
    #[arg(long)]
    until_caught_up: bool,
    /// With --until-caught-up: fail (exit 3) after this many seconds in which nothing moves
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    stall_timeout: u64,
    /// Close a batch at this many rows
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    max_rows: usize,
    /// Close a batch at this many payload bytes
    #[arg(long, default_value_t = 64 << 20, value_name = "BYTES")]
    max_bytes: usize,
    /// Close a batch this many milliseconds after its first message
    #[arg(long, default_value_t = 5_000, value_name = "MS")]
    max_age_ms: u64,
    /// Serve Prometheus metrics on this address [env: VBDA_METRICS_ADDR]
    #[arg(long)]
    metrics_addr: Option<String>,
}

#[derive(Debug, Args)]
struct DateArgs {
    /// One event date
    #[arg(long, value_name = "YYYY-MM-DD", conflicts_with_all = ["from", "to"])]
    date: Option<NaiveDate>,
    /// First date of a range (with --to)
    #[arg(long, value_name = "YYYY-MM-DD", requires = "to")]
    from: Option<NaiveDate>,
    /// Last date of a range, inclusive (with --from)
    #[arg(long, value_name = "YYYY-MM-DD", requires = "from")]
    to: Option<NaiveDate>,
}

#[derive(Debug, Args)]
struct GoldArgs {
    #[command(flatten)]
    dates: DateArgs,
    /// Only this gold model (its job name in jobs/, e.g. daily_kpis, or gold.daily_kpis)
    #[arg(long, value_name = "NAME")]
    model: Option<String>,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// Only this table (layer.name)
    #[arg(long)]
    table: Option<String>,
    /// Only this date's partition
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: Option<NaiveDate>,
}

#[derive(Debug, Args)]
struct DescribeArgs {
    /// The table, as layer.name (see `vbda tables`)
    table: String,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// The table, as layer.name (see `vbda tables`), e.g. gold.daily_kpis
    table: String,
    /// Only this date's partition
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: Option<NaiveDate>,
    /// At most this many rows
    #[arg(long, default_value_t = 20, value_name = "N")]
    limit: usize,
    /// Read this earlier version of the table (time travel; see `vbda history TABLE`)
    #[arg(long = "at-version", value_name = "N")]
    at_version: Option<i64>,
}

#[derive(Debug, Args)]
struct TableOpt {
    /// Only this table (layer.name); default all
    #[arg(long)]
    table: Option<String>,
}

#[derive(Debug, Args)]
struct ProduceArgs {
    /// NDJSON files (optionally .gz) or folders of them, sent in name order
    #[arg(long = "file", value_name = "PATH", required = true)]
    files: Vec<PathBuf>,
    /// Kafka bootstrap servers [env: VBDA_BROKERS] [vbda.toml: stream.brokers]
    #[arg(long)]
    brokers: Option<String>,
    /// Topic to send to [env: VBDA_TOPIC] [vbda.toml: stream.topic]
    #[arg(long)]
    topic: Option<String>,
    /// Messages per second [default: as fast as the broker takes them]
    #[arg(long, value_name = "N")]
    rate: Option<f64>,
    /// A librdkafka setting, repeatable (e.g. -X security.protocol=SASL_SSL); secrets are better
    /// passed as VBDA_KAFKA_<KEY> environment variables (VBDA_KAFKA_SASL_PASSWORD -> sasl.password)
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    config: Vec<String>,
}

#[derive(Debug, Args)]
struct BackfillArgs {
    #[command(flatten)]
    dates: DateArgs,
    /// Forget which dates an earlier run of this range completed, and do them all again
    #[arg(long)]
    restart: bool,
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// Only this table (layer.name); default all
    #[arg(long)]
    table: Option<String>,
    /// The stream's Kafka source: with brokers and topic known, status shows its consumer lag
    #[command(flatten)]
    source: KafkaSourceArgs,
}

/// Where `vbda stream` reads, shared by `stream` and `status` (for the lag).
#[derive(Debug, Args)]
struct KafkaSourceArgs {
    /// Kafka bootstrap servers [env: VBDA_BROKERS] [vbda.toml: stream.brokers]
    #[arg(long)]
    brokers: Option<String>,
    /// Topic(s), comma-separated [env: VBDA_TOPIC] [vbda.toml: stream.topic]
    #[arg(long)]
    topic: Option<String>,
    /// Consumer group [env: VBDA_GROUP] [vbda.toml: stream.group] [default: vbda-stream]
    #[arg(long)]
    group: Option<String>,
    /// A librdkafka setting, repeatable (e.g. -X security.protocol=SASL_SSL); secrets are better
    /// passed as VBDA_KAFKA_<KEY> environment variables (VBDA_KAFKA_SASL_PASSWORD -> sasl.password)
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    config: Vec<String>,
}

/// The consumer group `vbda stream` joins unless told otherwise.
use ops::stream::DEFAULT_GROUP;

/// The consumer group: flag > VBDA_GROUP > vbda.toml > vbda-stream.
fn stream_group(a: &KafkaSourceArgs, file: &crate::settings::StreamConfig) -> Result<String> {
    Ok(resolve(a.group.clone(), "VBDA_GROUP", file.group.clone(), Some(DEFAULT_GROUP.to_string()))?.value.unwrap_or_default())
}

#[derive(Debug, Args)]
struct HistoryArgs {
    /// The table, as layer.name (see `vbda tables`)
    table: String,
    /// At most this many commits, newest first
    #[arg(long, default_value_t = 50, value_name = "N")]
    limit: usize,
}

#[derive(Debug, Args)]
struct VacuumArgs {
    /// Only this table (layer.name); default all
    #[arg(long)]
    table: Option<String>,
    /// Keep files removed less than this many hours ago [default: the table spec's retention]
    #[arg(long, value_name = "HOURS", allow_negative_numbers = true)]
    retention_hours: Option<i64>,
    /// List what would be removed; remove nothing
    #[arg(long)]
    dry_run: bool,
    /// Also remove files no commit ever referenced
    #[arg(long)]
    full: bool,
    /// Allow a retention below the table's minimum
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
struct OptimizeArgs {
    /// Only this table (layer.name); default all
    #[arg(long)]
    table: Option<String>,
    #[command(flatten)]
    dates: DateArgs,
    /// Target file size in bytes [default: delta-rs's, 100 MiB]
    #[arg(long, value_name = "BYTES")]
    target_file_size: Option<u64>,
}

#[derive(Debug, Args)]
struct RestoreArgs {
    /// The table, as layer.name
    table: String,
    /// Version to restore (see `vbda history TABLE`)
    #[arg(long, conflicts_with = "timestamp", value_name = "N", allow_negative_numbers = true)]
    version: Option<i64>,
    /// Timestamp (RFC 3339) to restore
    #[arg(long)]
    timestamp: Option<String>,
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
}

/// Parse the command line, run, print, and return the exit code. Never panics on bad input.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    // Recorded in commit info: the program name, not the path it was run from; no secrets.
    let raw: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    let mut args = settings::redact_args(&raw);
    if let Some(first) = args.first_mut() {
        *first = "vbda".into();
    }
    let output_hint = cli.output.unwrap_or(OutputFormat::Text);
    match run(cli, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err((e, output)) => {
            print_error(&e, output.unwrap_or(output_hint));
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: Cli, args: Vec<String>) -> std::result::Result<(), (Error, Option<OutputFormat>)> {
    let project = Project::load(cli.project.clone()).map_err(|e| (e, None))?;
    let globals = resolve_globals(&cli, &project).map_err(|e| (e, None))?;
    let output = globals.output.value.unwrap_or(OutputFormat::Text);
    let verbosity = if cli.quiet { -1 } else { cli.verbose as i8 };
    telemetry::init(globals.log_format.value.unwrap_or(LogFormat::Text), verbosity);
    if cli.show_settings {
        let mut text = serde_json::to_string_pretty(&globals).unwrap_or_default();
        text = text.lines().map(settings::redact_url_userinfo).collect::<Vec<_>>().join("\n");
        print_stdout(&text);
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| (Error::environment("cannot start the async runtime").with_source(e), Some(output)))?;
    let result = runtime.block_on(dispatch(cli.command, &project, &globals, args));
    match result {
        Ok(report) => {
            match output {
                OutputFormat::Json => print_stdout(&report.json),
                OutputFormat::Text => print_stdout(&report.text),
            }
            match report.failure {
                // The summary (with `ok: true` for the work done) is already out; the error
                // goes to stderr and sets the exit code.
                Some(e) => Err((e, Some(OutputFormat::Text))),
                None => Ok(()),
            }
        }
        Err(e) => Err((e, Some(output))),
    }
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
    Ok(GlobalSettings {
        project: project.dir.clone(),
        config_file: project.config_path.clone(),
        lakehouse,
        output,
        log_format,
        landing,
        storage,
    })
}

fn parse_opt<T: std::str::FromStr<Err = String>>(v: &Option<String>, key: &str) -> Result<Option<T>> {
    v.as_deref()
        .map(|s| s.parse::<T>().map_err(|e| Error::data(format!("vbda.toml: `{key}`: {e}"))))
        .transpose()
}

/// A finished command's summary, in both renderings.
pub struct Rendered {
    text: String,
    json: String,
    /// A run that did its work but must still fail (printed after the summary).
    failure: Option<Error>,
}

fn render<T: Serialize>(command: &str, report: &T, text: String) -> Rendered {
    let mut value = serde_json::to_value(report).unwrap_or_default();
    if let serde_json::Value::Object(map) = &mut value {
        map.insert("command".into(), command.into());
        map.insert("ok".into(), true.into());
    }
    Rendered { text, json: value.to_string(), failure: None }
}

async fn dispatch(command: Command, project: &Project, globals: &GlobalSettings, args: Vec<String>) -> Result<Rendered> {
    let lakehouse = || -> Result<Lakehouse> {
        let root = globals.lakehouse.value.clone().unwrap_or_else(|| "lakehouse".into());
        Lakehouse::new(&root, globals.storage.delta_options())
    };
    let catalog = || Catalog::load(&project.dir);
    match command {
        Command::Generate(a) => {
            let dates = match (a.from, a.to) {
                (Some(from), Some(to)) => date_range(from, to)?,
                _ if a.date.is_empty() => vec![NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid date")],
                _ => a.date.clone(),
            };
            let settings = ops::generate::GenerateSettings {
                out_dir: a.out.unwrap_or_else(|| PathBuf::from("landing")),
                content_path: a.content_out,
                dates,
                events_per_day: a.events,
                seed: a.seed,
                format: match a.format {
                    GenFormat::Ndjson => ops::generate::GenerateFormat::Ndjson,
                    GenFormat::Csv => ops::generate::GenerateFormat::Csv,
                },
                gzip: a.gzip,
                files_per_day: a.files_per_day,
                users: a.users,
                content_items: a.content_items,
                malformed_share: a.malformed_share,
                duplicate_share: a.duplicate_share,
                late_share: a.late_share,
                bad_value_share: a.bad_value_share,
            };
            let started = std::time::Instant::now();
            let total = settings.events_per_day.saturating_mul(settings.dates.len() as u64);
            let progress = telemetry::Progress::new("generate", total, false);
            let report = tokio::task::block_in_place(|| ops::generate::generate(&settings, &|n| progress.set(n)))?;
            progress.finish();
            let secs = started.elapsed().as_secs_f64();
            let text = format!(
                "generated {} lines ({} events, {} malformed, {} duplicates, {} late, {} bad values) in {} files under {} in {:.1}s ({:.0} lines/s){}",
                report.lines,
                report.events,
                report.malformed,
                report.duplicates,
                report.late,
                report.bad_values,
                report.files.len(),
                settings.out_dir.display(),
                secs,
                report.lines as f64 / secs.max(1e-9),
                report
                    .content_path
                    .as_ref()
                    .map(|p| format!("\ncontent catalog: {} items in {}", report.content_items, p.display()))
                    .unwrap_or_default()
            );
            Ok(render("generate", &report, text))
        }
        Command::Ingest(a) => {
            if let Some(file) = &a.content {
                let report = ops::content::load_content(&lakehouse()?, &catalog()?, file, &args).await?;
                let text = ops::content::summary(&report);
                return Ok(render("ingest --content", &report, text));
            }
            let file = &project.config.ingest;
            let batch_rows = resolve(a.batch_rows, "VBDA_INGEST_BATCH_ROWS", file.batch_rows, Some(1_000_000))?;
            let settings = ops::ingest::IngestSettings {
                landing: globals.landing.value.clone().unwrap_or_else(|| "landing".into()),
                reingest_changed: a.reingest_changed,
                batch_rows: batch_rows.value.unwrap_or(1_000_000).max(1),
                args,
                ..Default::default()
            };
            let catalog = catalog()?;
            let report = ops::ingest::ingest(&lakehouse()?, &catalog, &settings).await?;
            let text = ops::ingest_summary(&report);
            let mut rendered = render("ingest", &report, text);
            rendered.failure = ops::ingest_problems(&report, settings.reingest_changed);
            Ok(rendered)
        }
        Command::Tables => {
            let report = ops::tables::list(&lakehouse()?, &catalog()?).await?;
            let text = ops::tables::list_text(&report);
            Ok(render("tables", &report, text))
        }
        Command::Describe(a) => {
            let catalog = catalog()?;
            let report = ops::tables::describe(&lakehouse()?, &catalog, &a.table).await?;
            let text = ops::tables::describe_text(&report);
            Ok(render("describe", &report, text))
        }
        Command::Show(a) => {
            let report = ops::tables::show(&lakehouse()?, &catalog()?, &a.table, a.date, a.at_version, a.limit).await?;
            let text = ops::tables::show_text(&report);
            Ok(render("show", &report, text))
        }
        Command::Stream(a) => {
            let file = &project.config.stream;
            let metrics_addr = resolve(a.metrics_addr.clone(), "VBDA_METRICS_ADDR", file.metrics_addr.clone(), None)?.value;
            let (brokers, topic) = kafka_target(a.source.brokers.clone(), a.source.topic.clone(), file)?;
            let group = stream_group(&a.source, file)?;
            let settings = ops::stream::StreamSettings {
                connection: crate::kafka::Connection::with_settings(brokers, &a.source.config)?,
                topics: topic_list(&topic),
                group,
                max_rows: a.max_rows,
                max_bytes: a.max_bytes,
                max_age: std::time::Duration::from_millis(a.max_age_ms),
                until_caught_up: a.until_caught_up,
                stall_timeout: std::time::Duration::from_secs(a.stall_timeout),
                metrics_addr,
                args,
            };
            let shutdown = ops::stream::Shutdown::new();
            stop_on_signals(&shutdown)?;
            let report = ops::stream::stream(&lakehouse()?, &catalog()?, &settings, shutdown).await?;
            let text = ops::stream::summary(&report);
            Ok(render("stream", &report, text))
        }
        Command::BronzeToSilver(d) => {
            let settings = ops::bronze_to_silver::BronzeToSilverSettings { dates: dates_of(&d)?, args };
            let report = ops::bronze_to_silver::bronze_to_silver(&lakehouse()?, &catalog()?, &settings).await?;
            let text = ops::bronze_to_silver::summary(&report);
            Ok(render("bronze-to-silver", &report, text))
        }
        Command::SilverToGold(g) => {
            let settings = ops::silver_to_gold::SilverToGoldSettings { dates: dates_of(&g.dates)?, model: g.model.clone(), args };
            let report = ops::silver_to_gold::silver_to_gold(&lakehouse()?, &catalog()?, &settings).await?;
            let text = ops::silver_to_gold::summary(&report);
            Ok(render("silver-to-gold", &report, text))
        }
        Command::Check(a) => {
            let report = ops::check::check(&lakehouse()?, &catalog()?, a.table.as_deref(), a.date).await?;
            let text = ops::check::summary(&report);
            let mut rendered = render("check", &report, text);
            rendered.failure = ops::check::failure(&report);
            Ok(rendered)
        }
        Command::Vacuum(a) => {
            let settings = ops::maintain::VacuumSettings {
                table: a.table.clone(),
                retention_hours: a.retention_hours,
                dry_run: a.dry_run,
                full: a.full,
                force: a.force,
                args,
            };
            let report = ops::maintain::vacuum(&lakehouse()?, &catalog()?, &settings).await?;
            let text = ops::maintain::vacuum_summary(&report);
            Ok(render("vacuum", &report, text))
        }
        Command::Optimize(a) => {
            let settings = ops::maintain::OptimizeSettings {
                table: a.table.clone(),
                dates: dates_of(&a.dates)?,
                target_file_size: a.target_file_size,
                args,
            };
            let report = ops::maintain::optimize(&lakehouse()?, &catalog()?, &settings).await?;
            let text = ops::maintain::optimize_summary(&report);
            Ok(render("optimize", &report, text))
        }
        Command::Checkpoint(a) => {
            let report = ops::maintain::checkpoint(&lakehouse()?, &catalog()?, a.table.as_deref()).await?;
            let text = ops::maintain::checkpoint_summary(&report);
            Ok(render("checkpoint", &report, text))
        }
        Command::History(a) => {
            let report = ops::maintain::history(&lakehouse()?, &catalog()?, &a.table, a.limit).await?;
            let text = ops::maintain::history_summary(&report);
            Ok(render("history", &report, text))
        }
        Command::Status(a) => {
            let file = &project.config.stream;
            let brokers = resolve(a.source.brokers.clone(), "VBDA_BROKERS", file.brokers.clone(), None)?.value;
            let topic = resolve(a.source.topic.clone(), "VBDA_TOPIC", file.topic.clone(), None)?.value;
            // The lag of the group the stream uses, its default included.
            let source = match (brokers, topic) {
                (Some(brokers), Some(topic)) => {
                    Some(ops::maintain::StreamSource {
                    connection: crate::kafka::Connection::with_settings(brokers, &a.source.config)?,
                    topics: topic_list(&topic),
                    group: stream_group(&a.source, file)?,
                })
                }
                _ => None,
            };
            let report = ops::maintain::status(&lakehouse()?, &catalog()?, a.table.as_deref(), source.as_ref()).await?;
            let text = ops::maintain::status_summary(&report);
            Ok(render("status", &report, text))
        }
        Command::Restore(a) => {
            let report =
                ops::maintain::restore(&lakehouse()?, &catalog()?, &a.table, a.version, a.timestamp.as_deref(), &args).await?;
            let text = ops::maintain::restore_summary(&report);
            Ok(render("restore", &report, text))
        }
        Command::Produce(a) => {
            let file = &project.config.stream;
            let (brokers, topic) = kafka_target(a.brokers.clone(), a.topic.clone(), file)?;
            let settings = ops::produce::ProduceSettings {
                connection: crate::kafka::Connection::with_settings(brokers, &a.config)?,
                topic,
                inputs: a.files.clone(),
                rate: a.rate,
            };
            let report = ops::produce::produce(&settings).await?;
            let text = ops::produce::summary(&report);
            let mut rendered = render("produce", &report, text);
            rendered.failure = ops::produce::failure(&report);
            Ok(rendered)
        }
        Command::Backfill(a) => {
            let dates = dates_of(&a.dates)?;
            if dates.is_empty() {
                return Err(Error::data("backfill needs --from D1 --to D2 (or --date D)"));
            }
            let settings = ops::backfill::BackfillSettings { dates, restart: a.restart, args };
            let report = ops::backfill::backfill(&lakehouse()?, &catalog()?, &settings).await?;
            let text = ops::backfill::summary(&report);
            Ok(render("backfill", &report, text))
        }
    }
}

/// SIGINT and SIGTERM stop a stream worker: it commits the batch in flight, then returns.
fn stop_on_signals(shutdown: &ops::stream::Shutdown) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    for (kind, name) in [(SignalKind::interrupt(), "SIGINT"), (SignalKind::terminate(), "SIGTERM")] {
        let mut heard = signal(kind).map_err(|e| Error::environment(format!("cannot listen for {name}")).with_source(e))?;
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            if heard.recv().await.is_some() {
                shutdown.stop(name);
            }
        });
    }
    Ok(())
}

/// The brokers and topic of a Kafka command: flag, then `VBDA_BROKERS`/`VBDA_TOPIC`, then
/// `[stream]` in vbda.toml; both required.
fn kafka_target(brokers: Option<String>, topic: Option<String>, file: &crate::settings::StreamConfig) -> Result<(String, String)> {
    let brokers = resolve(brokers, "VBDA_BROKERS", file.brokers.clone(), None)?.value.ok_or_else(|| {
        Error::data("no Kafka brokers given").with_hint("pass --brokers HOST:PORT (or set VBDA_BROKERS, or stream.brokers in vbda.toml)")
    })?;
    let topic = resolve(topic, "VBDA_TOPIC", file.topic.clone(), None)?
        .value
        .ok_or_else(|| Error::data("no topic given").with_hint("pass --topic NAME (or set VBDA_TOPIC, or stream.topic in vbda.toml)"))?;
    Ok((brokers, topic))
}

use crate::kafka::topic_list;

/// The dates a `--date` / `--from --to` pair names (empty: incremental).
fn dates_of(d: &DateArgs) -> Result<Vec<NaiveDate>> {
    match (d.date, d.from, d.to) {
        (Some(date), _, _) => Ok(vec![date]),
        (None, Some(from), Some(to)) => date_range(from, to),
        _ => Ok(Vec::new()),
    }
}

fn date_range(from: NaiveDate, to: NaiveDate) -> Result<Vec<NaiveDate>> {
    if from > to {
        return Err(Error::data(format!("--from {from} is after --to {to}")).with_hint("swap the two dates"));
    }
    Ok(from.iter_days().take_while(|d| *d <= to).collect())
}

fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`vbda tables | head`) is not an error.
    let _ = writeln!(out, "{text}");
}

fn print_error(e: &Error, output: OutputFormat) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "error: {}", e.message());
    for cause in e.causes() {
        let _ = writeln!(err, "  Caused by: {cause}");
    }
    if let Some(hint) = e.hint() {
        let _ = writeln!(err, "hint: {hint}");
    }
    if output == OutputFormat::Json {
        let value = serde_json::json!({
            "ok": false,
            "exit_code": e.exit_code(),
            "error": e.message(),
            "causes": e.causes(),
            "hint": e.hint(),
        });
        print_stdout(&value.to_string());
    }
}
