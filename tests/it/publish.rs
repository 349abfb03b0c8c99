//! `vbda publish`: gold into a real PostgreSQL (tests/it/postgres.rs): the rows equal gold's,
//! incremental runs publish what changed (and remove what gold no longer has), a crash
//! between dates leaves every date wholly old or wholly new, two publishers run at once, and a
//! wrong password (exit 1) or an unreachable server (exit 3) says so without the secret.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::common::TestContext;
use crate::postgres::{PASSWORD, Postgres, USER, free_port};

const D1: &str = "2025-01-01";
const D2: &str = "2025-01-02";
const GOLD: [&str; 6] = ["daily_kpis", "content_daily", "user_daily", "device_geo_daily", "ad_daily", "user_activity"];

/// Two days of generated events through silver, and gold built one date per commit.
fn lakehouse_with_gold() -> TestContext {
    let ctx = TestContext::new();
    let landing = ctx.landing();
    let content = ctx.dir.path().join("content.csv");
    ctx.run_json(&[
        "generate", "--out", landing.to_str().unwrap(), "--content-out", content.to_str().unwrap(), "--events", "400",
        "--files-per-day", "2", "--date", D1, "--date", D2, "--users", "40", "--content-items", "20",
    ]);
    ctx.run_json(&["ingest"]);
    ctx.run_json(&["ingest", "--content", content.to_str().unwrap()]);
    ctx.run_json(&["bronze-to-silver"]);
    ctx.run_json(&["silver-to-gold", "--date", D1]);
    ctx.run_json(&["silver-to-gold", "--date", D2]);
    ctx
}

/// `vbda publish ARGS --output json` against `pg` with the password in PGPASSWORD.
fn publish(ctx: &TestContext, pg: &Postgres, args: &[&str]) -> Value {
    let out = ctx.vbda().args(["publish", "--target", &pg.target(), "--output", "json"]).args(args).env("PGPASSWORD", PASSWORD).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "publish {args:?}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.trim()).unwrap()
}

/// What one run did to each table: table -> [(date, action)].
fn actions(report: &Value) -> BTreeMap<String, Vec<(String, String)>> {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let dates = t["dates"].as_array().unwrap().iter().map(|d| (d["date"].as_str().unwrap().to_string(), d["action"].as_str().unwrap().to_string()));
            (t["table"].as_str().unwrap().trim_start_matches("gold.").to_string(), dates.collect())
        })
        .collect()
}

/// A value in one comparable form: numbers as f64, timestamps as RFC 3339 in UTC.
fn canonical(v: &Value) -> String {
    match v {
        Value::Number(n) => format!("{}", n.as_f64().unwrap()),
        Value::String(s) => {
            let parsed = chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&chrono::Utc))
                .or_else(|_| chrono::NaiveDateTime::parse_from_str(s.trim_end_matches(" UTC"), "%Y-%m-%d %H:%M:%S%.f").map(|t| t.and_utc()));
            match parsed {
                Ok(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                Err(_) => s.clone(),
            }
        }
        other => other.to_string(),
    }
}

fn canonical_rows(rows: impl IntoIterator<Item = Value>) -> Vec<String> {
    let mut out: Vec<String> = rows
        .into_iter()
        .map(|r| {
            let fields: BTreeMap<String, String> = r.as_object().unwrap().iter().map(|(k, v)| (k.clone(), canonical(v))).collect();
            format!("{fields:?}")
        })
        .collect();
    out.sort();
    out
}

fn gold_rows(ctx: &TestContext, table: &str, date: &str) -> Vec<String> {
    let out = ctx.run_json(&["show", &format!("gold.{table}"), "--date", date, "--limit", "1000000"]);
    canonical_rows(out["rows"].as_array().unwrap().clone())
}

fn pg_rows(pg: &Postgres, table: &str, date: &str) -> Vec<String> {
    let lines = pg.query(&format!("SELECT row_to_json(t)::text FROM gold.{table} t WHERE date = '{date}'"));
    canonical_rows(lines.iter().map(|l| serde_json::from_str::<Value>(l).unwrap()))
}

