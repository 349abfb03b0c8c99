//! `vbda validate`: every table and job spec loaded, and every gold SQL model planned against
//! empty frames of the silver schemas, with all problems reported at once (file, line when
//! known, and a suggestion). Nothing is read from or written to the lakehouse, so it runs in
//! CI on a pull request that edits `tables/` or `jobs/`. `check` and every transform run the
//! same checks first.

use std::path::Path;

use serde::Serialize;

use crate::catalog::{Catalog, Problem};
use crate::error::Result;

#[derive(Debug, Clone, Serialize)]
pub struct ValidateReport {
    pub tables: usize,
    pub jobs: usize,
    pub models_planned: usize,
    pub problems: Vec<Problem>,
}

/// Load the project's specs and plan its models. An error only when there is no project to
/// validate (no `tables/` folder); problems in it are the report's.
pub fn validate(root: &Path) -> Result<ValidateReport> {
    let (catalog, mut problems) = Catalog::load_all(root)?;
    // Models are planned only once the specs they need are sound (a broken silver spec would
    // make every model fail for the same reason).
    let models = if catalog.table("silver.video_events").is_ok() && catalog.table("silver.content").is_ok() {
        let (planned, found) = crate::ops::silver_to_gold::plan_models(&catalog)?;
        problems.extend(found);
        planned
    } else {
        0
    };
    Ok(ValidateReport { tables: catalog.tables().count(), jobs: catalog.jobs().count(), models_planned: models, problems })
}

/// The catalog, loaded and with its models planned: what every transform and `check` start
/// with, so a broken spec or model fails before any data is read.
pub fn validated_catalog(root: &Path) -> Result<Catalog> {
    let catalog = Catalog::load(root)?;
    let (_, problems) = crate::ops::silver_to_gold::plan_models(&catalog)?;
    if problems.is_empty() {
        return Ok(catalog);
    }
    Err(crate::catalog::problems_error(&problems))
}
