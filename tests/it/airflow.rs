//! The DAGs in airflow/dags with real Airflow (installed by scripts/test.sh into a virtual
//! environment): Airflow's own DagBag imports them, and `airflow dags test` runs the daily
//! pipeline against a temporary lakehouse (SQLite metadata database, no scheduler).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{TestContext, project_dir};

fn venv() -> PathBuf {
    let dir = std::env::var_os("VBDA_AIRFLOW_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/vbda-airflow-venv"));
    assert!(dir.join("bin/airflow").exists(), "Airflow is not installed in {}: run scripts/test.sh, which installs it", dir.display());
    dir
}

/// `airflow ...` with its own home and SQLite database, and vbda's settings for the DAGs.
fn airflow(ctx: &TestContext, home: &Path, args: &[&str]) -> (i32, String, String) {
    airflow_with(ctx, home, args, &[])
}

/// [`airflow`] with more environment for the tasks (a publish target and its password).
fn airflow_with(ctx: &TestContext, home: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(venv().join("bin/airflow"))
        .envs(env.iter().copied())
        .args(args)
        .current_dir(ctx.dir.path())
        .env("AIRFLOW_HOME", home)
        .env("AIRFLOW__CORE__DAGS_FOLDER", project_dir().join("airflow/dags"))
        .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        .env("VBDA_BIN", env!("CARGO_BIN_EXE_vbda"))
        .env("VBDA_PROJECT", project_dir())
        .env("VBDA_LAKEHOUSE", ctx.lakehouse())
        .env("VBDA_LANDING", ctx.landing())
        .env_remove("VBDA_OUTPUT")
        .output()
        .expect("run airflow");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The last line of stdout that is JSON (Airflow logs around it).
fn json_line(stdout: &str) -> Value {
    stdout.lines().rev().find_map(|l| serde_json::from_str(l.trim()).ok()).unwrap_or_else(|| panic!("no JSON in: {stdout}"))
}

#[test]
fn airflow_imports_every_dag_and_its_operator_maps_exit_codes_and_dates() {
    let script = r#"
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=DAGS)
out = {"errors": {k: v[-300:] for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    dag.check_cycle() if hasattr(dag, "check_cycle") else None
    out["dags"][dag_id] = {
        "tasks": sorted(t.task_id for t in dag.tasks),
        "edges": sorted([t.task_id, d] for t in dag.tasks for d in t.downstream_task_ids),
        "max_active_runs": dag.max_active_runs,
        "pools": sorted({t.pool for t in dag.tasks}),
        "retries": sorted({t.retries for t in dag.tasks}),
    }

# Exit codes: 1 and 2 fail without retry, anything else is retried.
import sys
sys.path.insert(0, DAGS)
from vbda_common import RUN_DATE, VbdaOperator
from airflow.sdk.exceptions import AirflowFailException
from airflow.exceptions import AirflowException
out["exit_codes"] = {}
for code in (1, 2, 3):
    try:
        VbdaOperator(task_id=f"exit_{code}", arguments="x", bash_command=f"exit {code}").execute({})
        out["exit_codes"][code] = "ok"
    except AirflowFailException:
        out["exit_codes"][code] = "fail"
    except AirflowException:
        out["exit_codes"][code] = "retry"
# A summary that says it skipped (publish --if-configured without a target) skips the task.
from airflow.exceptions import AirflowSkipException
try:
    VbdaOperator(task_id="skips", arguments="x", bash_command="""echo '{"skipped":true,"reason":"no target","command":"publish","ok":true}'""").execute({})
    out["skipped"] = "ran"
except AirflowSkipException as e:
    out["skipped"] = str(e)

# The run date: logical date; conf's date; the day before a manual run without logical date.
import jinja2
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
render = lambda run: jinja2.Template(RUN_DATE).render(dag_run=run, macros=SimpleNamespace(timedelta=timedelta))
out["dates"] = [
    render(SimpleNamespace(conf={}, logical_date=datetime(2025, 1, 1, 2, tzinfo=timezone.utc), run_after=datetime(2025, 1, 2, 2, tzinfo=timezone.utc))),
    render(SimpleNamespace(conf={"date": "2024-12-31"}, logical_date=None, run_after=datetime(2025, 1, 9, tzinfo=timezone.utc))),
    render(SimpleNamespace(conf={}, logical_date=None, run_after=datetime(2025, 1, 9, 0, 30, tzinfo=timezone.utc))),
]
print(json.dumps(out))
"#
    .replace("DAGS", &format!("{:?}", project_dir().join("airflow/dags").to_string_lossy()));
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(venv().join("bin/python")).arg("-c").arg(script).env("AIRFLOW_HOME", home.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let bag = json_line(&stdout);
    assert_eq!(bag["errors"], serde_json::json!({}), "{bag}");
    let dags = &bag["dags"];
    // ingest -> bronze_to_silver -> silver_to_gold -> check -> publish (edges sorted as Python sorts them).
    assert_eq!(
        dags["vbda_daily"]["edges"],
        serde_json::json!([["bronze_to_silver", "silver_to_gold"], ["check", "publish"], ["ingest", "bronze_to_silver"], ["silver_to_gold", "check"]]),
        "{bag}"
    );
    assert_eq!(dags["vbda_microbatch"]["tasks"], serde_json::json!(["bronze_to_silver", "silver_to_gold", "stream"]));
    assert_eq!(dags["vbda_maintenance"]["tasks"], serde_json::json!(["checkpoint", "optimize", "vacuum"]));
    assert_eq!(bag["exit_codes"], serde_json::json!({"1": "fail", "2": "fail", "3": "retry"}), "{bag}");
    assert_eq!(bag["skipped"], "vbda publish: no target", "{bag}");
    assert_eq!(bag["dates"], serde_json::json!(["2025-01-01", "2024-12-31", "2025-01-08"]), "{bag}");
    for dag in ["vbda_daily", "vbda_microbatch", "vbda_maintenance"] {
        assert_eq!(dags[dag]["max_active_runs"], 1, "{dag}: {bag}");
        assert!(dags[dag]["pools"].as_array().unwrap().contains(&serde_json::json!("vbda_lakehouse")), "{dag}: {bag}");
        assert_eq!(dags[dag]["retries"], serde_json::json!([2]), "{dag}: {bag}");
    }
}

#[test]
fn the_daily_dag_builds_gold_for_its_date_and_a_data_error_fails_without_retries() {
    let ctx = TestContext::new();
    let home = ctx.dir.path().join("airflow-home");
    let landing = ctx.landing();
    ctx.run_json(&["generate", "--out", landing.to_str().unwrap(), "--content-out", "c.csv", "--events", "5000", "--date", "2025-01-01"]);
    let (code, _, err) = airflow(&ctx, &home, &["db", "migrate"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = airflow(&ctx, &home, &["pools", "set", "vbda_lakehouse", "1", "vbda writers"]);
    assert_eq!(code, 0, "{err}");

    // The same input through vbda directly: the row counts the DAG must produce.
    let reference = TestContext::new();
    std::fs::create_dir_all(reference.landing()).unwrap();
    for f in crate::common::files_under(&landing) {
        let to = reference.landing().join(f.strip_prefix(&landing).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&f, &to).unwrap();
    }
    reference.run_json(&["ingest"]);
    reference.run_json(&["bronze-to-silver", "--date", "2025-01-01"]);
    let expected = reference.run_json(&["silver-to-gold", "--date", "2025-01-01"]);

    // With a publish target (a real PostgreSQL), the last task publishes the date's gold.
    let pg = crate::postgres::Postgres::start();
    let target = pg.target();
    let publish_env = [("VBDA_PUBLISH_TARGET", target.as_str()), ("PGPASSWORD", crate::postgres::PASSWORD)];
    let (code, out, err) = airflow_with(&ctx, &home, &["dags", "test", "vbda_daily", "2025-01-01"], &publish_env);
    assert_eq!(code, 0, "{out}\n{err}");
    for model in expected["models"].as_array().unwrap() {
        let table = model["table"].as_str().unwrap();
        let shown = ctx.run_json(&["show", table, "--date", "2025-01-01", "--limit", "0"]);
        assert_eq!(shown["total_rows"], model["rows"], "{table}");
        assert!(model["rows"].as_u64().unwrap() > 0, "{table}");
        let in_pg = pg.query(&format!("SELECT count(*) FROM {table} WHERE date = '2025-01-01'"));
        assert_eq!(in_pg, vec![model["rows"].to_string()], "{table} in PostgreSQL");
    }
    // Without one, the publish task is skipped and the run succeeds.
    let (code, out, err) = airflow(&ctx, &home, &["dags", "test", "vbda_daily", "2025-01-03"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (_, runs, _) = airflow(&ctx, &home, &["dags", "list-runs", "vbda_daily", "-o", "json"]);
    let runs = json_line(&runs);
    let run = runs.as_array().unwrap().iter().find(|r| r["logical_date"].as_str().unwrap().starts_with("2025-01-03")).unwrap();
    let (_, states, _) = airflow(&ctx, &home, &["tasks", "states-for-dag-run", "vbda_daily", run["run_id"].as_str().unwrap(), "-o", "json"]);
    let states = json_line(&states);
    let publish = states.as_array().unwrap().iter().find(|t| t["task_id"] == "publish").unwrap();
    assert_eq!(publish["state"], "skipped", "{states}");
    assert_eq!(run["state"], "success", "{run}");

    // A file ingest cannot read: exit code 1, so the task fails at once (no retry) and the
    // run fails with nothing downstream run.
    std::fs::write(landing.join("broken.ndjson.gz"), "not gzip").unwrap();
    let (code, _, _) = airflow(&ctx, &home, &["dags", "test", "vbda_daily", "2025-01-02"]);
    assert_ne!(code, 0);
    let (_, runs, err) = airflow(&ctx, &home, &["dags", "list-runs", "vbda_daily", "-o", "json"]);
    let runs = json_line(&runs);
    let run = runs.as_array().unwrap().iter().find(|r| r["logical_date"].as_str().unwrap().starts_with("2025-01-02")).unwrap_or_else(|| panic!("{runs}\n{err}"));
    assert_eq!(run["state"], "failed", "{run}");
    let (_, states, _) = airflow(&ctx, &home, &["tasks", "states-for-dag-run", "vbda_daily", run["run_id"].as_str().unwrap(), "-o", "json"]);
    let states = json_line(&states);
    let state = |task: &str| states.as_array().unwrap().iter().find(|t| t["task_id"] == task).map(|t| t["state"].clone()).unwrap();
    assert_eq!(state("ingest"), "failed", "failed, not up_for_retry: {states}");
    assert_eq!(state("bronze_to_silver"), "upstream_failed", "{states}");
}
