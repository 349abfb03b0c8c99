//! `vbda report`: the gold tables of a date range as one self-contained HTML page: the KPIs and
//! their trend, top content, quality of experience by device and country, the ad funnel,
//! churn risk, and data quality (quarantine by rule, reconciliation per date, freshness per
//! table).
//!
//! Numbers over a range are recomputed from the daily rows the way the models define them:
//! sums of counts, and ratios of the summed parts (rebuffer ratio = buffer / (watch + buffer),
//! failure rate = failed views / views, completion rate = completed views / views, CTR = clicks
//! / impressions), never averages of daily ratios. The one exception is the bitrate: gold
//! keeps only each day's mean, so the range's figure is the mean of the daily means weighted by
//! views (said on the page). Unique viewers per content are "viewer-days" over a range (the sum
//! of each day's distinct viewers), since distinct counts do not add up.
//!
//! What can go wrong: a gold table not built yet (its section says so, the page is still
//! written); no gold at all for the range (exit 1: the page would be empty, probably a wrong
//! date); the output file cannot be written (exit 3).

mod html;
mod svg;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use polars::prelude::*;
use serde::Serialize;

use self::html::{Col, Format, card, count, floats, hours, percent, strings, table};
use crate::catalog::Catalog;
use crate::error::{Context as _, Error, Result};
use crate::lake::convert::polars_err;
use crate::lake::{self, Lakehouse};