fn assert_same_rows(ctx: &TestContext, pg: &Postgres, dates: &[&str]) {
    for table in GOLD {
        for date in dates {
            let gold = gold_rows(ctx, table, date);
            assert!(!gold.is_empty(), "gold.{table} {date} has no rows to compare");
            assert_eq!(pg_rows(pg, table, date), gold, "gold.{table} {date}");
        }
    }
}

#[test]
fn publish_puts_every_gold_table_in_postgres_and_incremental_runs_follow_gold() {
    let ctx = lakehouse_with_gold();
    let pg = Postgres::start();

    let first = publish(&ctx, &pg, &["--date", D1]);
    assert_eq!(first["target"], pg.target(), "{first}");
    assert_eq!(first["incremental"], false);
    for (table, dates) in actions(&first) {
        assert_eq!(dates, vec![(D1.to_string(), "replaced".to_string())], "{table}");
    }
    assert!(first["tables"].as_array().unwrap().iter().all(|t| t["created"] == true), "{first}");
    assert_same_rows(&ctx, &pg, &[D1]);
    assert!(pg_rows(&pg, "daily_kpis", D2).is_empty());

    // Incremental: D2 is not there yet, D1 is up to date.
    let second = publish(&ctx, &pg, &[]);
    assert_eq!(second["incremental"], true);
    for (table, dates) in actions(&second) {
        assert_eq!(dates, vec![(D2.to_string(), "replaced".to_string())], "{table}");
    }
    assert_same_rows(&ctx, &pg, &[D1, D2]);
    let nothing = publish(&ctx, &pg, &[]);
    assert!(actions(&nothing).values().all(Vec::is_empty), "{nothing}");

    // A rebuilt date is republished, and only it; the bookkeeping follows gold's versions.
    ctx.run_json(&["silver-to-gold", "--date", D1, "--model", "daily_kpis"]);
    let third = publish(&ctx, &pg, &[]);
    let acted = actions(&third);
    assert_eq!(acted["daily_kpis"], vec![(D1.to_string(), "replaced".to_string())], "{third}");
    assert!(acted.iter().filter(|(t, _)| *t != "daily_kpis").all(|(_, d)| d.is_empty()), "{third}");
    let versions = pg.query("SELECT gold_table || ' ' || date || ' ' || delta_version FROM gold.vbda_published WHERE gold_table = 'gold.daily_kpis' ORDER BY date");
    let kpis = third["tables"].as_array().unwrap().iter().find(|t| t["table"] == "gold.daily_kpis").unwrap()["delta_version"].as_i64().unwrap();
    // D2 did not change since it was published (kpis - 1): recorded as current too, so the next
    // incremental run reads the log from here on.
    assert_eq!(versions, vec![format!("gold.daily_kpis {D1} {kpis}"), format!("gold.daily_kpis {D2} {kpis}")]);
    assert_eq!(pg.query("SELECT count(*) FROM gold.vbda_published"), vec!["12"]);

    // A restore that takes D2 out of gold takes it out of PostgreSQL too.
    // Versions: D1 (kpis - 2), D2 (kpis - 1), D1 rebuilt (kpis); back to D1 only.
    ctx.run_json(&["restore", "gold.daily_kpis", "--version", &(kpis - 2).to_string()]);
    let fourth = publish(&ctx, &pg, &["--model", "daily_kpis"]);
    let acted = actions(&fourth);
    assert!(acted["daily_kpis"].contains(&(D2.to_string(), "deleted".to_string())), "{fourth}");
    assert!(pg_rows(&pg, "daily_kpis", D2).is_empty());
    // The removal is a tombstone (an older publisher cannot bring the rows back), and done once.
    assert_eq!(pg.query(&format!("SELECT deleted, rows FROM gold.vbda_published WHERE gold_table = 'gold.daily_kpis' AND date = '{D2}'")), vec!["t|0"]);
    assert!(actions(&publish(&ctx, &pg, &["--model", "daily_kpis"])).values().all(Vec::is_empty));
    let d1 = gold_rows(&ctx, "daily_kpis", D1);
    assert_eq!(d1.len(), 1);
    assert_eq!(pg_rows(&pg, "daily_kpis", D1), d1);

    // A publisher holding an older version than the one recorded leaves the date alone.
    pg.query(&format!("UPDATE gold.vbda_published SET delta_version = 1000 WHERE gold_table = 'gold.daily_kpis' AND date = '{D1}'"));
    pg.query(&format!("DELETE FROM gold.daily_kpis WHERE date = '{D1}'"));
    let older = publish(&ctx, &pg, &["--date", D1, "--model", "daily_kpis"]);
    assert_eq!(actions(&older)["daily_kpis"], vec![(D1.to_string(), "newer_there".to_string())], "{older}");
    assert!(pg_rows(&pg, "daily_kpis", D1).is_empty(), "left alone");
    pg.query("DELETE FROM gold.vbda_published WHERE gold_table = 'gold.daily_kpis'");
    publish(&ctx, &pg, &["--model", "daily_kpis"]);
    assert_eq!(pg_rows(&pg, "daily_kpis", D1), d1);

    // A table dropped by hand is created again and every date published into it.
    pg.query("DROP TABLE gold.ad_daily");
    let refilled = publish(&ctx, &pg, &["--model", "ad_daily"]);
    assert_eq!(refilled["tables"][0]["created"], true, "{refilled}");
    assert_eq!(actions(&refilled)["ad_daily"].len(), 2, "{refilled}");
    for date in [D1, D2] {
        let gold = gold_rows(&ctx, "ad_daily", date);
        assert!(!gold.is_empty(), "gold.ad_daily {date} has no rows to compare");
        assert_eq!(pg_rows(&pg, "ad_daily", date), gold, "gold.ad_daily {date}");
    }

    // Types, primary keys and comments come from the specs.
    let types = pg.query(
        "SELECT column_name || ' ' || data_type || ' ' || is_nullable FROM information_schema.columns
         WHERE table_schema = 'gold' AND table_name = 'daily_kpis' AND column_name IN ('date', 'views', 'completion_rate') ORDER BY column_name",
    );
    assert_eq!(types, vec!["completion_rate double precision YES", "date date NO", "views bigint NO"]);
    let pk = pg.query(
        "SELECT string_agg(a.attname, ',' ORDER BY a.attname) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
         WHERE i.indrelid = 'gold.user_activity'::regclass AND i.indisprimary",
    );
    assert_eq!(pk, vec!["date,user_id"]);
    let comment = pg.query("SELECT col_description('gold.daily_kpis'::regclass, 2)");
    assert!(comment[0].starts_with("Active users = count of distinct user_id"), "{comment:?}");
    let table_comment = pg.query("SELECT obj_description('gold.daily_kpis'::regclass, 'pg_class')");
    assert!(table_comment[0].contains("(vbda: gold.daily_kpis)"), "{table_comment:?}");
}

