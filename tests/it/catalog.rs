//! The repository's own specs load, through the binary as users see them.

use crate::common::TestContext;

#[test]
fn tables_lists_every_spec_and_describe_shows_one() {
    let ctx = TestContext::new();
    let out = ctx.run_json(&["tables"]);
    let tables = out["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 10, "{out}");
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