#[derive(Debug, Clone, Serialize)]
pub struct ReportSettings {
    pub dates: Vec<NaiveDate>,
    pub out: PathBuf,
    /// Also a PNG screenshot of the page, made by headless Chromium.
    pub png: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportSummary {
    pub out: String,
    pub bytes: u64,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Dates of the range that daily_kpis holds.
    pub dates_with_gold: usize,
    /// The version of each table read (None: not created yet).
    pub versions: BTreeMap<String, Option<i64>>,
    pub png: Option<String>,
    pub seconds: f64,
}

/// A lazy scan of the given date partitions of a table (its version noted); None when it does
/// not exist yet.
async fn read(lake: &Lakehouse, catalog: &Catalog, table: &str, column: &str, dates: &[String], versions: &mut BTreeMap<String, Option<i64>>) -> Result<Option<LazyFrame>> {
    let spec = catalog.table(table)?;
    let Some(t) = lake.open(spec).await? else {
        versions.insert(table.to_string(), None);
        return Ok(None);
    };
    versions.insert(table.to_string(), t.version().map(|v| v as i64));
    Ok(Some(lake::scan_partitions(&t, spec, column, dates).await?))
}

fn collect(lf: LazyFrame) -> Result<DataFrame> {
    tokio::task::block_in_place(|| lf.collect()).map_err(polars_err)
}

/// `a / b`, null when b is 0.
fn ratio(a: Expr, b: Expr) -> Expr {
    when(b.clone().gt(lit(0))).then(a.cast(DataType::Float64) / b.cast(DataType::Float64)).otherwise(lit(NULL).cast(DataType::Float64))
}

pub async fn report(lake: &Lakehouse, catalog: &Catalog, s: &ReportSettings) -> Result<ReportSummary> {
    let started = Instant::now();
    let (Some(from), Some(to)) = (s.dates.first().copied(), s.dates.last().copied()) else {
        return Err(Error::data("no dates given").with_hint("--date D, or --from D1 --to D2"));
    };
    let dates: Vec<String> = s.dates.iter().map(NaiveDate::to_string).collect();
    let mut versions = BTreeMap::new();
    let mut body = String::new();

    // ---- KPIs
    let kpis = match read(lake, catalog, "gold.daily_kpis", "date", &dates, &mut versions).await? {
        Some(lf) => Some(collect(lf.sort(["date"], Default::default()))?),
        None => None,
    };
    let dates_with_gold = kpis.as_ref().map_or(0, DataFrame::height);
    if dates_with_gold == 0 {
        return Err(Error::data(format!("gold.daily_kpis has no rows for {from}..{to}: nothing to report"))
            .with_hint("build the dates first (`vbda silver-to-gold --date D`), or check the dates; `vbda show gold.daily_kpis` lists what is there"));
    }
    let kpis = kpis.unwrap_or_default();
    body.push_str(&kpi_section(&kpis));

    // ---- content
    body.push_str("<section id=\"content\"><h2>Top content</h2>");
    match read(lake, catalog, "gold.content_daily", "date", &dates, &mut versions).await? {
        Some(lf) => {
            let top = collect(
                lf.group_by([col("content_id")])
                    .agg([
                        col("title").drop_nulls().first().alias("title"),
                        col("genre").drop_nulls().first().alias("genre"),
                        col("views").sum(),
                        col("unique_viewers").sum().alias("viewer_days"),
                        col("watch_time_s").sum(),
                        col("completed_views").sum(),
                        col("likes").sum(),
                    ])
                    .with_column(ratio(col("completed_views"), col("views")).alias("completion_rate"))
                    .sort_by_exprs([col("views"), col("content_id")], SortMultipleOptions::default().with_order_descending_multi([true, false]))
                    .limit(10),
            )?;
            let bars: Vec<(String, f64)> = strings(&top, "title")
                .into_iter()
                .zip(strings(&top, "content_id"))
                .zip(floats(&top, "views"))
                .map(|((t, id), v)| (if t.is_empty() { id } else { t }, v.unwrap_or(0.0)))
                .collect();
            body.push_str(&svg::bar_chart("Views, top 10 content", &bars, count));
            body.push_str(&table(
                "content",
                &top,
                &["content_id"],
                &[
                    Col("content_id", "Content", Format::Text),
                    Col("title", "Title", Format::Text),
                    Col("genre", "Genre", Format::Text),
                    Col("views", "Views", Format::Int),
                    Col("viewer_days", "Viewer-days", Format::Int),
                    Col("watch_time_s", "Watch time", Format::Hours),
                    Col("completion_rate", "Completion", Format::Percent),
                    Col("likes", "Likes", Format::Int),
                ],
            ));
        }
        None => body.push_str(NOT_BUILT),
    }
    body.push_str("</section>");

    // ---- quality of experience
    body.push_str("<section id=\"qoe\"><h2>Quality of experience</h2><p class=\"note\">Rebuffer ratio = buffering / (watching + buffering); failure rate = views with an error / views; bitrate = the days' mean bitrates weighted by views.</p>");
    match read(lake, catalog, "gold.device_geo_daily", "date", &dates, &mut versions).await? {
        Some(lf) => {
            let by = |key: &str, limit: u32| {
                lf.clone()
                    .group_by([col(key)])
                    .agg([
                        col("views").sum(),
                        col("watch_time_s").sum(),
                        col("buffer_time_s").sum(),
                        col("failed_views").sum(),
                        (col("avg_bitrate_kbps") * col("views").cast(DataType::Float64)).sum().alias("_bitrate_weighted"),
                        col("views").filter(col("avg_bitrate_kbps").is_not_null()).sum().alias("_bitrate_views"),
                    ])
                    .with_columns([
                        ratio(col("buffer_time_s"), col("watch_time_s") + col("buffer_time_s")).alias("rebuffer_ratio"),
                        ratio(col("failed_views"), col("views")).alias("playback_failure_rate"),
                        ratio(col("_bitrate_weighted"), col("_bitrate_views")).alias("avg_bitrate_kbps"),
                    ])
                    .sort_by_exprs([col("views"), col(key)], SortMultipleOptions::default().with_order_descending_multi([true, false]))
                    .limit(limit)
            };
            let cols = |key: &'static str, header: &'static str| {
                vec![
                    Col(key, header, Format::Text),
                    Col("views", "Views", Format::Int),
                    Col("watch_time_s", "Watch time", Format::Hours),
                    Col("rebuffer_ratio", "Rebuffer ratio", Format::Percent),
                    Col("playback_failure_rate", "Failure rate", Format::Percent),
                    Col("avg_bitrate_kbps", "Bitrate (kbps)", Format::Int),
                ]
            };
            let device = collect(by("device_type", 50))?;
            let country = collect(by("country", 15))?;
            let rebuffer: Vec<(String, f64)> = strings(&device, "device_type").into_iter().zip(floats(&device, "rebuffer_ratio")).map(|(k, v)| (k, v.unwrap_or(0.0))).collect();
            let failures: Vec<(String, f64)> = strings(&device, "device_type").into_iter().zip(floats(&device, "playback_failure_rate")).map(|(k, v)| (k, v.unwrap_or(0.0))).collect();
            body.push_str("<div class=\"charts\">");
            body.push_str(&svg::bar_chart("Rebuffer ratio by device", &rebuffer, percent));
            body.push_str(&svg::bar_chart("Playback failure rate by device", &failures, percent));
            body.push_str("</div><h3>By device</h3>");
            body.push_str(&table("device", &device, &["device_type"], &cols("device_type", "Device")));
            body.push_str("<h3>By country (top 15 by views)</h3>");
            body.push_str(&table("country", &country, &["country"], &cols("country", "Country")));
        }
        None => body.push_str(NOT_BUILT),
    }
    body.push_str("</section>");

    // ---- ads
    body.push_str("<section id=\"ads\"><h2>Ad funnel</h2>");
    match read(lake, catalog, "gold.ad_daily", "date", &dates, &mut versions).await? {
        Some(lf) => {
            let funnel = collect(
                lf.select([col("impressions").sum(), col("clicks").sum(), col("completes").sum(), col("skips").sum()])
                    .with_columns([
                        ratio(col("clicks"), col("impressions")).alias("ctr"),
                        ratio(col("completes"), col("impressions")).alias("completion_rate"),
                        ratio(col("skips"), col("impressions")).alias("skip_rate"),
                    ])
                    .with_column(lit("all").alias("scope")),
            )?;
            let step = |c: &str| floats(&funnel, c).first().copied().flatten().unwrap_or(0.0);
            let bars = vec![
                ("Impressions".to_string(), step("impressions")),
                ("Completes".to_string(), step("completes")),
                ("Clicks".to_string(), step("clicks")),
                ("Skips".to_string(), step("skips")),
            ];
            body.push_str(&svg::bar_chart("Ad funnel over the range", &bars, count));
            body.push_str(&table(
                "ads",
                &funnel,
                &["scope"],
                &[
                    Col("impressions", "Impressions", Format::Int),
                    Col("clicks", "Clicks", Format::Int),
                    Col("completes", "Completes", Format::Int),
                    Col("skips", "Skips", Format::Int),
                    Col("ctr", "CTR", Format::Percent),
                    Col("completion_rate", "Completion", Format::Percent),
                    Col("skip_rate", "Skip rate", Format::Percent),
                ],
            ));
        }
        None => body.push_str(NOT_BUILT),
    }
    body.push_str("</section>");

    // ---- churn
    body.push_str("<section id=\"churn\"><h2>Churn risk</h2><p class=\"note\">Users active in the 28 days before the date and idle for the last 7 (gold.user_activity).</p>");
    match read(lake, catalog, "gold.user_activity", "date", &dates, &mut versions).await? {
        Some(lf) => {
            let churn = collect(
                lf.group_by([col("date")])
                    .agg([len().cast(DataType::Int64).alias("users"), col("churn_risk").cast(DataType::Int64).sum().alias("at_risk")])
                    .with_column(ratio(col("at_risk"), col("users")).alias("at_risk_share"))
                    .sort(["date"], Default::default()),
            )?;
            let x = strings(&churn, "date");
            body.push_str(&svg::line_chart("Users at churn risk", &x, &[("at risk", floats(&churn, "at_risk"))], count));
            body.push_str(&table(
                "churn",
                &churn,
                &["date"],
                &[Col("date", "Date", Format::Text), Col("users", "Users (28 days)", Format::Int), Col("at_risk", "At risk", Format::Int), Col("at_risk_share", "Share", Format::Percent)],
            ));
        }
        None => body.push_str(NOT_BUILT),
    }
    body.push_str("</section>");

    // ---- data quality
    body.push_str("<section id=\"quality\"><h2>Data quality</h2>");
    body.push_str(&quality_section(lake, catalog, &s.dates, &dates, &mut versions).await?);
    body.push_str("</section>");

    let title = if from == to { format!("vbda report: {from}") } else { format!("vbda report: {from} to {to}") };
    let read_versions: Vec<String> = versions.iter().map(|(t, v)| format!("{t} v{}", v.map(|v| v.to_string()).unwrap_or_else(|| "-".into()))).collect();
    let subtitle = format!("generated {} from {}", Utc::now().format("%Y-%m-%d %H:%M UTC"), read_versions.join(", "));
    let page = html::page(&title, &subtitle, &body);
    crate::files::write_atomically(&s.out, page.as_bytes(), "the report")?;
    if let Some(png) = &s.png {
        // Tall enough for the whole page: rows and charts at their rendered heights.
        let height = 600 + 26 * page.matches("<tr").count() + 250 * page.matches("<svg").count() / 2;
        tokio::task::block_in_place(|| screenshot(&s.out, png, height.min(30_000)))?;
    }
    Ok(ReportSummary {
        out: s.out.display().to_string(),
        bytes: page.len() as u64,
        from,
        to,
        dates_with_gold,
        versions,
        png: s.png.as_ref().map(|p| p.display().to_string()),
        seconds: started.elapsed().as_secs_f64(),
    })
}

const NOT_BUILT: &str = r#"<p class="empty">not built yet (run <code>vbda silver-to-gold</code>)</p>"#;

fn kpi_section(kpis: &DataFrame) -> String {
    let mut out = String::from("<section id=\"kpis\"><h2>KPIs</h2><div class=\"cards\">");
    let sum = |c: &str| floats(kpis, c).into_iter().flatten().sum::<f64>();
    let share = |a: f64, b: f64| (b > 0.0).then(|| a / b);
    let days = kpis.height() as f64;
    out.push_str(&card("views", "views", Some(sum("views")), count));
    out.push_str(&card("watch_time", "watch time", Some(sum("watch_time_s")), hours));
    out.push_str(&card("active_users_per_day", "active users per day (mean)", share(sum("active_users"), days), count));
    out.push_str(&card("completion_rate", "completion rate", share(sum("completed_views"), sum("views")), percent));
    out.push_str(&card("rebuffer_ratio", "rebuffer ratio", share(sum("buffer_time_s"), sum("watch_time_s") + sum("buffer_time_s")), percent));
    out.push_str(&card("playback_failure_rate", "playback failure rate", share(sum("failed_views"), sum("views")), percent));
    out.push_str(&card("ad_ctr", "ad CTR", share(sum("ad_clicks"), sum("ad_impressions")), percent));
    out.push_str("</div><div class=\"charts\">");
    let x = strings(kpis, "date");
    out.push_str(&svg::line_chart("Active users and sessions", &x, &[("active users", floats(kpis, "active_users")), ("sessions", floats(kpis, "sessions"))], count));
    out.push_str(&svg::line_chart("Views", &x, &[("views", floats(kpis, "views"))], count));
    let watch_hours: Vec<Option<f64>> = floats(kpis, "watch_time_s").into_iter().map(|v| v.map(|s| s / 3600.0)).collect();
    out.push_str(&svg::line_chart("Watch time (hours)", &x, &[("hours", watch_hours)], count));
    out.push_str(&svg::line_chart(
        "Rebuffer and failure rate",
        &x,
        &[("rebuffer ratio", floats(kpis, "rebuffer_ratio")), ("failure rate", floats(kpis, "playback_failure_rate"))],
        percent,
    ));
    out.push_str("</div>");
    out.push_str(&table(
        "kpis",
        kpis,
        &["date"],
        &[
            Col("date", "Date", Format::Text),
            Col("active_users", "Active users", Format::Int),
            Col("sessions", "Sessions", Format::Int),
            Col("views", "Views", Format::Int),
            Col("completion_rate", "Completion", Format::Percent),
            Col("watch_time_s", "Watch time", Format::Hours),
            Col("rebuffer_ratio", "Rebuffer", Format::Percent),
            Col("playback_failure_rate", "Failures", Format::Percent),
            Col("ad_impressions", "Ad impressions", Format::Int),
            Col("ad_ctr", "Ad CTR", Format::Percent),
            Col("likes", "Likes", Format::Int),
        ],
    ));
    out.push_str("</section>");
    out
}

/// Quarantine by rule and date, reconciliation per date (silver's commit counts against the
/// tables' rows now), and freshness per table.
async fn quality_section(lake: &Lakehouse, catalog: &Catalog, days: &[NaiveDate], dates: &[String], versions: &mut BTreeMap<String, Option<i64>>) -> Result<String> {
    let mut out = String::from("<h3>Quarantined rows by rule</h3>");
    let mut per_date = String::new();
    let quarantine = match read(lake, catalog, "silver.video_events_quarantine", "event_date", dates, versions).await? {
        Some(lf) => Some(collect(
            lf.group_by([col("event_date").cast(DataType::String).alias("date"), col("rule")])
                .agg([len().cast(DataType::Int64).alias("rows")])
                .sort(["date", "rule"], Default::default()),
        )?),
        None => None,
    };
    match &quarantine {
        Some(q) => {
            let by_rule = collect(q.clone().lazy().group_by([col("rule")]).agg([col("rows").sum()]).sort_by_exprs([col("rows"), col("rule")], SortMultipleOptions::default().with_order_descending_multi([true, false])))?;
            let bars: Vec<(String, f64)> = strings(&by_rule, "rule").into_iter().zip(floats(&by_rule, "rows")).map(|(r, v)| (r, v.unwrap_or(0.0))).collect();
            out.push_str(&svg::bar_chart("Quarantined rows by rule", &bars, count));
            // The per-date detail goes last: it is long for a long range.
            per_date = table("quarantine", q, &["date", "rule"], &[Col("date", "Date", Format::Text), Col("rule", "Rule", Format::Text), Col("rows", "Rows", Format::Int)]);
        }
        None => out.push_str(r#"<p class="empty">no quarantine table yet</p>"#),
    }

    // Reconciliation: what bronze-to-silver recorded per date, against the rows there now.
    out.push_str("<h3>Reconciliation per date</h3><p class=\"note\">bronze rows = silver rows + quarantined + duplicates, as the last bronze-to-silver run of the date recorded it; and silver and quarantine still hold those rows.</p>");
    let silver_spec = catalog.table("silver.video_events")?;
    let recorded = match lake.open(silver_spec).await? {
        Some(t) => {
            versions.insert("silver.video_events".into(), t.version().map(|v| v as i64));
            let recorded = recorded_counts(&t, days).await?;
            let rows = collect(
                lake::scan_partitions(&t, silver_spec, "event_date", dates)
                    .await?
                    .group_by([col("event_date").cast(DataType::String).alias("date")])
                    .agg([len().cast(DataType::Int64).alias("rows")]),
            )?;
            Some((recorded, rows))
        }
        None => None,
    };
    match recorded {
        Some((recorded, silver_now)) => {
            let now = |df: &DataFrame, d: &str| -> i64 {
                let ds = strings(df, "date");
                let rows = floats(df, "rows");
                ds.iter().position(|x| x == d).and_then(|i| rows[i]).unwrap_or(0.0) as i64
            };
            let quarantine_now = |d: &str| -> i64 {
                quarantine.as_ref().map_or(0, |q| {
                    strings(q, "date").iter().zip(floats(q, "rows")).filter(|(x, _)| x.as_str() == d).map(|(_, v)| v.unwrap_or(0.0) as i64).sum()
                })
            };
            let mut cols: BTreeMap<&str, Vec<Option<i64>>> = BTreeMap::new();
            let mut date_col = Vec::new();
            let mut status = Vec::new();
            for d in days {
                let key = d.to_string();
                let Some(c) = recorded.get(d) else { continue };
                let (b, sv, q, dup) = (c.0, c.1, c.2, c.3);
                let (sv_now, q_now) = (now(&silver_now, &key), quarantine_now(&key));
                let ok = b == sv + q + dup && sv == sv_now && q == q_now;
                date_col.push(key);
                status.push(if ok { "reconciled".to_string() } else { format!("MISMATCH (silver now {sv_now}, quarantine now {q_now})") });
                for (name, v) in [("bronze_rows", b), ("silver_rows", sv), ("quarantined", q), ("duplicates", dup)] {
                    cols.entry(name).or_default().push(Some(v));
                }
            }
            if date_col.is_empty() {
                out.push_str(r#"<p class="empty">no bronze-to-silver run recorded for these dates</p>"#);
            } else {
                let mut columns: Vec<Column> = vec![Column::new("date".into(), date_col)];
                for (name, v) in &cols {
                    columns.push(Column::new((*name).into(), v.clone()));
                }
                columns.push(Column::new("status".into(), status));
                let df = DataFrame::new_infer_height(columns).map_err(polars_err)?;
                out.push_str(&table(
                    "reconciliation",
                    &df,
                    &["date"],
                    &[
                        Col("date", "Date", Format::Text),
                        Col("bronze_rows", "Bronze rows", Format::Int),
                        Col("silver_rows", "Silver rows", Format::Int),
                        Col("quarantined", "Quarantined", Format::Int),
                        Col("duplicates", "Duplicates", Format::Int),
                        Col("status", "Status", Format::Text),
                    ],
                ));
            }
        }
        None => out.push_str(r#"<p class="empty">no silver table yet</p>"#),
    }

    // The quality log: the newest run's result of every rule that found rows, per date.
    out.push_str("<h3>Rules that found rows (quality log, newest run per date)</h3>");
    let filter = crate::ops::quality_log::HistoryFilter { run_dates: None, table: None, failing_only: false };
    match crate::ops::quality_log::history(lake, catalog, &filter).await? {
        Some(log) => {
            let in_range = log
                .lazy()
                .with_column(col("date").cast(DataType::String))
                .filter(col("date").is_in(lit(Series::new("d".into(), dates)).implode(false), false))
                .unique_stable(Some(cols(["table_name", "rule", "date"])), UniqueKeepStrategy::First)
                .filter(col("rows_failing").gt(lit(0)))
                .with_column(ratio(col("rows_failing"), col("rows_checked")).alias("share"))
                .sort(["date", "table_name", "rule"], Default::default());
            let failing = collect(in_range)?;
            out.push_str(&table(
                "rules",
                &failing,
                &["date", "table_name", "rule"],
                &[
                    Col("date", "Date", Format::Text),
                    Col("table_name", "Table", Format::Text),
                    Col("rule", "Rule", Format::Text),
                    Col("severity", "Severity", Format::Text),
                    Col("rows_checked", "Rows checked", Format::Int),
                    Col("rows_failing", "Rows failing", Format::Int),
                    Col("share", "Share", Format::Percent),
                ],
            ));
        }
        None => out.push_str(r#"<p class="empty">no quality log yet</p>"#),
    }

    // Freshness: every table's last commit and newest data.
    out.push_str("<h3>Freshness per table</h3>");
    let status = crate::ops::maintain::status(lake, catalog, &Default::default()).await?;
    let now = Utc::now();
    let created: Vec<_> = status.tables.iter().filter(|t| t.created && t.problem.is_none()).collect();
    let df = DataFrame::new_infer_height(vec![
        Column::new("table".into(), created.iter().map(|t| t.table.clone()).collect::<Vec<_>>()),
        Column::new("version".into(), created.iter().map(|t| t.version).collect::<Vec<_>>()),
        Column::new("last_commit".into(), created.iter().map(|t| t.last_commit.map(|c| c.format("%Y-%m-%d %H:%M:%S UTC").to_string())).collect::<Vec<_>>()),
        Column::new("age_hours".into(), created.iter().map(|t| t.last_commit.map(|c| (now - c).num_seconds() as f64 / 3600.0)).collect::<Vec<_>>()),
        Column::new("newest_data".into(), created.iter().map(|t| t.newest_event_time.clone()).collect::<Vec<_>>()),
        Column::new("rows".into(), created.iter().map(|t| t.rows.map(|r| r as i64)).collect::<Vec<_>>()),
    ])
    .map_err(polars_err)?;
    out.push_str(&table(
        "freshness",
        &df,
        &["table"],
        &[
            Col("table", "Table", Format::Text),
            Col("version", "Version", Format::Int),
            Col("last_commit", "Last commit", Format::Text),
            Col("age_hours", "Age (hours)", Format::Decimal),
            Col("newest_data", "Newest data", Format::Text),
            Col("rows", "Rows", Format::Int),
        ],
    ));
    if !per_date.is_empty() {
        out.push_str("<h3>Quarantined rows per date and rule</h3>");
        out.push_str(&per_date);
    }
    Ok(out)
}

/// Per date, the counts (bronze, silver, quarantined, duplicates) the newest bronze-to-silver
/// commit of that date recorded in silver's commit info.
async fn recorded_counts(t: &deltalake::DeltaTable, days: &[NaiveDate]) -> Result<BTreeMap<NaiveDate, (i64, i64, i64, i64)>> {
    use futures::StreamExt;
    let mut found = BTreeMap::new();
    let mut commits = t.history(None);
    while let Some(c) = commits.next().await {
        let Ok(c) = c else { break };
        let Some(per_date) = c.info.get("vbda").and_then(|v| v.get("details")).and_then(|d| d.get("dates")).and_then(|d| d.as_object()) else {
            continue;
        };
        for (date, counts) in per_date {
            let Ok(d) = date.parse::<NaiveDate>() else { continue };
            if !days.contains(&d) || found.contains_key(&d) {
                continue;
            }
            let n = |k: &str| counts.get(k).and_then(|v| v.as_i64()).unwrap_or(0);
            found.insert(d, (n("bronze_rows"), n("silver_rows"), n("quarantined"), n("duplicates")));
        }
        if found.len() == days.len() {
            break;
        }
    }
    Ok(found)
}

/// The browser for `--png`: `VBDA_CHROMIUM`, else the first of the usual names on PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VBDA_CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// Render the page with headless Chromium into a PNG (1280 px wide), within a minute.
fn screenshot(html: &std::path::Path, png: &std::path::Path, height: usize) -> Result<()> {
    let browser = chromium().ok_or_else(|| {
        Error::data("--png needs Chromium, and none was found (chromium, chromium-browser, google-chrome on PATH)")
            .with_hint("install it (Debian: apt-get install chromium), set VBDA_CHROMIUM to its path, or leave out --png")
    })?;
    let html = std::fs::canonicalize(html).env_err(|| format!("cannot find {}", html.display()))?;
    let url = url::Url::from_file_path(&html).map_err(|()| Error::data(format!("{} is not a local path", html.display())))?;
    let mut child = std::process::Command::new(&browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--hide-scrollbars"])
        .arg(format!("--window-size=1280,{height}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(url.as_str())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .env_err(|| format!("cannot start {}", browser.display()))?;
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match child.try_wait().env_err(|| format!("cannot wait for {}", browser.display()))? {
            Some(status) if status.success() && png.is_file() => return Ok(()),
            Some(status) => {
                return Err(Error::environment(format!("{} could not render the report ({status})", browser.display()))
                    .with_hint("the HTML file is written; open it in a browser instead"));
            }
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::environment(format!("{} took over a minute to render the report", browser.display())));
            }
            None => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
}