#[test]
fn killed_between_two_dates_then_rerun_leaves_every_date_wholly_old_or_wholly_new() {
    let ctx = lakehouse_with_gold();
    let pg = Postgres::start();
    // Abort in the second date's transaction, after its rows were copied, before its commit.
    let out = ctx
        .vbda()
        .args(["publish", "--target", &pg.target(), "--model", "daily_kpis"])
        .env("PGPASSWORD", PASSWORD)
        .env("VBDA_FAILPOINT", "publish.before_commit#2")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("failpoint publish.before_commit reached"));
    // The first date is wholly in, the second wholly absent: no rows without bookkeeping.
    assert_eq!(pg.query("SELECT date FROM gold.vbda_published"), vec![D1]);
    assert_eq!(pg.query("SELECT DISTINCT date FROM gold.daily_kpis"), vec![D1]);
    assert_eq!(pg_rows(&pg, "daily_kpis", D1), gold_rows(&ctx, "daily_kpis", D1));

    let rerun = publish(&ctx, &pg, &[]);
    assert_eq!(actions(&rerun)["daily_kpis"], vec![(D2.to_string(), "replaced".to_string())], "{rerun}");
    assert_same_rows(&ctx, &pg, &[D1, D2]);

    // D1 changes in gold (one more user); a kill inside its transaction leaves the old rows
    // and the old version, wholly; the rerun brings the new ones.
    let old_rows = pg_rows(&pg, "daily_kpis", D1);
    let old_version = pg.query(&format!("SELECT delta_version FROM gold.vbda_published WHERE gold_table = 'gold.daily_kpis' AND date = '{D1}'"));
    let extra = r#"{"event_id":"extra-1","event_type":"session_start","event_ts":"2025-01-01T12:00:00Z","user_id":"u-extra","session_id":"s-extra"}"#;
    std::fs::write(ctx.landing().join("extra.ndjson"), format!("{extra}\n")).unwrap();
    ctx.run_json(&["ingest"]);
    ctx.run_json(&["bronze-to-silver"]);
    ctx.run_json(&["silver-to-gold", "--date", D1, "--model", "daily_kpis"]);
    assert_ne!(gold_rows(&ctx, "daily_kpis", D1), old_rows, "the extra user changes D1");
    let out = ctx
        .vbda()
        .args(["publish", "--target", &pg.target(), "--date", D1])
        .env("PGPASSWORD", PASSWORD)
        .env("VBDA_FAILPOINT", "publish.before_commit")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(pg_rows(&pg, "daily_kpis", D1), old_rows, "wholly old");
    assert_eq!(pg.query(&format!("SELECT delta_version FROM gold.vbda_published WHERE gold_table = 'gold.daily_kpis' AND date = '{D1}'")), old_version);
    let rerun = publish(&ctx, &pg, &[]);
    assert_eq!(actions(&rerun)["daily_kpis"], vec![(D1.to_string(), "replaced".to_string())], "{rerun}");
    assert_same_rows(&ctx, &pg, &[D1, D2]);
}

