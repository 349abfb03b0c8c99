//! The command line as schedulers and users meet it: help, exit codes, settings.

use crate::common::TestContext;

#[test]
fn help_lists_every_command_of_the_design() {
    let ctx = TestContext::new();
    let run = ctx.run(&["--help"]);
    assert_eq!(run.code, 0);
    for cmd in [
        "generate", "ingest", "stream", "bronze-to-silver", "silver-to-gold", "check", "tables", "describe",
        "vacuum", "optimize", "checkpoint", "history", "status", "restore", "backfill", "validate", "init", "completions",
    ] {
        assert!(run.stdout.contains(&format!("\n  {cmd} ")), "`{cmd}` missing from help:\n{}", run.stdout);
    }
    for flag in ["--project", "--lakehouse", "--verbose", "--quiet", "--log-format", "--output"] {
        assert!(run.stdout.contains(flag), "{flag} missing from help");
    }
    assert!(!run.stdout.contains("--show-settings"), "hidden flag stays hidden");
}

#[test]
fn every_command_help_ends_with_examples() {
    let ctx = TestContext::new();
    for cmd in [
        "generate", "ingest", "stream", "bronze-to-silver", "silver-to-gold", "check", "tables", "describe", "show",
        "vacuum", "optimize", "checkpoint", "history", "status", "restore", "produce", "backfill",
        "validate", "init", "completions",
    ] {
        let run = ctx.run(&[cmd, "--help"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let examples = run.stdout.split_once("\nExamples:\n").map(|(_, e)| e).unwrap_or_else(|| panic!("`{cmd} --help` has no examples:\n{}", run.stdout));
        assert!(examples.lines().next().is_some_and(|l| l.contains(&format!("vbda {cmd}")) || l.contains("vbda --output json")), "{cmd}: {examples}");
        // Each example fits on one line of the help's width (no wrapped, broken commands).
        for line in examples.lines() {
            assert!(line.starts_with("  vbda ") || line.starts_with("  VBDA_") || line.starts_with("       "), "{cmd}: wrapped line `{line}`");
        }
    }
}

#[test]
fn usage_errors_exit_2_and_bad_requests_exit_1_saying_why() {
    let ctx = TestContext::new();
    let run = ctx.run(&["ingest", "--no-such-flag"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = ctx.run(&["silver-to-gold", "--date", "2025-13-01"]);
    assert_eq!(run.code, 2, "a bad date is a usage error: {}", run.stderr);
    assert!(run.stderr.contains("2025-13-01"), "{}", run.stderr);

    let run = ctx.run(&["ingest", "--landing", "s3:///landing/"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("landing location `s3:///landing/` names no bucket"), "{}", run.stderr);
    assert!(run.stderr.contains("hint: use s3://bucket/prefix"), "{}", run.stderr);
    let run = ctx.run(&["stream"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no Kafka brokers given") && run.stderr.contains("--brokers"), "{}", run.stderr);
    let run = ctx.run(&["silver-to-gold", "--from", "2025-01-03", "--to", "2025-01-01"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("--from 2025-01-03 is after --to 2025-01-01"), "{}", run.stderr);

    let run = ctx.run(&["stream", "--output", "json"]);
    assert_eq!(run.code, 1);
    let out: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!((out["ok"].clone(), out["exit_code"].clone()), (false.into(), 1.into()));
}

#[test]
fn under_output_json_every_outcome_prints_one_json_object_on_stdout_usage_errors_too() {
    let ctx = TestContext::new();
    // A usage error: clap's, exit 2, still one JSON object (flag, `--flag=value` and env var).
    for (args, env) in [
        (vec!["--output", "json", "silver-to-gold", "--date", "2025-13-01"], None),
        (vec!["silver-to-gold", "--output=json", "--no-such-flag"], None),
        (vec!["no-such-command"], Some("json")),
    ] {
        let mut cmd = ctx.vbda();
        if let Some(v) = env {
            cmd.env("VBDA_OUTPUT", v);
        }
        let out = cmd.args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.lines().count(), 1, "{args:?}: {stdout}");
        let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"));
        assert_eq!((v["ok"].clone(), v["exit_code"].clone()), (false.into(), 2.into()), "{v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty() && !e.starts_with("error:")), "{v}");
        assert!(v["hint"].is_string(), "{v}");
        // The human text is still on stderr.
        assert!(String::from_utf8_lossy(&out.stderr).contains("error:"), "{args:?}");
    }
    let (v, _) = ctx.run_json_code(&["silver-to-gold", "--date", "2025-13-01"], 2);
    assert!(v["error"].as_str().unwrap().contains("2025-13-01"), "{v}");
    // A data error (exit 1) and success: one object each.
    let (v, _) = ctx.run_json_code(&["describe", "gold.no_such_table"], 1);
    assert_eq!(v["ok"], false);
    assert!(v["hint"].as_str().unwrap().contains("known tables"), "{v}");
    let v = ctx.run_json(&["tables"]);
    assert_eq!(v["ok"], true);
    // `--help` and `--version` are not errors.
    let run = ctx.run(&["--output", "json", "--version"]);
    assert_eq!(run.code, 0);
}

#[test]
fn under_log_format_json_the_final_error_is_a_json_line_too() {
    let ctx = TestContext::new();
    for (args, code) in [
        (vec!["--log-format", "json", "describe", "gold.no_such_table"], 1),
        (vec!["--log-format", "json", "ingest", "--no-such-flag"], 2),
    ] {
        let run = ctx.run(&args);
        assert_eq!(run.code, code, "{args:?}: {}", run.stderr);
        let lines: Vec<&str> = run.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(!lines.is_empty(), "{args:?}");
        for line in &lines {
            let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{args:?}: not a JSON line ({e}): {line}"));
            assert!(v["level"].is_string(), "{line}");
        }
        let last: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
        assert_eq!((last["level"].clone(), last["exit_code"].clone()), ("ERROR".into(), code.into()), "{last}");
        assert!(last["message"].as_str().is_some_and(|m| !m.is_empty()), "{last}");
        assert!(last["hint"].is_string(), "{last}");
    }
}

#[test]
fn log_lines_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let ctx = TestContext::new();
    std::fs::write(ctx.landing().join("a.ndjson"), "{\"event_id\":\"x\"}\nnot json\n").unwrap();
    // Captured stderr is a pipe: no ANSI escape even at debug level and without NO_COLOR.
    let out = ctx.vbda().env_remove("NO_COLOR").args(["-v", "ingest"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("DEBUG") || stderr.contains("INFO"), "some log lines were written: {stderr}");
    assert!(!stderr.contains('\u{1b}'), "ANSI escape in piped stderr: {stderr:?}");
}

#[test]
fn settings_resolve_flag_over_env_over_file_and_hide_secrets() {
    let ctx = TestContext::new();
    let project = ctx.dir.path().join("p");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("vbda.toml"), "lakehouse = \"from-file\"\n[ingest]\nlanding = \"in\"\n").unwrap();
    let show = |extra: &[&str], env: &[(&str, &str)]| {
        let mut cmd = ctx.vbda();
        cmd.env_remove("VBDA_LAKEHOUSE").env_remove("VBDA_LANDING").env("VBDA_PROJECT", &project);
        cmd.env("AWS_SECRET_ACCESS_KEY", "very-secret-value").env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.args(extra).args(["--show-settings", "tables"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(!text.contains("very-secret-value") && !text.contains("AKIAEXAMPLE"), "secret shown:\n{text}");
        assert!(text.contains("<redacted>"), "{text}");
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    };
    let s = show(&[], &[]);
    assert_eq!(s["lakehouse"]["source"], "config_file");
    assert!(s["lakehouse"]["value"].as_str().unwrap().ends_with("p/from-file"), "relative to the project: {s}");
    assert!(s["landing"]["value"].as_str().unwrap().ends_with("p/in"));
    let s = show(&[], &[("VBDA_LAKEHOUSE", "/from-env")]);
    assert_eq!((s["lakehouse"]["value"].as_str(), s["lakehouse"]["source"].as_str()), (Some("/from-env"), Some("env")));
    let s = show(&["--lakehouse", "/from-flag"], &[("VBDA_LAKEHOUSE", "/from-env")]);
    assert_eq!((s["lakehouse"]["value"].as_str(), s["lakehouse"]["source"].as_str()), (Some("/from-flag"), Some("flag")));

    std::fs::write(project.join("vbda.toml"), "[s3]\nsecret_access_key = \"x\"\n").unwrap();
    let out = ctx.vbda().env("VBDA_PROJECT", &project).arg("tables").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field `secret_access_key`") && err.contains("belong in the environment"), "{err}");
}

#[test]
fn generate_writes_where_a_plain_ingest_reads() {
    let ctx = TestContext::new();
    // No --out: the landing setting (VBDA_LANDING here) decides, as it does for ingest.
    let v = ctx.run_json(&["generate", "--events", "500", "--content-out", "content.csv"]);
    assert_eq!(v["ok"], true);
    assert!(ctx.landing().join("date=2025-01-01").is_dir(), "files under the landing setting");
    let v = ctx.run_json(&["ingest"]);
    assert_eq!(v["files_ingested"], 1, "{v}");
    assert_eq!(v["rows"], 500, "{v}");
}

#[test]
fn init_makes_a_working_project_without_this_repository() {
    let ctx = TestContext::new();
    let dir = ctx.dir.path().join("my-lake");
    let v = ctx.run_json(&["init", dir.to_str().unwrap()]);
    assert!(v["written"].as_array().unwrap().len() > 20, "{v}");
    for f in ["vbda.toml", "tables/silver/video_events.toml", "jobs/daily_kpis.sql", "airflow/dags/vbda_daily.py"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    // From inside the new folder, with no VBDA_* settings at all: the defaults work end to end.
    let vbda = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vbda"))
            .current_dir(&dir)
            .env_remove("VBDA_PROJECT")
            .env_remove("VBDA_LAKEHOUSE")
            .env_remove("VBDA_LANDING")
            .env_remove("VBDA_OUTPUT")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    vbda(&["validate"]);
    vbda(&["generate", "--events", "2000"]);
    vbda(&["ingest"]);
    vbda(&["ingest", "--content", "content.csv"]);
    vbda(&["bronze-to-silver"]);
    vbda(&["silver-to-gold"]);
    let kpis: serde_json::Value = serde_json::from_str(vbda(&["show", "gold.daily_kpis", "--date", "2025-01-01", "--output", "json"]).trim()).unwrap();
    assert_eq!(kpis["rows"].as_array().map(Vec::len), Some(1), "{kpis}");
    assert!(dir.join("lakehouse/gold/daily_kpis").is_dir());

    // A second init refuses; --force adds only what is missing and keeps edits.
    let run = ctx.run(&["init", dir.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("already holds a vbda project") && run.stderr.contains("--force"), "{}", run.stderr);
    std::fs::write(dir.join("vbda.toml"), "# mine\n").unwrap();
    std::fs::remove_file(dir.join("jobs/ad_daily.sql")).unwrap();
    let v = ctx.run_json(&["init", dir.to_str().unwrap(), "--force"]);
    assert_eq!(v["written"], serde_json::json!(["jobs/ad_daily.sql"]), "{v}");
    assert_eq!(std::fs::read_to_string(dir.join("vbda.toml")).unwrap(), "# mine\n");
}

#[test]
fn completions_are_generated_for_each_shell() {
    let ctx = TestContext::new();
    for shell in ["bash", "zsh", "fish"] {
        let run = ctx.run(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        for cmd in ["bronze-to-silver", "silver-to-gold", "validate", "init"] {
            assert!(run.stdout.contains(cmd), "{shell} completions lack {cmd}");
        }
    }
    // The bash script parses.
    let script = ctx.dir.path().join("vbda.bash");
    std::fs::write(&script, ctx.run(&["completions", "bash"]).stdout).unwrap();
    let status = std::process::Command::new("bash").arg("-n").arg(&script).status().unwrap();
    assert!(status.success());
    assert_eq!(ctx.run(&["completions", "tcsh"]).code, 2, "an unknown shell is a usage error");
}
