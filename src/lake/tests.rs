
use deltalake::arrow::array::{Date32Array, Int64Array, StringArray};
use polars::prelude::*;

use super::*;
use crate::catalog::Catalog;

const SPEC: &str = r#"
description = "A test table."
partition_by = ["day"]
keys = ["id"]
[[columns]]
name = "id"
type = "string"
nullable = false
[[columns]]
name = "n"
type = "long"
[[columns]]
name = "day"
type = "date"
nullable = false
"#;

struct Ctx {
    _dir: tempfile::TempDir,
    lake: Lakehouse,
    catalog: Catalog,
}

fn ctx() -> Ctx {
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("project/tables/silver/t.toml");
    std::fs::create_dir_all(spec_path.parent().unwrap()).unwrap();
    std::fs::write(&spec_path, SPEC).unwrap();
    let catalog = Catalog::load(&dir.path().join("project")).unwrap();
    let lake = Lakehouse::new(dir.path().join("lake").to_str().unwrap(), Default::default()).unwrap();
    Ctx { _dir: dir, lake, catalog }
}

fn batch(spec: &TableSpec, rows: &[(&str, i64, i32)]) -> RecordBatch {
    RecordBatch::try_new(
        arrow_schema(spec),
        vec![
            Arc::new(StringArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
            Arc::new(Int64Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
            Arc::new(Date32Array::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())),
        ],
    )
    .unwrap()
}

async fn ids(table: &DeltaTable, spec: &TableSpec, filter: &PartitionFilter) -> Vec<String> {
    let df = read_partitions(table, spec, filter).await.unwrap().sort(["id"], Default::default()).collect().unwrap();
    let ids = df.column("id").unwrap().str().unwrap().clone();
    (0..ids.len()).map(|i| ids.get(i).unwrap().to_string()).collect()
}

const D1: i32 = 20089; // 2025-01-01
const D2: i32 = 20090;

#[tokio::test(flavor = "multi_thread")]
async fn create_append_overwrite_and_read_partitions() {
    let c = ctx();
    let spec = c.catalog.table("silver.t").unwrap();
    let lake = &c.lake;
    assert!(lake.open(spec).await.unwrap().is_none(), "not created yet");
    let table = lake.open_or_create(spec).await.unwrap();
    assert_eq!(table.version(), Some(0));
    assert!(lake.table_url(&spec.id).path().ends_with("/lake/silver/t/"));
    let again = lake.open_or_create(spec).await.unwrap();
    assert_eq!(again.version(), Some(0), "creating twice is a no-op");

    let info = CommitInfo::new("test").with_arg("--x").with_count("rows", 3).with_source(&spec.id, 0);
    let (table, out) = append(table, spec, vec![batch(spec, &[("a", 1, D1), ("b", 2, D1), ("c", 3, D2)])], info).await.unwrap();
    assert_eq!((out.version, out.rows), (1, 3));
    assert_eq!(ids(&table, spec, &PartitionFilter::all()).await, ["a", "b", "c"]);
    assert_eq!(ids(&table, spec, &PartitionFilter::values_of("day", &["2025-01-02".into()])).await, ["c"]);

    // Replace day 1 only; day 2 untouched.
    let (table, out) = overwrite_partitions(
        table,
        spec,
        "day",
        &["2025-01-01".into()],
        vec![batch(spec, &[("z", 9, D1)])],
        CommitInfo::new("test"),
    )
    .await
    .unwrap();
    assert_eq!(out.version, 2);
    assert_eq!(ids(&table, spec, &PartitionFilter::all()).await, ["c", "z"]);

    // Overwriting a partition with no rows empties it; a row outside the partitions is refused.
    let (table, _) = overwrite_partitions(table, spec, "day", &["2025-01-02".into()], vec![], CommitInfo::new("test"))
        .await
        .unwrap();
    assert_eq!(ids(&table, spec, &PartitionFilter::all()).await, ["z"]);
    let err = overwrite_partitions(table.clone(), spec, "day", &["2025-01-02".into()], vec![batch(spec, &[("q", 1, D1)])], CommitInfo::new("test"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), crate::error::ErrorKind::Data, "{err:?}");
    assert!(format!("{:?}", err.causes()).contains("1 rows failed validation"), "{:?}", err.causes());
    let mut reread = lake.open(spec).await.unwrap().unwrap();
    reread.load().await.unwrap();
    assert_eq!(reread.version(), Some(3), "a refused overwrite commits nothing");

    // Commit info records the command, args, counts and sources.
    let history: Vec<_> = futures::StreamExt::collect::<Vec<_>>(reread.history(None)).await;
    let first_append = history.iter().filter_map(|h| h.as_ref().ok()).find(|h| h.info.get("vbda").and_then(|v| v.get("args")).is_some_and(|a| a == &serde_json::json!(["--x"]))).expect("append commit");
    let vbda = &first_append.info["vbda"];
    assert_eq!(vbda["command"], "test");
    assert_eq!(vbda["counts"]["rows"], 3);
    assert_eq!(vbda["source_versions"]["silver.t"], 0);

    let stats = table_stats(&reread).await.unwrap();
    assert_eq!((stats.version, stats.rows, stats.partitions), (Some(3), Some(1), 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn app_transactions_are_read_back_from_commits_and_checkpoints() {
    let c = ctx();
    let spec = c.catalog.table("silver.t").unwrap();
    let mut table = c.lake.open_or_create(spec).await.unwrap();
    assert!(txn::app_transactions(&table).await.unwrap().is_empty());
    // Spec default checkpoint interval is 10: 12 commits cross a checkpoint.
    for i in 0..12 {
        let info = CommitInfo::new("test").with_transaction(format!("app-{}", i % 5), i as i64).with_transaction("fixed", 7);
        table = append(table, spec, vec![batch(spec, &[("a", i, D1)])], info).await.unwrap().0;
    }
    let log = c.lake.table_url(&spec.id).to_file_path().unwrap().join("_delta_log");
    let listing: Vec<_> = std::fs::read_dir(&log).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(
        listing.iter().any(|n| n.to_string_lossy().ends_with(".checkpoint.parquet")),
        "a checkpoint was written: {listing:?}"
    );
    let txns = txn::app_transactions(&table).await.unwrap();
    assert_eq!(txns.len(), 6);
    assert_eq!(txns["app-0"], 10, "newest value wins");
    assert_eq!(txns["app-1"], 11);
    assert_eq!(txns["fixed"], 7);
    // The commits up to the checkpoint (v9) can be cleaned up; their values live in it.
    for v in 0..9 {
        std::fs::remove_file(log.join(format!("{v:020}.json"))).unwrap();
    }
    let from_checkpoint = txn::app_transactions(&table).await.unwrap();
    assert_eq!(from_checkpoint, txns, "the checkpoint carries every transaction");
    assert_eq!((from_checkpoint["app-2"], from_checkpoint["app-3"]), (7, 8), "only in the checkpoint");
    let mut recorded = txn::RecordedTransactions::load(&table).await.unwrap();
    let info = CommitInfo::new("test").with_transaction("late", 1);
    let table = append(table, spec, vec![batch(spec, &[("b", 0, D1)])], info).await.unwrap().0;
    recorded.refresh(&table).await.unwrap();
    assert_eq!((recorded.versions.get("late"), recorded.as_of), (Some(&1), Some(13)));
    // The same answers as delta-rs's one-at-a-time lookup.
    let snapshot = table.snapshot().unwrap();
    for (app, version) in &txns {
        let v = snapshot.transaction_version(table.log_store().as_ref(), app).await.unwrap();
        assert_eq!(v, Some(*version), "{app}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_that_no_longer_matches_its_spec_is_refused() {
    let c = ctx();
    let spec = c.catalog.table("silver.t").unwrap();
    c.lake.open_or_create(spec).await.unwrap();
    let mut changed = spec.clone();
    changed.columns[1].data_type = crate::catalog::ColumnType::Double;
    let err = c.lake.open(&changed).await.unwrap_err();
    assert_eq!(err.exit_code(), 1);
    assert!(err.to_string().contains("column `n` is"), "{err}");
}

#[test]
fn lakehouse_roots() {
    let lake = Lakehouse::new("s3://bucket/prefix", Default::default()).unwrap();
    assert_eq!(lake.table_url(&TableId::new("gold", "daily_kpis")).as_str(), "s3://bucket/prefix/gold/daily_kpis/");
    assert!(Lakehouse::new("ftp://x/y", Default::default()).is_err());
    let local = Lakehouse::new("rel/lake", Default::default()).unwrap();
    let expected = std::env::current_dir().unwrap().join("rel/lake/");
    assert_eq!(local.root().to_file_path().unwrap(), expected, "relative roots resolve against the current folder");
}