#[test]
fn two_publishers_of_different_dates_at_once_both_land() {
    let ctx = lakehouse_with_gold();
    let pg = Postgres::start();
    let spawn = |date: &str| {
        ctx.vbda()
            .args(["publish", "--target", &pg.target(), "--date", date, "--output", "json"])
            .env("PGPASSWORD", PASSWORD)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(D1), spawn(D2));
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert_same_rows(&ctx, &pg, &[D1, D2]);
    assert_eq!(pg.query("SELECT count(*) FROM gold.vbda_published"), vec!["12"]);
    // The same date from two publishers at once: serialised, still exactly gold's rows.
    let (a, b) = (spawn(D1), spawn(D1));
    for child in [a, b] {
        assert_eq!(child.wait_with_output().unwrap().status.code(), Some(0));
    }
    assert_same_rows(&ctx, &pg, &[D1, D2]);
}

#[test]
fn a_wrong_password_exits_1_an_unreachable_server_exits_3_and_no_secret_is_printed() {
    let ctx = TestContext::new();
    let pg = Postgres::start();
    let wrong = "Wrong-Pass-93e1";
    let out = ctx.vbda().args(["publish", "--target", &pg.target(), "--date", D1, "--output", "json"]).env("PGPASSWORD", wrong).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("password authentication failed"), "{stdout}");
    assert!(stdout.contains("PGPASSWORD") && stdout.contains(".pgpass"), "a hint: {stdout}");
    assert!(!stdout.contains(wrong) && !stderr.contains(wrong) && !stdout.contains(PASSWORD), "{stdout}\n{stderr}");

    // A password inside the target is refused before anything connects, and never echoed.
    let with_password = format!("postgres://{USER}:{PASSWORD}@127.0.0.1:{}/postgres", pg.port);
    let spaced = format!("host=127.0.0.1 port={} user={USER} password = {PASSWORD} dbname=postgres", pg.port);
    for args in [
        vec!["publish", "--target", &with_password],
        vec!["--show-settings", "publish", "--target", &with_password],
        vec!["publish", "--target", &spaced],
        vec!["--show-settings", "publish", "--target", &spaced],
    ] {
        let out = ctx.vbda().args(&args).args(["--output", "json"]).output().unwrap();
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(all.contains("holds a password") && !all.contains(PASSWORD), "{all}");
    }

    // The password file: used when it is private, ignored (like libpq) when others can read it.
    let pgpass = ctx.dir.path().join("pgpass");
    std::fs::write(&pgpass, format!("# vbda tests\n127.0.0.1:{}:postgres:{USER}:{PASSWORD}\n", pg.port)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let lake_ctx = lakehouse_with_gold();
    let out = lake_ctx.vbda().args(["publish", "--target", &pg.target(), "--date", D1]).env_remove("PGPASSWORD").env("PGPASSFILE", &pgpass).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(pg_rows(&pg, "daily_kpis", D1), gold_rows(&lake_ctx, "daily_kpis", D1));
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = lake_ctx.vbda().args(["publish", "--target", &pg.target(), "--date", D1]).env_remove("PGPASSWORD").env("PGPASSFILE", &pgpass).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("group or world access") && stderr.contains("none was found"), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");

    // Nothing listens on this port: exit 3 (worth a retry), quickly.
    let nobody = format!("postgres://{USER}@127.0.0.1:{}/postgres", free_port());
    let started = std::time::Instant::now();
    let (report, _) = ctx.run_json_code(&["publish", "--target", &nobody, "--date", D1], 3);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert!(report["error"].as_str().unwrap().contains("cannot log in to PostgreSQL at"), "{report}");
    assert!(report["hint"].as_str().unwrap().contains("reachable"), "{report}");
}

