//! Benchmark helper (benches/maintain.sh): writes N one-row data files into
//! `bronze.video_events` (date 2025-01-01) of a lakehouse in ONE commit, the shape a
//! long-running stream leaves behind before `vbda optimize`, without waiting for N commits.
//!
//! Usage: cargo run --release --example small_files -- LAKEHOUSE N

use std::sync::Arc;

use deltalake::arrow::array::{ArrayRef, BinaryArray, BooleanArray, Date32Array, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray};
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::kernel::Action;
use deltalake::kernel::transaction::CommitBuilder;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (root, n) = (&args[1], args[2].parse::<usize>().expect("N"));
    let catalog = vbda::catalog::Catalog::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    let spec = catalog.table("bronze.video_events").unwrap();
    let lake = vbda::lake::Lakehouse::new(root, Default::default()).unwrap();
    let table = lake.open_or_create(spec).await.unwrap();
    let schema = vbda::lake::arrow_schema(spec);
    let mut writer = RecordBatchWriter::for_table(&table).unwrap();
    let mut adds = Vec::with_capacity(n);
    let day = 20089; // 2025-01-01
    for i in 0..n {
        let payload = format!(
            r#"{{"event_id":"s{i}","event_type":"like","event_ts":"2025-01-01T10:00:00Z","user_id":"u","session_id":"s","content_id":"c"}}"#
        );
        let columns: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| -> ArrayRef {
                match f.name().as_str() {
                    "payload" => Arc::new(StringArray::from(vec![payload.clone()])),
                    "payload_bytes" => Arc::new(BinaryArray::from(vec![None::<&[u8]>])),
                    "payload_format" => Arc::new(StringArray::from(vec!["ndjson"])),
                    "batch_id" => Arc::new(StringArray::from(vec!["bench"])),
                    "event_id" => Arc::new(StringArray::from(vec![format!("s{i}")])),
                    "event_date_fallback" => Arc::new(BooleanArray::from(vec![false])),
                    "source_kind" => Arc::new(StringArray::from(vec!["file"])),
                    "source_file" => Arc::new(StringArray::from(vec![format!("file:///bench/f{i}.ndjson")])),
                    "source_line" => Arc::new(Int64Array::from(vec![1])),
                    "kafka_partition" => Arc::new(Int32Array::from(vec![None])),
                    "kafka_offset" => Arc::new(Int64Array::from(vec![None])),
                    "kafka_timestamp" => Arc::new(TimestampMicrosecondArray::from(vec![None]).with_timezone("UTC")),
                    "ingested_at" => Arc::new(TimestampMicrosecondArray::from(vec![Some(1_735_725_600_000_000)]).with_timezone("UTC")),
                    "event_date" => Arc::new(Date32Array::from(vec![day])),
                    _ => Arc::new(StringArray::from(vec![None::<&str>])),
                }
            })
            .collect();
        writer.write(RecordBatch::try_new(schema.clone(), columns).unwrap()).await.unwrap();
        adds.extend(writer.flush().await.unwrap());
    }
    let actions: Vec<Action> = adds.into_iter().map(Action::Add).collect();
    let operation = DeltaOperation::Write { mode: SaveMode::Append, partition_by: Some(spec.partition_by.clone()), predicate: None };
    let done = CommitBuilder::default()
        .with_actions(actions)
        .build(Some(table.snapshot().unwrap()), table.log_store(), operation)
        .await
        .unwrap();
    println!("wrote {n} one-row files in version {}", done.version());
}
