use std::path::Path;

use super::*;

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn the_repository_specs_load_without_errors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let catalog = Catalog::load(root).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<String> = catalog.tables().map(|t| t.id.to_string()).collect();
    for expected in [
        "bronze.video_events",
        "silver.video_events",
        "silver.video_events_quarantine",
        "silver.content",
        "gold.daily_kpis",
        "gold.content_daily",
        "gold.user_daily",
        "gold.device_geo_daily",
        "gold.ad_daily",
        "gold.user_activity",
    ] {
        assert!(names.contains(&expected.to_string()), "missing {expected} in {names:?}");
    }
    assert_eq!(names[0], "bronze.video_events", "bronze is listed first");
    assert!(catalog.jobs().any(|j| j.name == "ingest"));
    assert_eq!(catalog.table("silver.video_events").unwrap().partition_by, vec!["event_date"]);
}

const GOOD: &str = r#"
description = "t"
partition_by = ["d"]
[[columns]]
name = "d"
type = "date"
nullable = false
[[columns]]
name = "n"
type = "long"
"#;

#[test]
fn every_problem_in_every_file_is_reported_at_once_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "tables/silver/ok.toml", GOOD);
    write(root, "tables/silver/unknown_key.toml", &format!("{GOOD}\ncolour = \"red\"\n"));
    write(root, "tables/silver/bad_type.toml", &GOOD.replace("\"long\"", "\"bigint\""));
    write(root, "tables/silver/bad_partition.toml", &GOOD.replace("partition_by = [\"d\"]", "partition_by = [\"nope\"]"));
    write(
        root,
        "tables/gold/bad_rel.toml",
        &format!("{GOOD}\n[[expectations]]\nrule = \"relationships\"\nseverity = \"warn\"\ncolumn = \"n\"\nto = \"silver.missing\"\nto_column = \"x\"\n"),
    );
    write(
        root,
        "tables/gold/bad_range.toml",
        &format!("{GOOD}\n[[expectations]]\nrule = \"range\"\nseverity = \"drop\"\ncolumn = \"d\"\n"),
    );
    write(
        root,
        "tables/gold/bad_range_units.toml",
        &format!("{GOOD}\n[[expectations]]\nrule = \"range\"\nseverity = \"drop\"\ncolumn = \"d\"\nmin = 0.0\n"),
    );
    write(
        root,
        "tables/gold/bad_time.toml",
        &format!("{GOOD}\n[[expectations]]\nrule = \"range\"\nseverity = \"drop\"\ncolumn = \"d\"\nmin = \"yesterday\"\n"),
    );
    write(root, "tables/platinum/x.toml", GOOD);
    write(root, "tables/gold/Bad-Name.toml", GOOD);
    write(root, "jobs/sub/j.toml", "description = \"j\"\nreads = []\nwrites = [\"silver.ok\"]\n");
    write(root, "jobs/j.toml", "description = \"j\"\nreads = [\"bronze.nothing\"]\nwrites = [\"silver.ok\"]\n");
    let err = Catalog::load(root).unwrap_err();
    let text = err.to_string();
    assert_eq!(err.exit_code(), 1);
    for needle in [
        "unknown_key.toml",
        "colour",
        "bad_type.toml",
        "bigint",
        "bad_partition.toml: partition column `nope` is not a column",
        "bad_rel.toml: expectation `relationships_n` refers to unknown table `silver.missing`",
        "bad_range.toml: expectation `range_d`: rule `range` needs `min or max`",
        "bad_range_units.toml: expectation `range_d`: range on a date column needs times as min and max",
        "bad_time.toml",
        "`yesterday` is neither a number nor a time",
        "unknown layer `platinum`",
        "j.toml: job refers to unknown table `bronze.nothing`",
        "table name `Bad-Name` must be snake_case",
        "job `j` is already defined in",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
    assert!(!text.contains("ok.toml"), "a good file is not a problem:\n{text}");
}

#[test]
fn unknown_table_lists_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "tables/silver/ok.toml", GOOD);
    let catalog = Catalog::load(dir.path()).unwrap();
    let err = catalog.table("silver.nope").unwrap_err();
    assert_eq!(err.to_string(), "no such table: `silver.nope`");
    assert!(err.hint().unwrap().contains("silver.ok"));
}