#[test]
fn publish_without_a_target_fails_with_a_hint_or_skips_when_asked() {
    let ctx = TestContext::new();
    let (report, _) = ctx.run_json_code(&["publish", "--date", D1], 1);
    assert!(report["hint"].as_str().unwrap().contains("VBDA_PUBLISH_TARGET"), "{report}");
    let skipped = ctx.run_json(&["publish", "--date", D1, "--if-configured"]);
    assert_eq!(skipped["skipped"], true, "{skipped}");
    let (report, _) = ctx.run_json_code(&["publish", "--target", "postgres://x@127.0.0.1:1/db", "--model", "daily_kpi"], 1);
    assert!(report["hint"].as_str().unwrap().contains("did you mean `daily_kpis`"), "{report}");
}

#[test]
fn publish_over_tls_verifies_the_server_certificate() {
    let ctx = lakehouse_with_gold();
    let pg = Postgres::start_tls();
    let require = format!("{}?sslmode=require", pg.target());
    let run = |target: &str, ca: Option<&std::path::Path>| {
        let mut cmd = ctx.vbda();
        cmd.args(["publish", "--target", target, "--date", D1, "--model", "daily_kpis", "--output", "json"]).env("PGPASSWORD", PASSWORD);
        match ca {
            Some(ca) => cmd.env("PGSSLROOTCERT", ca),
            None => cmd.env_remove("PGSSLROOTCERT"),
        };
        let out = cmd.output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    // The CA that signed the server's certificate: TLS, and the rows land.
    let (code, out) = run(&require, Some(&pg.ca()));
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(pg_rows(&pg, "daily_kpis", D1), gold_rows(&ctx, "daily_kpis", D1));
    // A certificate this machine does not trust: refused, exit 1, with what to set.
    let (code, out) = run(&require, None);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("TLS handshake") && out.contains("PGSSLROOTCERT"), "{out}");
    // Without TLS, this server (hostssl only) refuses the connection: exit 1, with a hint.
    let (code, out) = run(&format!("{}?sslmode=disable", pg.target()), None);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("pg_hba.conf") && out.contains("sslmode=require"), "{out}");
    assert!(!out.contains(PASSWORD));
}
