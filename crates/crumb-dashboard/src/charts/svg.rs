//! SVG drawing for the charts: stacked bars and lines, as markup placed inline in the page.
//!
//! No script and no `style` attribute (the dashboard's CSP allows neither): colours come
//! from classes (`s0` to `s5`, `grid`, `axis`) that `admin.css` styles for light and dark.
//! Every mark carries its value (`data-series`, `data-x`, `data-value`) and a `<title>`,
//! and every chart comes with a table of the same data for screen readers.

use std::fmt::Write;

const W: f64 = 720.0;
const H: f64 = 260.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 40.0;

/// Text safe inside SVG markup (element text and attribute values).
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A series: its name, and one value per x label (`None`: no data there).
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) values: Vec<Option<f64>>,
}

/// How values read on the axis and in titles.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Whole counts.
    Count,
    /// Shares from 0 to 1, shown as percentages.
    Share,
}

impl Unit {
    pub(crate) fn show(self, v: f64) -> String {
        match self {
            Unit::Count => format!("{}", v.round() as i64),
            Unit::Share => format!("{:.1}%", v * 100.0),
        }
    }
}

/// A round upper bound of the y axis for `max`.
fn nice_max(max: f64, unit: Unit) -> f64 {
    if unit == Unit::Share {
        return 1.0;
    }
    // Counts: at least 4, and a multiple of 4 below 100, so the four grid steps are whole.
    if max <= 4.0 {
        return 4.0;
    }
    let mag = 10f64.powf(max.log10().floor());
    [1.2, 2.0, 4.0, 6.0, 8.0, 12.0].iter().map(|m| m * mag).find(|v| *v >= max).unwrap_or(12.0 * mag)
}

fn open(id: &str, title: &str, out: &mut String) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" data-chart=\"{id}\" viewBox=\"0 0 {W} {H}\" \
         role=\"img\" aria-labelledby=\"{id}-title\"><title id=\"{id}-title\">{}</title>",
        esc(title)
    );
}

/// Grid lines and y labels from 0 to `top`, and up to ten x labels.
fn axes(labels: &[String], top: f64, unit: Unit, out: &mut String) {
    let plot_h = H - TOP - BOTTOM;
    for i in 0..=4 {
        let v = top * f64::from(i) / 4.0;
        let y = TOP + plot_h - plot_h * f64::from(i) / 4.0;
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
             <text class=\"axis\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            unit.show(v)
        );
    }
    let n = labels.len().max(1);
    let step = n.div_ceil(10);
    let slot = (W - LEFT - RIGHT) / n as f64;
    for (i, l) in labels.iter().enumerate().filter(|(i, _)| i % step == 0) {
        let x = LEFT + slot * (i as f64 + 0.5);
        let _ = write!(
            out,
            "<text class=\"axis\" x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            H - 22.0,
            esc(l)
        );
    }
}

