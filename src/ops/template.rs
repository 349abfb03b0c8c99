//! The project a new user starts from: the built-in table specs, gold models, Airflow DAGs and
//! `vbda.toml` of this repository, compiled into the binary so `vbda init DIR` works without a
//! clone. A unit test keeps this list equal to the files in the repository.

/// (path relative to the project folder, contents).
pub const FILES: &[(&str, &str)] = &[
    ("airflow/README.md", include_str!("../../airflow/README.md")),
    ("airflow/dags/vbda_common.py", include_str!("../../airflow/dags/vbda_common.py")),
    ("airflow/dags/vbda_daily.py", include_str!("../../airflow/dags/vbda_daily.py")),
    ("airflow/dags/vbda_maintenance.py", include_str!("../../airflow/dags/vbda_maintenance.py")),
    ("airflow/dags/vbda_microbatch.py", include_str!("../../airflow/dags/vbda_microbatch.py")),
    ("jobs/ad_daily.sql", include_str!("../../jobs/ad_daily.sql")),
    ("jobs/ad_daily.toml", include_str!("../../jobs/ad_daily.toml")),
    ("jobs/bronze_to_silver.toml", include_str!("../../jobs/bronze_to_silver.toml")),
    ("jobs/content.toml", include_str!("../../jobs/content.toml")),
    ("jobs/content_daily.sql", include_str!("../../jobs/content_daily.sql")),
    ("jobs/content_daily.toml", include_str!("../../jobs/content_daily.toml")),
    ("jobs/daily_kpis.sql", include_str!("../../jobs/daily_kpis.sql")),
    ("jobs/daily_kpis.toml", include_str!("../../jobs/daily_kpis.toml")),
    ("jobs/device_geo_daily.sql", include_str!("../../jobs/device_geo_daily.sql")),
    ("jobs/device_geo_daily.toml", include_str!("../../jobs/device_geo_daily.toml")),
    ("jobs/ingest.toml", include_str!("../../jobs/ingest.toml")),
    ("jobs/stream.toml", include_str!("../../jobs/stream.toml")),
    ("jobs/user_activity.sql", include_str!("../../jobs/user_activity.sql")),
    ("jobs/user_activity.toml", include_str!("../../jobs/user_activity.toml")),
    ("jobs/user_daily.sql", include_str!("../../jobs/user_daily.sql")),
    ("jobs/user_daily.toml", include_str!("../../jobs/user_daily.toml")),
    ("tables/bronze/video_events.toml", include_str!("../../tables/bronze/video_events.toml")),
    ("tables/gold/ad_daily.toml", include_str!("../../tables/gold/ad_daily.toml")),
    ("tables/gold/content_daily.toml", include_str!("../../tables/gold/content_daily.toml")),
    ("tables/gold/daily_kpis.toml", include_str!("../../tables/gold/daily_kpis.toml")),
    ("tables/gold/device_geo_daily.toml", include_str!("../../tables/gold/device_geo_daily.toml")),
    ("tables/gold/user_activity.toml", include_str!("../../tables/gold/user_activity.toml")),
    ("tables/gold/user_daily.toml", include_str!("../../tables/gold/user_daily.toml")),
    ("tables/ops/quality_runs.toml", include_str!("../../tables/ops/quality_runs.toml")),
    ("tables/silver/content.toml", include_str!("../../tables/silver/content.toml")),
    ("tables/silver/video_events.toml", include_str!("../../tables/silver/video_events.toml")),
    ("tables/silver/video_events_quarantine.toml", include_str!("../../tables/silver/video_events_quarantine.toml")),
    ("vbda.toml", include_str!("../../vbda.toml")),
];

#[cfg(test)]
mod tests {
    /// Every spec, model and DAG of the repository is in the template, and nothing else.
    #[test]
    fn the_template_holds_every_project_file_of_the_repository() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut on_disk = vec!["vbda.toml".to_string()];
        let mut stack: Vec<std::path::PathBuf> = ["tables", "jobs", "airflow"].iter().map(|d| root.join(d)).collect();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if path.is_dir() {
                    if name != "__pycache__" {
                        stack.push(path);
                    }
                } else if !name.ends_with(".pyc") {
                    on_disk.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = super::FILES.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk, "regenerate src/ops/template.rs's list");
        for (path, text) in super::FILES {
            assert_eq!(std::fs::read_to_string(root.join(path)).unwrap(), *text, "{path}");
        }
    }
}
