//! The repository's own specs load, through the binary as users see them.

use crate::common::TestContext;

#[test]
fn tables_lists_every_spec_and_describe_shows_one() {
    let ctx = TestContext::new();
    let out = ctx.run_json(&["tables"]);
    let tables = out["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 11, "{out}");
    assert!(tables.iter().all(|t| t["created"] == false && t["files"] == 0));

    let out = ctx.run_json(&["describe", "silver.video_events"]);
    assert_eq!(out["table"], "silver.video_events");
    assert_eq!(out["partition_by"], serde_json::json!(["event_date"]));
    assert!(out["columns"].as_array().unwrap().iter().any(|c| c["name"] == "event_id" && c["nullable"] == false));
    assert!(out["expectations"].as_array().unwrap().iter().any(|e| e["rule"] == "accepted_values"));

    let run = ctx.run(&["describe", "silver.nope"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("error: no such table: `silver.nope`"), "{}", run.stderr);
    assert!(run.stderr.contains("hint: known tables: bronze.video_events"), "{}", run.stderr);
}

#[test]
fn a_broken_spec_stops_every_command_with_all_problems() {
    let ctx = TestContext::new();
    let project = ctx.dir.path().join("project");
    std::fs::create_dir_all(project.join("tables/silver")).unwrap();
    std::fs::write(project.join("tables/silver/a.toml"), "description = \"a\"\ncolumns = []\nextra = 1\n").unwrap();
    std::fs::write(
        project.join("tables/silver/b.toml"),
        "description = \"b\"\npartition_by = [\"x\"]\n[[columns]]\nname = \"y\"\ntype = \"string\"\n",
    )
    .unwrap();
    let run = ctx.run(&["--project", project.to_str().unwrap(), "tables"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("2 problems"), "{}", run.stderr);
    assert!(run.stderr.contains("a.toml") && run.stderr.contains("extra"), "{}", run.stderr);
    assert!(run.stderr.contains("b.toml: partition column `x` is not a column"), "{}", run.stderr);
}

#[test]
fn a_folder_without_specs_says_where_to_point() {
    let ctx = TestContext::new();
    let run = ctx.run(&["--project", ctx.dir.path().to_str().unwrap(), "tables"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("has no tables/ folder"), "{}", run.stderr);
    assert!(run.stderr.contains("hint: run vbda from the project folder, or pass --project DIR"), "{}", run.stderr);
}

#[test]
fn validate_reports_every_problem_at_once_with_file_line_and_suggestion() {
    let ctx = TestContext::new();
    let project = crate::common::project_copy(&ctx);
    let p = project.to_str().unwrap();
    let v = ctx.run_json(&["--project", p, "validate"]);
    assert_eq!((v["problems"].as_array().unwrap().len(), v["models_planned"].as_u64()), (0, Some(6)), "{v}");

    // A typo in a gold spec's key, a job naming a table that is not there, a SQL syntax error
    // and an unknown column in two other models.
    crate::common::edit(&project.join("tables/gold/user_daily.toml"), "nullable = false", "nulable = false");
    crate::common::edit(&project.join("jobs/user_activity.toml"), "\"silver.video_events\"", "\"silver.video_event\"");
    crate::common::edit(&project.join("jobs/ad_daily.sql"), "SELECT", "SELEC");
    let sql = std::fs::read_to_string(project.join("jobs/daily_kpis.sql")).unwrap();
    let line = sql.lines().position(|l| l.trim() == "event_date,").unwrap() + 1;
    crate::common::edit(&project.join("jobs/daily_kpis.sql"), "        event_date,", "        event_dat,");

    let (v, stderr) = ctx.run_json_code(&["--project", p, "validate"], 1);
    assert_eq!(v["ok"], false);
    let problems = v["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 4, "{v}");
    let find = |file: &str| problems.iter().find(|x| x["file"].as_str().unwrap().ends_with(file)).unwrap_or_else(|| panic!("{file}: {v}"));
    // The real problem first-hand, with its line; not the knock-on "unknown table" of a job
    // reading gold.user_daily.
    let typo = find("tables/gold/user_daily.toml");
    assert_eq!(typo["suggestion"], "nullable");
    assert!(typo["line"].as_u64().is_some_and(|l| l > 1), "{typo}");
    assert!(!problems.iter().any(|x| x["message"].as_str().unwrap().contains("gold.user_daily")), "knock-on error reported: {v}");
    assert_eq!(find("jobs/user_activity.toml")["suggestion"], "silver.video_events");
    let syntax = find("jobs/ad_daily.sql");
    assert!(syntax["message"].as_str().unwrap().contains("SELEC") && syntax["line"].is_u64(), "{syntax}");
    let column = find("jobs/daily_kpis.sql");
    assert_eq!((column["line"].as_u64(), column["suggestion"].as_str()), (Some(line as u64), Some("event_date")), "{column}");
    assert!(!column["message"].as_str().unwrap().contains("Resolved plan"), "no query plan dump: {column}");
    assert!(stderr.contains("4 problems"), "{stderr}");

    // A model whose SELECT list does not match its spec.
    let ctx2 = TestContext::new();
    let project = crate::common::project_copy(&ctx2);
    crate::common::edit(&project.join("jobs/daily_kpis.sql"), "\n    active_users,\n", "\n    active_users AS active_user,\n");
    let (v, _) = ctx2.run_json_code(&["--project", project.to_str().unwrap(), "validate"], 1);
    let messages: Vec<&str> = v["problems"].as_array().unwrap().iter().map(|x| x["message"].as_str().unwrap()).collect();
    assert!(messages.iter().any(|m| m.contains("returns column `active_user`")), "{v}");
    assert!(messages.iter().any(|m| m.contains("does not return gold.daily_kpis's column(s) active_users")), "{v}");
    assert_eq!(v["problems"][0]["suggestion"], "active_users", "{v}");
}

#[test]
fn transforms_and_check_refuse_a_broken_model_before_reading_any_data() {
    let ctx = TestContext::new();
    let project = crate::common::project_copy(&ctx);
    crate::common::edit(&project.join("jobs/ad_daily.sql"), "SELECT", "SELEC");
    let p = project.to_str().unwrap();
    for args in [
        vec!["--project", p, "bronze-to-silver", "--date", "2025-01-01"],
        vec!["--project", p, "silver-to-gold", "--date", "2025-01-01"],
        vec!["--project", p, "check"],
        vec!["--project", p, "backfill", "--from", "2025-01-01", "--to", "2025-01-01"],
    ] {
        let run = ctx.run(&args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("ad_daily.sql") && run.stderr.contains("SELEC"), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("vbda validate"), "{args:?}: {}", run.stderr);
    }
    assert!(!ctx.lakehouse().exists(), "nothing was created");
    // `tables` still lists, and warns.
    let run = ctx.run(&["--project", p, "tables"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("warning: 1 problem in the gold SQL models") && run.stdout.contains("vbda validate"), "{}", run.stdout);
    let v = ctx.run_json(&["--project", p, "tables"]);
    assert!(v["model_problems"][0]["file"].as_str().unwrap().ends_with("ad_daily.sql"), "{v}");
}
