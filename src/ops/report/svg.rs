//! The report's charts: small inline SVG line and bar charts, drawn here.
//!
//! Why not `plotters`: its chart layout measures text with a font backend (`ab_glyph` or
//! `ttf` plus a font file compiled in) even for SVG output, and the report needs two chart
//! kinds whose text the browser lays out anyway. These are ~150 lines with no dependency; the
//! numbers they draw are also in the report's tables, so a chart is never the only copy.

use std::fmt::Write;

use super::html::escape;

const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 36.0;
const COLOURS: [&str; 6] = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2"];

/// A line chart: one x label per point, one or more series (a None is a gap).
pub fn line_chart(title: &str, x: &[String], series: &[(&str, Vec<Option<f64>>)], format: fn(f64) -> String) -> String {
    let values: Vec<f64> = series.iter().flat_map(|(_, v)| v.iter().flatten().copied()).filter(|v| v.is_finite()).collect();
    let mut svg = open(title);
    if values.is_empty() || x.is_empty() {
        let _ = write!(svg, r#"<text x="{}" y="{}" class="empty">no data</text>"#, WIDTH / 2.0, HEIGHT / 2.0);
        svg.push_str("</svg>");
        return svg;
    }
    let (lo, hi) = bounds(&values);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let px = |i: usize| if x.len() == 1 { LEFT + plot_w / 2.0 } else { LEFT + plot_w * i as f64 / (x.len() - 1) as f64 };
    let py = |v: f64| TOP + plot_h * (1.0 - (v - lo) / (hi - lo));
    axes(&mut svg, lo, hi, format);
    // At most ~8 x labels.
    let every = x.len().div_ceil(8).max(1);
    let last = x.len() - 1;
    // Every `every`-th label and the last one, dropping the one before the last if they would touch.
    for (i, label) in x.iter().enumerate().filter(|(i, _)| *i == last || (i % every == 0 && last - i >= every)) {
        let _ = write!(svg, r#"<text x="{:.1}" y="{:.1}" class="x">{}</text>"#, px(i), HEIGHT - BOTTOM + 16.0, escape(label));
    }
    for (s, (name, points)) in series.iter().enumerate() {
        let colour = COLOURS[s % COLOURS.len()];
        let mut path = String::new();
        let mut pen_down = false;
        for (i, v) in points.iter().enumerate() {
            match v.filter(|v| v.is_finite()) {
                Some(v) => {
                    let _ = write!(path, "{}{:.1},{:.1} ", if pen_down { "L" } else { "M" }, px(i), py(v));
                    pen_down = true;
                    let _ = write!(svg, r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{colour}"><title>{}: {}</title></circle>"#, px(i), py(v), escape(x.get(i).map_or("", String::as_str)), format(v));
                }
                None => pen_down = false,
            }
        }
        let _ = write!(svg, r#"<path d="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#, path.trim_end());
        if series.len() > 1 {
            let _ = write!(svg, r#"<rect x="{:.1}" y="{:.1}" width="10" height="3" fill="{colour}"/><text x="{:.1}" y="{:.1}" class="legend">{}</text>"#, LEFT + 150.0 * s as f64, HEIGHT - 7.0, LEFT + 150.0 * s as f64 + 14.0, HEIGHT - 3.0, escape(name));
        }
    }
    svg.push_str("</svg>");
    svg
}

/// A horizontal bar chart, one bar per label, in the order given.
pub fn bar_chart(title: &str, bars: &[(String, f64)], format: fn(f64) -> String) -> String {
    let row = 22.0;
    let height = TOP + row * bars.len().max(1) as f64 + 8.0;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="{t}"><title>{t}</title><text x="0" y="14" class="title">{t}</text>"#,
        t = escape(title)
    );
    let max = bars.iter().map(|(_, v)| *v).filter(|v| v.is_finite()).fold(0.0_f64, f64::max);
    if bars.is_empty() {
        let _ = write!(svg, r#"<text x="{}" y="{}" class="empty">no data</text>"#, WIDTH / 2.0, TOP + 12.0);
    }
    let label_w = 210.0;
    let bar_w = WIDTH - label_w - 90.0;
    for (i, (label, v)) in bars.iter().enumerate() {
        let y = TOP + row * i as f64;
        let w = if max > 0.0 && v.is_finite() { bar_w * (v.max(0.0) / max) } else { 0.0 };
        let shown: String = label.chars().take(32).collect();
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" class="label">{}</text><rect x="{label_w}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="{}"><title>{}: {}</title></rect><text x="{:.1}" y="{:.1}" class="value">{}</text>"#,
            label_w - 6.0,
            y + 15.0,
            escape(&shown),
            y + 3.0,
            row - 6.0,
            COLOURS[0],
            escape(label),
            format(*v),
            label_w + w + 6.0,
            y + 15.0,
            format(*v)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn open(title: &str) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{t}"><title>{t}</title><text x="0" y="14" class="title">{t}</text>"#,
        t = escape(title)
    )
}

/// The value axis' range: from 0 when all values are positive, padded so a flat line shows.
fn bounds(values: &[f64]) -> (f64, f64) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lo = if min >= 0.0 { 0.0 } else { min };
    let hi = if max <= lo { lo + 1.0 } else { max * 1.05 };
    (lo, hi)
}

fn axes(svg: &mut String, lo: f64, hi: f64, format: fn(f64) -> String) {
    let plot_h = HEIGHT - TOP - BOTTOM;
    let ticks: Vec<f64> = (0..=4).map(|k| lo + (hi - lo) * k as f64 / 4.0).collect();
    // A format that rounds ticks onto the same label (counts below 4) shows decimals instead.
    let labels: Vec<String> = ticks.iter().map(|v| format(*v)).collect();
    let distinct = labels.windows(2).all(|w| w[0] != w[1]);
    for (k, v) in ticks.into_iter().enumerate() {
        let label = if distinct { format(v) } else { format!("{v:.2}") };
        let y = TOP + plot_h * (1.0 - k as f64 / 4.0);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e7eb"/><text x="{:.1}" y="{:.1}" class="y">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            label
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_text_and_survive_empty_flat_and_non_finite_data() {
        let f = |v: f64| format!("{v:.0}");
        let x = vec!["<d1>".to_string(), "d2".to_string()];
        let svg = line_chart("a & b", &x, &[("s", vec![Some(1.0), Some(f64::NAN)])], f);
        assert!(svg.contains("a &amp; b") && svg.contains("&lt;d1&gt;") && !svg.contains("NaN"), "{svg}");
        assert!(line_chart("t", &[], &[], f).contains("no data"));
        assert!(line_chart("t", &x, &[("s", vec![Some(5.0), Some(5.0)])], f).contains("<path"));
        let bars = bar_chart("t", &[("<x>".into(), 3.0), ("y".into(), f64::INFINITY)], f);
        assert!(bars.contains("&lt;x&gt;") && bars.starts_with("<svg"), "{bars}");
        assert!(bar_chart("t", &[], f).contains("no data"));
    }
}
