//! One metric over time for the canary and baseline arms, with the guardrail (the rollback
//! threshold) as a line that is always inside the y-axis. Only the points of the visible
//! window reach the chart, downsampled to its width.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType};

use crate::domain::MetricPoint;
use crate::engine::judge::Metric;
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
            MetricKind::Latency => "latency_ms",
            MetricKind::Satisfaction => "satisfaction_score",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            MetricKind::ErrorRate => "error rate",
            MetricKind::Latency => "latency",
            MetricKind::Satisfaction => "CSAT",
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

    /// The judge's metric, for its units.
    pub fn metric(self) -> Metric {
        match self {
            MetricKind::ErrorRate => Metric::ErrorRate,
            MetricKind::Latency => Metric::LatencyMs,
            MetricKind::Satisfaction => Metric::SatisfactionScore,
        }
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
    /// Labels of the x-axis's ends; none leaves out the axis and its row of labels.
    pub x_labels: Option<[String; 2]>,
    /// The verdict mark shown in the title (✔/✖/?), with its style.
    pub verdict: Option<(&'static str, Style)>,
}

impl MetricChart<'_> {
    /// Bounds that hold every plotted value and the threshold line, with a margin so
    /// neither sits on the frame. Rates and latency start at zero; CSAT stays within 0–5.
    pub fn y_bounds(&self) -> [f64; 2] {
        let values = self
            .baseline
            .iter()
            .chain(self.canary.iter())
            .map(|(_, y)| *y)
            .chain(self.threshold)
            .filter(|y| y.is_finite());
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
            (lo.min(y), hi.max(y))
        });
        if !(lo.is_finite() && hi.is_finite()) {
            return match self.kind {
                MetricKind::Satisfaction => [0.0, 5.0],
                _ => [0.0, 1.0],
            };
        }
        let span = (hi - lo).max(hi.abs() * 0.05).max(1e-6);
        let margin = span * 0.1;
        match self.kind {
            MetricKind::Satisfaction => [(lo - margin).max(0.0), (hi + margin).min(5.0)],
            _ => [0.0, hi + margin],
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
        let metric = self.kind.metric();
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
                format!("{cmp}{} ", metric.value(t)),
                theme.threshold,
            ));
        }
        let mut x_axis = Axis::default().bounds(self.x_bounds).style(theme.muted);
        if let Some(labels) = &self.x_labels {
            x_axis = x_axis.labels(labels.clone());
        }
        let chart = Chart::new(datasets)
            .block(
                Block::new()
                    .borders(Borders::TOP)
                    .border_style(theme.border)
                    .title(Line::from(title)),
            )
            .legend_position(None)
            .x_axis(x_axis)
            .y_axis(
                Axis::default()
                    .bounds([y0, y1])
                    .style(theme.muted)
                    .labels([metric.value(y0), metric.value(y1)]),
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
            ..MetricPoint::default()
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

    #[test]
    fn the_y_axis_holds_the_values_and_the_guardrail() {
        let chart = |kind, data: &'static [(f64, f64)], threshold| MetricChart {
            kind,
            baseline: data,
            canary: data,
            threshold,
            x_bounds: [0.0, 1.0],
            x_labels: None,
            verdict: None,
        };
        let inside = |c: &MetricChart| {
            let [lo, hi] = c.y_bounds();
            c.canary
                .iter()
                .map(|(_, y)| *y)
                .chain(c.threshold)
                .all(|y| lo < y && y < hi)
        };
        // Values far above the guardrail, far below it, and CSAT on either side.
        for c in [
            chart(
                MetricKind::ErrorRate,
                &[(0.0, 0.31), (1.0, 0.4)],
                Some(0.05),
            ),
            chart(
                MetricKind::Latency,
                &[(0.0, 300.0), (1.0, 320.0)],
                Some(1500.0),
            ),
            chart(
                MetricKind::Satisfaction,
                &[(0.0, 4.1), (1.0, 4.3)],
                Some(3.5),
            ),
            chart(
                MetricKind::Satisfaction,
                &[(0.0, 2.1), (1.0, 2.4)],
                Some(3.5),
            ),
        ] {
            assert!(inside(&c), "{:?} {:?}", c.kind, c.y_bounds());
        }
        let empty = chart(MetricKind::Latency, &[], None);
        assert_eq!(empty.y_bounds(), [0.0, 1.0]);
    }
}
