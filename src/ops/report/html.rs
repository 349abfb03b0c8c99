//! The report page: one self-contained HTML file (inline CSS and SVG, no script, no external
//! resource), so it opens offline, mails as an attachment and prints.
//!
//! Every number shown in a table cell also sits in the cell's `data-value` attribute at full
//! precision, and each cell has an id `<section>-<row key>-<column>`: a test (or a scraper)
//! reads the DOM, never the formatted text.

use std::fmt::Write;

use polars::prelude::*;

/// `&`, `<`, `>`, `"` and `'` escaped for text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// How a column's values are shown.
#[derive(Clone, Copy)]
pub enum Format {
    Text,
    Int,
    /// A ratio shown as a percentage.
    Percent,
    /// Seconds shown as hours.
    Hours,
    Decimal,
}

impl Format {
    pub fn show(self, v: f64) -> String {
        if !v.is_finite() {
            return "-".into();
        }
        match self {
            Format::Int => int(v),
            Format::Percent => format!("{:.2}%", v * 100.0),
            Format::Hours => format!("{} h", int((v / 3600.0).round())),
            Format::Decimal => format!("{v:.1}"),
            Format::Text => v.to_string(),
        }
    }
}

pub fn int(v: f64) -> String {
    let n = v.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

pub fn percent(v: f64) -> String {
    Format::Percent.show(v)
}

pub fn hours(v: f64) -> String {
    Format::Hours.show(v)
}

pub fn count(v: f64) -> String {
    Format::Int.show(v)
}

/// A column to show: its name in the frame, its header, its format.
pub struct Col<'a>(pub &'a str, pub &'a str, pub Format);

/// A table of `df`'s rows; `key` names the column whose value identifies a row in the ids.
pub fn table(section: &str, df: &DataFrame, key: &[&str], cols: &[Col]) -> String {
    if df.height() == 0 {
        return r#"<p class="empty">no rows</p>"#.into();
    }
    let mut out = String::from("<table><thead><tr>");
    for Col(_, header, format) in cols {
        let class = if matches!(format, Format::Text) { "" } else { r#" class="num""# };
        let _ = write!(out, "<th{class}>{}</th>", escape(header));
    }
    out.push_str("</tr></thead><tbody>");
    for row in 0..df.height() {
        let key: Vec<String> = key.iter().map(|k| raw(df, k, row).unwrap_or_default()).collect();
        let key = key.join("|");
        let _ = write!(out, r#"<tr data-key="{}">"#, escape(&key));
        for Col(name, _, format) in cols {
            let value = raw(df, name, row);
            let id = escape(&format!("{section}-{key}-{name}"));
            match (value, format) {
                (None, _) => {
                    let _ = write!(out, r#"<td id="{id}" data-col="{name}" class="null">-</td>"#);
                }
                (Some(v), Format::Text) => {
                    let _ = write!(out, r#"<td id="{id}" data-col="{name}" data-value="{0}">{0}</td>"#, escape(&v));
                }
                (Some(v), f) => {
                    let shown = v.parse::<f64>().map(|x| f.show(x)).unwrap_or_else(|_| v.clone());
                    let _ = write!(out, r#"<td id="{id}" data-col="{name}" data-value="{}" class="num">{}</td>"#, escape(&v), escape(&shown));
                }
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// A cell's value as text at full precision (None for null or a missing column).
pub fn raw(df: &DataFrame, column: &str, row: usize) -> Option<String> {
    let v = df.column(column).ok()?.get(row).ok()?;
    match v {
        AnyValue::Null => None,
        AnyValue::String(s) => Some(s.to_string()),
        AnyValue::StringOwned(s) => Some(s.to_string()),
        AnyValue::Float64(f) => Some(f.to_string()),
        AnyValue::Float32(f) => Some(f.to_string()),
        AnyValue::Boolean(b) => Some(b.to_string()),
        AnyValue::Date(_) => Some(v.to_string()),
        other => Some(other.to_string().trim_matches('"').to_string()),
    }
}

/// A column as f64s (None for nulls or a missing column).
pub fn floats(df: &DataFrame, column: &str) -> Vec<Option<f64>> {
    match df.column(column).and_then(|c| c.cast(&DataType::Float64)) {
        Ok(c) => c.f64().map(|a| a.iter().collect()).unwrap_or_default(),
        Err(_) => vec![None; df.height()],
    }
}

pub fn strings(df: &DataFrame, column: &str) -> Vec<String> {
    (0..df.height()).map(|r| raw(df, column, r).unwrap_or_default()).collect()
}

/// The page around the sections.
pub fn page(title: &str, subtitle: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="vbda {version}">
<title>{t}</title>
<style>
body {{ font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111827; margin: 0; background: #f9fafb; }}
header {{ background: #111827; color: #f9fafb; padding: 18px 32px; }}
header h1 {{ margin: 0; font-size: 22px; }} header p {{ margin: 4px 0 0; color: #d1d5db; }}
main {{ padding: 8px 32px 40px; max-width: 1240px; }}
section {{ background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 16px 20px; margin: 18px 0; }}
h2 {{ font-size: 17px; margin: 0 0 10px; }} h3 {{ font-size: 14px; margin: 14px 0 6px; color: #374151; }}
.cards {{ display: flex; flex-wrap: wrap; gap: 12px; }}
.card {{ border: 1px solid #e5e7eb; border-radius: 6px; padding: 10px 14px; min-width: 150px; }}
.card .v {{ font-size: 22px; font-weight: 600; }} .card .k {{ color: #6b7280; font-size: 12px; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 16px; }}
svg text {{ font: 11px system-ui, sans-serif; fill: #374151; }} svg .title {{ font-weight: 600; font-size: 12px; }}
svg .y, svg .label {{ text-anchor: end; }} svg .x {{ text-anchor: middle; }} svg .empty {{ text-anchor: middle; fill: #9ca3af; }}
table {{ border-collapse: collapse; margin: 6px 0; font-size: 13px; }}
th, td {{ border-bottom: 1px solid #e5e7eb; padding: 4px 10px; text-align: left; }}
th {{ background: #f3f4f6; font-weight: 600; }} td.num, th.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
td.null {{ color: #9ca3af; text-align: right; }} .ok {{ color: #15803d; font-weight: 600; }} .bad {{ color: #b91c1c; font-weight: 600; }}
.empty, .note {{ color: #6b7280; }}
</style></head>
<body><header><h1>{t}</h1><p>{s}</p></header><main>
{body}
</main></body></html>
"#,
        version = env!("CARGO_PKG_VERSION"),
        t = escape(title),
        s = escape(subtitle),
    )
}

/// A summary card with its exact value in `data-value`.
pub fn card(id: &str, label: &str, value: Option<f64>, format: fn(f64) -> String) -> String {
    let (raw, shown) = match value.filter(|v| v.is_finite()) {
        Some(v) => (v.to_string(), format(v)),
        None => (String::new(), "-".to_string()),
    };
    format!(
        r#"<div class="card"><div class="v" id="card-{id}" data-value="{}">{}</div><div class="k">{}</div></div>"#,
        escape(&raw),
        escape(&shown),
        escape(label)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_text_are_shown_safely() {
        assert_eq!(int(1234567.0), "1,234,567");
        assert_eq!(int(-1000.0), "-1,000");
        assert_eq!(int(12.0), "12");
        assert_eq!(percent(0.01234), "1.23%");
        assert_eq!(Format::Percent.show(f64::NAN), "-");
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let df = df!("k" => ["a<b"], "n" => [Some(1.5)], "m" => [None::<i64>]).unwrap();
        let t = table("s", &df, &["k"], &[Col("k", "K", Format::Text), Col("n", "N", Format::Percent), Col("m", "M", Format::Int)]);
        assert!(t.contains(r#"id="s-a&lt;b-n" data-col="n" data-value="1.5" class="num">150.00%"#), "{t}");
        assert!(t.contains(r#"class="null">-"#), "{t}");
    }
}
