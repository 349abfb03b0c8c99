//! `vbda report`: the HTML page rendered by a real headless Chromium (Debian's `chromium`); the
//! DOM holds the numbers gold holds, and the screenshot is not blank.

use std::process::Command;

use polars::prelude::*;

use crate::common::TestContext;

const CHROMIUM_FLAGS: [&str; 5] = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--hide-scrollbars"];

fn read(ctx: &TestContext, table: &str) -> DataFrame {
    ctx.table(table)
}

fn chromium(args: &[&str]) -> std::process::Output {
    let out = Command::new("chromium")
        .args(CHROMIUM_FLAGS)
        .args(args)
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("chromium (Debian package; scripts/test.sh installs it)");
    assert!(out.status.success(), "chromium {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// The `data-value` of the element with this id in the DOM.
fn value(dom: &str, id: &str) -> Option<String> {
    let at = dom.find(&format!(r#"id="{id}""#))?;
    let rest = &dom[at..dom[at..].find('>').map_or(dom.len(), |e| at + e)];
    let v = rest.split_once(r#"data-value=""#)?.1;
    Some(v[..v.find('"')?].to_string())
}

fn number(dom: &str, id: &str) -> f64 {
    let v = value(dom, id).unwrap_or_else(|| panic!("no {id} in the report"));
    v.parse().unwrap_or_else(|e| panic!("{id}: {v}: {e}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Decode an 8-bit RGB(A) PNG (what Chromium writes) and return the share of pixels that
/// differ from the most common one.
fn non_background_share(png: &[u8]) -> f64 {
    use std::io::Read;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let (mut pos, mut width, mut height, mut channels, mut idat) = (8, 0usize, 0usize, 0usize, Vec::new());
    while pos + 8 <= png.len() {
        let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &png[pos + 4..pos + 8];
        let data = &png[pos + 8..pos + 8 + len];
        match kind {
            b"IHDR" => {
                width = u32::from_be_bytes(data[0..4].try_into().unwrap()) as usize;
                height = u32::from_be_bytes(data[4..8].try_into().unwrap()) as usize;
                assert_eq!(data[8], 8, "bit depth");
                channels = match data[9] {
                    2 => 3,
                    6 => 4,
                    other => panic!("colour type {other}"),
                };
            }
            b"IDAT" => idat.extend_from_slice(data),
            _ => {}
        }
        pos += 12 + len;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..]).read_to_end(&mut raw).unwrap();
    let stride = width * channels;
    let mut pixels = vec![0u8; height * stride];
    for y in 0..height {
        let line = &raw[y * (stride + 1)..(y + 1) * (stride + 1)];
        let (filter, line) = (line[0], &line[1..]);
        for x in 0..stride {
            let a = if x >= channels { pixels[y * stride + x - channels] } else { 0 } as i32;
            let b = if y > 0 { pixels[(y - 1) * stride + x] } else { 0 } as i32;
            let c = if x >= channels && y > 0 { pixels[(y - 1) * stride + x - channels] } else { 0 } as i32;
            let predicted = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => {
                    let p = a + b - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                    if pa <= pb && pa <= pc { a } else if pb <= pc { b } else { c }
                }
                other => panic!("PNG filter {other}"),
            };
            pixels[y * stride + x] = (line[x] as i32 + predicted) as u8;
        }
    }
    let mut counts = std::collections::HashMap::new();
    for p in pixels.chunks(channels) {
        *counts.entry(p.to_vec()).or_insert(0usize) += 1;
    }
    let background = counts.values().copied().max().unwrap_or(0);
    1.0 - background as f64 / (width * height) as f64
}

#[test]
fn the_report_renders_in_chromium_with_the_numbers_gold_holds() {
    let ctx = TestContext::new();
    let landing = ctx.landing();
    let generated = ctx.run(&[
        "generate", "--from", "2025-01-01", "--to", "2025-01-03", "--events", "4000", "--users", "300", "--content-items", "40",
        "--malformed-share", "0.01", "--duplicate-share", "0.01", "--bad-value-share", "0.01",
        "--out", landing.to_str().unwrap(), "--content-out", ctx.dir.path().join("content.csv").to_str().unwrap(),
    ]);
    assert_eq!(generated.code, 0, "{}", generated.stderr);
    ctx.run_json(&["ingest"]);
    ctx.run_json(&["ingest", "--content", ctx.dir.path().join("content.csv").to_str().unwrap()]);
    ctx.run_json(&["bronze-to-silver", "--from", "2025-01-01", "--to", "2025-01-03"]);
    ctx.run_json(&["silver-to-gold", "--from", "2025-01-01", "--to", "2025-01-03"]);

    // A date with no gold is a clear error, and writes nothing.
    let none = ctx.dir.path().join("none.html");
    let (out, stderr) = ctx.run_json_code(&["report", "--date", "2024-06-01", "--out", none.to_str().unwrap()], 1);
    assert!(stderr.contains("nothing to report") && out["ok"] == false, "{stderr}");
    assert!(!none.exists());
    // A folder that does not exist, before anything is read.
    let run = ctx.run(&["report", "--date", "2025-01-01", "--out", "/no/such/folder/r.html"]);
    assert_eq!(run.code, 1, "{}", run.stderr);

    let file = ctx.dir.path().join("report.html");
    let summary = ctx.run_json(&["report", "--from", "2025-01-01", "--to", "2025-01-03", "--out", file.to_str().unwrap()]);
    assert_eq!(summary["dates_with_gold"], 3, "{summary}");
    let html = std::fs::read_to_string(&file).unwrap();
    // Self-contained: nothing fetched from anywhere.
    for needle in ["http://", "https://", "<script", "<link", "@import", "src="] {
        let outside_svg_ns = html.replace(r#"xmlns="http://www.w3.org/2000/svg""#, "");
        assert!(!outside_svg_ns.contains(needle), "the report refers to `{needle}`");
    }

    let url = format!("file://{}", file.display());
    let dom = String::from_utf8(chromium(&["--dump-dom", &url]).stdout).unwrap();
    assert!(dom.contains("vbda report: 2025-01-01 to 2025-01-03"), "{}", &dom[..dom.len().min(2000)]);

    // KPIs per date: exactly gold.daily_kpis' values.
    let kpis = read(&ctx, "gold.daily_kpis");
    assert_eq!(kpis.height(), 3);
    for row in 0..kpis.height() {
        let date = kpis.column("date").unwrap().get(row).unwrap().to_string();
        for c in ["active_users", "sessions", "views", "completion_rate", "watch_time_s", "rebuffer_ratio", "playback_failure_rate", "ad_impressions", "ad_ctr", "likes"] {
            let gold = kpis.column(c).unwrap().cast(&DataType::Float64).unwrap().f64().unwrap().get(row);
            match gold {
                Some(g) => assert!(close(number(&dom, &format!("kpis-{date}-{c}")), g), "{date} {c}: {g}"),
                None => assert!(value(&dom, &format!("kpis-{date}-{c}")).is_none(), "{date} {c} is null in gold"),
            }
        }
    }
    let total_views: f64 = kpis.column("views").unwrap().cast(&DataType::Float64).unwrap().f64().unwrap().sum().unwrap();
    assert!(close(number(&dom, "card-views"), total_views));

    // Top content: the most viewed item over the range, and its views, from content_daily.
    let content = read(&ctx, "gold.content_daily")
        .lazy()
        .group_by([col("content_id")])
        .agg([col("views").sum()])
        .sort_by_exprs([col("views"), col("content_id")], SortMultipleOptions::default().with_order_descending_multi([true, false]))
        .collect()
        .unwrap();
    let top_id = content.column("content_id").unwrap().str().unwrap().get(0).unwrap().to_string();
    let top_views = content.column("views").unwrap().cast(&DataType::Float64).unwrap().f64().unwrap().get(0).unwrap();
    assert!(close(number(&dom, &format!("content-{top_id}-views")), top_views), "{top_id}");

    // QoE by device: rebuffer ratio and failure rate of the summed parts.
    let device = read(&ctx, "gold.device_geo_daily")
        .lazy()
        .group_by([col("device_type")])
        .agg([col("buffer_time_s").sum(), col("watch_time_s").sum(), col("failed_views").sum(), col("views").sum()])
        .collect()
        .unwrap();
    let devices = device.column("device_type").unwrap().str().unwrap().iter().map(|v| v.unwrap_or_default().to_string()).collect::<Vec<_>>();
    assert!(devices.len() >= 3, "{devices:?}");
    let f = |c: &str, i: usize| device.column(c).unwrap().cast(&DataType::Float64).unwrap().f64().unwrap().get(i).unwrap();
    for (i, d) in devices.iter().enumerate() {
        let rebuffer = f("buffer_time_s", i) / (f("watch_time_s", i) + f("buffer_time_s", i));
        assert!(close(number(&dom, &format!("device-{d}-rebuffer_ratio")), rebuffer), "{d}");
        assert!(close(number(&dom, &format!("device-{d}-playback_failure_rate")), f("failed_views", i) / f("views", i)), "{d}");
    }

    // The ad funnel's impressions and clicks.
    let ads = read(&ctx, "gold.ad_daily");
    let sum = |c: &str| ads.column(c).unwrap().cast(&DataType::Float64).unwrap().f64().unwrap().sum().unwrap();
    assert!(close(number(&dom, "ads-all-impressions"), sum("impressions")));
    assert!(close(number(&dom, "ads-all-clicks"), sum("clicks")));

    // Churn risk per date.
    let churn = read(&ctx, "gold.user_activity");
    for date in ["2025-01-01", "2025-01-02", "2025-01-03"] {
        let day = churn.clone().lazy().filter(col("date").cast(DataType::String).eq(lit(date))).collect().unwrap();
        let at_risk = day.column("churn_risk").unwrap().bool().unwrap().sum().unwrap_or(0) as f64;
        assert!(close(number(&dom, &format!("churn-{date}-users")), day.height() as f64), "{date}");
        assert!(close(number(&dom, &format!("churn-{date}-at_risk")), at_risk), "{date}");
    }

    // Data quality: quarantine per rule and date, every date reconciled, every table's freshness.
    let quarantine = read(&ctx, "silver.video_events_quarantine")
        .lazy()
        .group_by([col("event_date").cast(DataType::String), col("rule")])
        .agg([len().alias("rows")])
        .collect()
        .unwrap();
    assert!(quarantine.height() >= 2, "the generated bad rows were quarantined: {quarantine}");
    for i in 0..quarantine.height() {
        let date = quarantine.column("event_date").unwrap().str().unwrap().get(i).unwrap();
        let rule = quarantine.column("rule").unwrap().str().unwrap().get(i).unwrap();
        let rows = quarantine.column("rows").unwrap().cast(&DataType::Float64).unwrap().f64().unwrap().get(i).unwrap();
        assert!(close(number(&dom, &format!("quarantine-{date}|{rule}-rows")), rows), "{date} {rule}");
    }
    for date in ["2025-01-01", "2025-01-02", "2025-01-03"] {
        assert_eq!(value(&dom, &format!("reconciliation-{date}-status")).as_deref(), Some("reconciled"), "{date}");
    }
    assert!(value(&dom, "freshness-gold.daily_kpis-version").is_some());
    assert!(value(&dom, "freshness-ops.quality_runs-version").is_some());

    // A screenshot is not blank: more than 5% of its pixels are not the background.
    let png = ctx.dir.path().join("report.png");
    chromium(&["--window-size=1280,2400", &format!("--screenshot={}", png.display()), &url]);
    let share = non_background_share(&std::fs::read(&png).unwrap());
    assert!(share > 0.05, "the screenshot is blank: {share}");
    // `--png`: vbda makes the screenshot itself.
    let own = ctx.dir.path().join("own.png");
    let out = ctx.run_json(&["report", "--date", "2025-01-02", "--out", file.to_str().unwrap(), "--png", own.to_str().unwrap()]);
    assert_eq!(out["png"], own.to_str().unwrap(), "{out}");
    let share = non_background_share(&std::fs::read(&own).unwrap());
    assert!(share > 0.05, "vbda's screenshot is blank: {share}");
    // Without a browser, --png is a clear error (the HTML is still written).
    let run = ctx.vbda().args(["report", "--date", "2025-01-02", "--out", file.to_str().unwrap(), "--png", own.to_str().unwrap()]).env("VBDA_CHROMIUM", "/no/such/chromium").output().unwrap();
    assert_eq!(run.status.code(), Some(3), "{}", String::from_utf8_lossy(&run.stderr));
}

/// The blank-screenshot check itself: an empty page is blank, the report is not.
#[test]
fn a_blank_page_is_recognised_as_blank() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("blank.html");
    std::fs::write(&page, "<!DOCTYPE html><html><body></body></html>").unwrap();
    let png = dir.path().join("blank.png");
    chromium(&["--window-size=800,600", &format!("--screenshot={}", png.display()), &format!("file://{}", page.display())]);
    assert!(non_background_share(&std::fs::read(&png).unwrap()) < 0.001);
}
