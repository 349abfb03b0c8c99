//! `vbda publish`: `--target`, `--schema`, dates (or none: incremental) and `--model` into
//! [`PublishSettings`], the run, and the summary per gold table.
//!
//! What can go wrong: no target configured (exit 1, or a clean skip with `--if-configured`); a
//! password inside the target (exit 1, never echoed); a refused login or a table in
//! PostgreSQL that does not match its spec (exit 1); a server that cannot be reached (exit 3).

use clap::Args;

use super::args::{DateArgs, dates_of};
use super::{Context, Rendered, render};
use crate::ops::run_metrics::RunSamples;
use crate::error::{Error, Result};
use crate::ops::publish::{self, PublishReport, PublishSettings};
use crate::settings::resolve;
use crate::warehouse::DateOutcome;

#[derive(Debug, Args)]
#[command(after_help = "Each gold table becomes a PostgreSQL table in the target schema (types, primary key and
comments from its spec), and each date is replaced in one transaction together with a row
in <schema>.vbda_published (gold table, date, Delta version), so a crash or a rerun leaves every
date wholly old or wholly new. Without dates, the dates whose gold changed since they were
published (and any PostgreSQL holds that gold no longer has) are published.

The password never goes in the target: it comes from PGPASSWORD or the password file
(PGPASSFILE, default ~/.pgpass, mode 0600). TLS follows the target's sslmode (disable, prefer,
require); the server's certificate is verified against the system's roots and PGSSLROOTCERT.

Examples:
  export VBDA_PUBLISH_TARGET=postgres://vbda@warehouse:5432/analytics
  vbda publish --date 2025-01-01                 # that date of every gold table
  vbda publish                                   # what changed in gold since the last publish
  vbda publish --from 2025-01-01 --to 2025-01-31 --model daily_kpis
  PGPASSWORD=... vbda publish --target 'postgres://bi@db:5432/bi?sslmode=require' --schema gold")]
pub(super) struct PublishArgs {
    #[command(flatten)]
    dates: DateArgs,
    /// PostgreSQL URL postgres://user@host:port/database, no password [env: VBDA_PUBLISH_TARGET] [vbda.toml: publish.target]
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// PostgreSQL schema the gold tables go in [env: VBDA_PUBLISH_SCHEMA] [vbda.toml: publish.schema] [default: gold]
    #[arg(long, value_name = "NAME")]
    schema: Option<String>,
    /// Only this gold table (daily_kpis or gold.daily_kpis)
    #[arg(long, value_name = "NAME")]
    model: Option<String>,
    /// Without a configured target, do nothing and say so (exit 0, "skipped": true): for a
    /// scheduler's publish step that not every deployment has
    #[arg(long)]
    if_configured: bool,
}

#[derive(Debug, serde::Serialize)]
pub(super) struct PublishPlan {
    /// None: no target configured (only with --if-configured).
    publish: Option<PublishSettings>,
}

pub(super) fn settings(args: PublishArgs, ctx: &Context) -> Result<PublishPlan> {
    let PublishArgs { dates, target, schema, model, if_configured } = args;
    let file = &ctx.project.config.publish;
    let dates = dates_of(dates)?;
    let target = resolve(target, "VBDA_PUBLISH_TARGET", file.target.clone(), None)?.value;
    let schema = resolve(schema, "VBDA_PUBLISH_SCHEMA", file.schema.clone(), Some("gold".to_string()))?.value.unwrap_or_default();
    let Some(target) = target else {
        if if_configured {
            return Ok(PublishPlan { publish: None });
        }
        return Err(Error::data("no publish target: vbda publish needs a PostgreSQL URL").with_hint(
            "pass --target postgres://user@host:5432/database, set VBDA_PUBLISH_TARGET, or add [publish] target = \"...\" to vbda.toml",
        ));
    };
    // Parsed now, so a password in it is refused before anything runs or is shown.
    crate::warehouse::Target::parse(&target, &schema)?;
    Ok(PublishPlan { publish: Some(PublishSettings { target, schema, dates, model }) })
}

#[derive(serde::Serialize)]
struct Skipped {
    skipped: bool,
    reason: &'static str,
}

pub(super) async fn run(plan: PublishPlan, ctx: &Context<'_>) -> Result<Rendered> {
    let Some(settings) = plan.publish else {
        let reason = "no publish target configured (--target, VBDA_PUBLISH_TARGET, vbda.toml publish.target)";
        return Ok(render("publish", &Skipped { skipped: true, reason }, format!("publish skipped: {reason}")));
    };
    let report = publish::publish(&ctx.lakehouse()?, &ctx.validated_catalog()?, &settings).await?;
    let text = text(&report);
    let mut samples = RunSamples::default();
    for t in &report.tables {
        samples.rows_written.insert(t.pg_table.clone(), t.rows);
    }
    Ok(render("publish", &report, text).with_samples(samples))
}

fn text(r: &PublishReport) -> String {
    let mut out = format!(
        "publish to {} schema {}{}: {} in {:.1}s ({:.0} rows/s)",
        r.target,
        r.schema,
        if r.incremental { " (incremental)" } else { "" },
        super::human::count(r.rows, "row"),
        r.seconds,
        r.rows_per_second
    );
    for t in &r.tables {
        let version = t.delta_version.map(|v| format!(" v{v}")).unwrap_or_default();
        let mut replaced = 0;
        let mut deleted = Vec::new();
        let mut newer = Vec::new();
        for d in &t.dates {
            match d.outcome {
                DateOutcome::Replaced { .. } => replaced += 1,
                DateOutcome::Deleted { .. } => deleted.push(d.date.to_string()),
                DateOutcome::NewerThere { version } => newer.push(format!("{} (v{version} there)", d.date)),
            }
        }
        let line = match (t.delta_version, t.dates.is_empty()) {
            (None, true) => "gold table not created yet".to_string(),
            (_, true) => "up to date".to_string(),
            _ => format!("{} replaced, {}", super::human::count(replaced, "date"), super::human::count(t.rows, "row")),
        };
        out.push_str(&format!("\n  {:<26}{version} -> {}: {line}", t.table, t.pg_table));
        if !deleted.is_empty() {
            out.push_str(&format!("\n    removed (gold has none): {}", deleted.join(", ")));
        }
        if !newer.is_empty() {
            out.push_str(&format!("\n    left alone (a newer version was published): {}", newer.join(", ")));
        }
        if !t.dates_without_gold.is_empty() {
            let shown: Vec<String> = t.dates_without_gold.iter().map(|d| d.to_string()).collect();
            out.push_str(&format!("\n    note: no gold rows of {} (run silver-to-gold for them first?)", shown.join(", ")));
        }
    }
    out
}
