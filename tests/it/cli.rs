//! The command line as schedulers and users meet it: help, exit codes, settings.

use crate::common::TestContext;

#[test]
fn help_lists_every_command_of_the_design() {
    let ctx = TestContext::new();
    let run = ctx.run(&["--help"]);
    assert_eq!(run.code, 0);
    for cmd in [
        "generate", "ingest", "stream", "bronze-to-silver", "silver-to-gold", "check", "tables", "describe",
        "vacuum", "optimize", "checkpoint", "history", "status", "restore", "backfill",
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