/// Bars per x label, the series stacked bottom to top.
pub(crate) fn stacked_bars(id: &str, title: &str, labels: &[String], series: &[Series], unit: Unit) -> String {
    let totals: Vec<f64> = (0..labels.len())
        .map(|i| series.iter().map(|s| s.values.get(i).copied().flatten().unwrap_or(0.0)).sum())
        .collect();
    let top = nice_max(totals.iter().copied().fold(0.0, f64::max), unit);
    let mut out = String::new();
    open(id, title, &mut out);
    axes(labels, top, unit, &mut out);
    legend(series, &mut out);
    let plot_h = H - TOP - BOTTOM;
    let slot = (W - LEFT - RIGHT) / labels.len().max(1) as f64;
    let bar = (slot * 0.7).max(1.0);
    for (i, label) in labels.iter().enumerate() {
        let mut base = 0.0;
        let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
        for (k, s) in series.iter().enumerate() {
            let v = s.values.get(i).copied().flatten().unwrap_or(0.0);
            if v <= 0.0 {
                continue;
            }
            let (y0, y1) = (plot_h * base / top, plot_h * (base + v) / top);
            base += v;
            let _ = write!(
                out,
                "<rect class=\"s{}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" data-series=\"{}\" \
                 data-x=\"{}\" data-value=\"{v}\"><title>{} {}: {}</title></rect>",
                k % 6,
                TOP + plot_h - y1,
                (y1 - y0).max(0.5),
                esc(&s.name),
                esc(label),
                esc(label),
                esc(&s.name),
                unit.show(v)
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// One line per series; gaps where a value is `None`.
pub(crate) fn lines(id: &str, title: &str, labels: &[String], series: &[Series], unit: Unit) -> String {
    let max = series.iter().flat_map(|s| s.values.iter().flatten()).copied().fold(0.0, f64::max);
    let top = nice_max(max, unit);
    let mut out = String::new();
    open(id, title, &mut out);
    axes(labels, top, unit, &mut out);
    legend(series, &mut out);
    let plot_h = H - TOP - BOTTOM;
    let slot = (W - LEFT - RIGHT) / labels.len().max(1) as f64;
    for (k, s) in series.iter().enumerate() {
        let points: Vec<(f64, f64, f64, &String)> = s
            .values
            .iter()
            .zip(labels)
            .enumerate()
            .filter_map(|(i, (v, l))| {
                v.map(|v| (LEFT + slot * (i as f64 + 0.5), TOP + plot_h - plot_h * v / top, v, l))
            })
            .collect();
        let path: Vec<String> = points.iter().map(|(x, y, _, _)| format!("{x:.1},{y:.1}")).collect();
        let _ = write!(
            out,
            "<polyline class=\"line s{}\" fill=\"none\" points=\"{}\" data-series=\"{}\"/>",
            k % 6,
            path.join(" "),
            esc(&s.name)
        );
        for (x, y, v, l) in points {
            let _ = write!(
                out,
                "<circle class=\"s{}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" data-series=\"{}\" data-x=\"{}\" \
                 data-value=\"{v}\"><title>{} {}: {}</title></circle>",
                k % 6,
                esc(&s.name),
                esc(l),
                esc(l),
                esc(&s.name),
                unit.show(v)
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// The series' names and colours, along the bottom.
fn legend(series: &[Series], out: &mut String) {
    let mut x = LEFT;
    for (k, s) in series.iter().enumerate() {
        let _ = write!(
            out,
            "<rect class=\"s{}\" x=\"{x:.1}\" y=\"{}\" width=\"10\" height=\"10\"/>\
             <text class=\"axis\" x=\"{:.1}\" y=\"{}\">{}</text>",
            k % 6,
            H - 12.0,
            x + 14.0,
            H - 3.0,
            esc(&s.name)
        );
        x += 24.0 + 7.0 * s.name.chars().count() as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_stack_and_carry_their_values() {
        let labels = vec!["2026-01-01".to_string(), "2026-01-02".to_string()];
        let series = vec![
            Series { name: "accept_all".into(), values: vec![Some(3.0), Some(1.0)] },
            Series { name: "reject<all>".into(), values: vec![Some(1.0), None] },
        ];
        let svg = stacked_bars("d", "Decisions", &labels, &series, Unit::Count);
        assert_eq!(svg.matches("<rect class=\"s").count(), 3 + 2, "three bars and two legend swatches");
        assert!(svg.contains("data-series=\"accept_all\" data-x=\"2026-01-01\" data-value=\"3\""));
        assert!(svg.contains("reject&lt;all&gt;") && !svg.contains("reject<all>"));
        assert!(!svg.contains("style="), "the CSP allows no style attribute");
        let svg = lines("r", "Rate", &labels, &series, Unit::Share);
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains(">100.0%<"), "a share axis tops at 100%");
        assert_eq!([3.0, 10.0, 45.0, 100.0].map(|m| nice_max(m, Unit::Count)), [4.0, 12.0, 60.0, 120.0]);
    }
}
