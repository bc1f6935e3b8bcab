//! One metric over time for the canary and baseline arms, with the rollback threshold as a
//! line. Only the points of the visible window reach the chart, downsampled to its width.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType};

use crate::domain::MetricPoint;
use crate::tui::format;
use crate::tui::theme::Theme;

/// Which value of a point a chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    ErrorRate,
    Latency,
    Satisfaction,
}

impl MetricKind {
    pub const ALL: [MetricKind; 3] = [
        MetricKind::ErrorRate,
        MetricKind::Latency,
        MetricKind::Satisfaction,
    ];

    /// The metric's name in verdicts and thresholds.
    pub fn name(self) -> &'static str {
        match self {
            MetricKind::ErrorRate => "error_rate",
            MetricKind::Latency => "avg_latency_ms",
            MetricKind::Satisfaction => "satisfaction_score",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            MetricKind::ErrorRate => "error rate",
            MetricKind::Latency => "latency",
            MetricKind::Satisfaction => "satisfaction",
        }
    }

    pub fn value(self, p: &MetricPoint) -> Option<f64> {
        if p.conversations == 0 {
            return None;
        }
        match self {
            MetricKind::ErrorRate => p
                .error_rate
                .or(Some(p.errors as f64 / p.conversations as f64)),
            MetricKind::Latency => p.avg_latency_ms,
            MetricKind::Satisfaction => p.satisfaction_score,
        }
    }

    /// Higher is better for satisfaction only.
    pub fn higher_is_better(self) -> bool {
        self == MetricKind::Satisfaction
    }
}

/// `(minute, value)` pairs of the points with `minute >= from`, averaged into buckets
/// (weighted by conversations) when there are more than `max_points`.
pub fn window_points(
    points: &[MetricPoint],
    from: i64,
    kind: MetricKind,
    max_points: usize,
) -> Vec<(f64, f64)> {
    let start = points.partition_point(|p| p.minute < from);
    let visible = &points[start..];
    let max_points = max_points.max(2);
    if visible.len() <= max_points {
        return visible
            .iter()
            .filter_map(|p| kind.value(p).map(|v| (p.minute as f64, v)))
            .collect();
    }
    let bucket = visible.len().div_ceil(max_points);
    visible
        .chunks(bucket)
        .filter_map(|chunk| {
            let mut w = 0.0;
            let mut sum = 0.0;
            let mut x = 0.0;
            for p in chunk {
                if let Some(v) = kind.value(p) {
                    let pw = p.conversations as f64;
                    w += pw;
                    sum += v * pw;
                    x += p.minute as f64 * pw;
                }
            }
            (w > 0.0).then(|| (x / w, sum / w))
        })
        .collect()
}

/// Everything one chart needs.
pub struct MetricChart<'a> {
    pub kind: MetricKind,
    pub baseline: &'a [(f64, f64)],
    pub canary: &'a [(f64, f64)],
    pub threshold: Option<f64>,
    pub x_bounds: [f64; 2],
    /// The verdict mark shown in the title (✔/✖/?), with its style.
    pub verdict: Option<(&'static str, Style)>,
}

impl MetricChart<'_> {
    pub fn y_bounds(&self) -> [f64; 2] {
        let data_max = self
            .baseline
            .iter()
            .chain(self.canary.iter())
            .map(|(_, y)| *y)
            .fold(0.0_f64, f64::max);
        match self.kind {
            MetricKind::Satisfaction => [0.0, 5.0],
            _ => {
                let t = self.threshold.unwrap_or(0.0);
                let top = (t * 1.3).max(data_max * 1.1);
                [0.0, if top > 0.0 { top } else { 1.0 }]
            }
        }
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let [y0, y1] = self.y_bounds();
        let threshold_line: Vec<(f64, f64)> = self
            .threshold
            .map(|t| vec![(self.x_bounds[0], t), (self.x_bounds[1], t)])
            .unwrap_or_default();
        let datasets = vec![
            Dataset::default()
                .graph_type(GraphType::Line)
                .marker(ratatui::symbols::Marker::Braille)
                .style(theme.threshold)
                .data(&threshold_line),
            Dataset::default()
                .name("baseline")
                .graph_type(GraphType::Line)
                .marker(theme.baseline_marker)
                .style(theme.baseline)
                .data(self.baseline),
            Dataset::default()
                .name("canary")
                .graph_type(GraphType::Line)
                .marker(theme.canary_marker)
                .style(theme.canary)
                .data(self.canary),
        ];
        let name = self.kind.name();
        let mut title = vec![Span::styled(
            format!(" {} ", self.kind.title()),
            theme.title,
        )];
        if let Some((mark, style)) = self.verdict {
            title.push(Span::styled(format!("{mark} "), style));
        }
        if let Some(t) = self.threshold {
            let cmp = if self.kind.higher_is_better() {
                "≥"
            } else {
                "≤"
            };
            title.push(Span::styled(
                format!("{cmp}{} ", format::metric(name, t)),
                theme.threshold,
            ));
        }
        let span = (self.x_bounds[1] - self.x_bounds[0]).round() as i64;
        let chart = Chart::new(datasets)
            .block(
                Block::new()
                    .borders(Borders::TOP)
                    .border_style(theme.border)
                    .title(Line::from(title)),
            )
            .legend_position(None)
            .x_axis(
                Axis::default()
                    .bounds(self.x_bounds)
                    .style(theme.muted)
                    .labels([format!("-{span}m"), "now".to_string()]),
            )
            .y_axis(
                Axis::default()
                    .bounds([y0, y1])
                    .style(theme.muted)
                    .labels([format::metric(name, y0), format::metric(name, y1)]),
            );
        frame.render_widget(chart, area);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(minute: i64, n: u64, lat: f64) -> MetricPoint {
        MetricPoint {
            minute,
            at: String::new(),
            conversations: n,
            errors: 0,
            error_rate: Some(0.0),
            avg_latency_ms: Some(lat),
            p95_latency_ms: None,
            satisfaction_score: Some(4.0),
        }
    }

    #[test]
    fn slices_the_window_and_downsamples() {
        let pts: Vec<_> = (0..100).map(|m| p(m, 10, m as f64)).collect();
        let w = window_points(&pts, 90, MetricKind::Latency, 50);
        assert_eq!(w.len(), 10);
        assert_eq!(w[0], (90.0, 90.0));
        let d = window_points(&pts, 0, MetricKind::Latency, 10);
        assert!(d.len() <= 10);
        assert!((d[0].1 - 4.5).abs() < 1e-9);
        // Minutes without conversations have no value.
        let gaps = vec![p(0, 0, 1.0), p(1, 5, 2.0)];
        assert_eq!(
            window_points(&gaps, 0, MetricKind::Latency, 10),
            vec![(1.0, 2.0)]
        );
    }
}
