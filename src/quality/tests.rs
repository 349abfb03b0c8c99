use super::*;
use crate::catalog::Catalog;

const SPEC: &str = r#"
description = "t"
[[columns]]
name = "id"
type = "string"
[[columns]]
name = "kind"
type = "string"
[[columns]]
name = "content_id"
type = "string"
[[columns]]
name = "n"
type = "double"

[[expectations]]
rule = "not_null"
column = "id"
severity = "drop"

[[expectations]]
rule = "accepted_values"
column = "kind"
values = ["play", "pause"]
severity = "drop"

[[expectations]]
name = "content_on_play"
rule = "not_null"
column = "content_id"
when = { column = "kind", in = ["play"] }
severity = "drop"

[[expectations]]
rule = "range"
column = "n"
min = 0.0
severity = "drop"

[[expectations]]
rule = "unique"
column = "id"
severity = "fail"

[[expectations]]
rule = "relationships"
column = "content_id"
to = "silver.c"
to_column = "content_id"
severity = "warn"
"#;

const C: &str = "description = \"c\"\n[[columns]]\nname = \"content_id\"\ntype = \"string\"\n";

fn spec() -> (tempfile::TempDir, TableSpec) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("tables/silver")).unwrap();
    std::fs::write(dir.path().join("tables/silver/t.toml"), SPEC).unwrap();
    std::fs::write(dir.path().join("tables/silver/c.toml"), C).unwrap();
    let spec = Catalog::load(dir.path()).unwrap().table("silver.t").unwrap().clone();
    (dir, spec)
}

fn frame() -> DataFrame {
    df!(
        "id" => [Some("a"), None, Some("c"), Some("d"), Some("e"), Some("f")],
        "kind" => [Some("play"), Some("play"), Some("jump"), Some("play"), Some("pause"), None],
        "content_id" => [Some("x"), Some("x"), Some("x"), None, None, Some("zzz")],
        "n" => [Some(1.0), Some(-1.0), Some(2.0), Some(3.0), Some(-5.0), None],
    )
    .unwrap()
}

fn counts(audit: &Audit) -> Vec<(String, Option<u64>)> {
    audit.outcomes.iter().map(|o| (o.name.clone(), o.failing_rows)).collect()
}

#[test]
fn every_rule_counts_its_failures_and_the_first_drop_rule_names_the_row() {
    let (_d, spec) = spec();
    let refs = References::from([(("silver.c".to_string(), "content_id".to_string()), Series::new("c".into(), ["x"]))]);
    let (audited, audit) = audit(frame(), &spec, &refs).unwrap();
    assert_eq!(
        counts(&audit),
        vec![
            ("not_null_id".to_string(), Some(1)),
            ("accepted_values_kind".to_string(), Some(1)),
            ("content_on_play".to_string(), Some(1)),
            ("range_n".to_string(), Some(2)),
            ("unique_id".to_string(), Some(0)),
            ("relationships_content_id".to_string(), Some(1)),
        ]
    );
    let rule_col = audited.column(RULE_COLUMN).unwrap().str().unwrap().clone();
    let rules: Vec<Option<String>> = (0..rule_col.len()).map(|i| rule_col.get(i).map(str::to_string)).collect();
    assert_eq!(
        rules,
        vec![
            // The rows that pass come first: unknown content is only a warning, and a null
            // kind passes accepted_values.
            None,
            None,
            Some("not_null_id".into()), // also out of range: the first rule wins
            Some("accepted_values_kind".into()),
            Some("content_on_play".into()),
            Some("range_n".into()),
        ]
    );
    let reasons = audited.column(REASON_COLUMN).unwrap().str().unwrap().clone();
    assert_eq!((reasons.get(0), reasons.get(1)), (None, None));
    assert_eq!(reasons.get(3), Some("kind `jump` is not an accepted value"));
    assert_eq!(reasons.get(5), Some("n -5.0 is outside >= 0"));
    assert!(audit.fail_error().is_none());

    let (kept, dropped) = split(audited).unwrap();
    assert_eq!((kept.height(), dropped.height()), (2, 4));
    assert_eq!(kept.width(), 4, "the quality columns are not kept");
}

#[test]
fn a_broken_fail_rule_stops_the_run_and_missing_references_are_not_evaluated() {
    let (_d, spec) = spec();
    let df = df!("id" => [Some("a"), Some("a"), None, None], "kind" => ["play"; 4], "content_id" => ["x"; 4], "n" => [1.0; 4]).unwrap();
    let (_, audit) = audit(df, &spec, &References::new()).unwrap();
    let err = audit.fail_error().expect("duplicate ids break a fail rule");
    assert_eq!(err.exit_code(), 1);
    assert!(err.to_string().contains("unique_id on silver.t: 2 failing rows"), "{err}");
    let rel = audit.outcomes.iter().find(|o| o.rule == "relationships").unwrap();
    assert_eq!(rel.failing_rows, None);
}

/// A table partitioned by date counts each rule per date, whether the frame holds one date
/// (the sums alone) or several (grouped): the quality log's rows.
#[test]
fn rules_are_counted_per_date_for_one_date_and_for_several() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("tables/gold")).unwrap();
    let dated = "description = \"d\"\npartition_by = [\"date\"]\n[[columns]]\nname = \"date\"\ntype = \"date\"\nnullable = false\n[[columns]]\nname = \"n\"\ntype = \"double\"\n[[expectations]]\nrule = \"range\"\ncolumn = \"n\"\nmin = 0.0\nseverity = \"warn\"\n";
    std::fs::write(dir.path().join("tables/gold/d.toml"), dated).unwrap();
    let spec = Catalog::load(dir.path()).unwrap().table("gold.d").unwrap().clone();
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let frame = |dates: &[&str], n: &[f64]| {
        let dates: Vec<chrono::NaiveDate> = dates.iter().map(|d| day(d)).collect();
        df!("date" => dates, "n" => n).unwrap()
    };
    let (_, one) = audit(frame(&["2025-01-01", "2025-01-01", "2025-01-01"], &[1.0, -1.0, -2.0]), &spec, &References::new()).unwrap();
    let o = &one.outcomes[0];
    assert_eq!((o.failing_rows, o.rows_checked), (Some(2), 3));
    assert_eq!(o.per_date.get(&day("2025-01-01")), Some(&(3, 2)));
    let (_, two) = audit(frame(&["2025-01-01", "2025-01-02", "2025-01-02"], &[-1.0, 1.0, -2.0]), &spec, &References::new()).unwrap();
    let o = &two.outcomes[0];
    assert_eq!((o.failing_rows, o.rows_checked), (Some(2), 3));
    assert_eq!(o.per_date.get(&day("2025-01-01")), Some(&(1, 1)));
    assert_eq!(o.per_date.get(&day("2025-01-02")), Some(&(2, 1)));
    let (_, none) = audit(frame(&[], &[]), &spec, &References::new()).unwrap();
    assert_eq!((none.outcomes[0].failing_rows, none.outcomes[0].per_date.len()), (Some(0), 0));
}
