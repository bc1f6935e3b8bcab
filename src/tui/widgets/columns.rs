//! Table columns sized by their content, with priorities: when a table is too narrow, the
//! lowest-priority columns go first, and an identifier or version is never cut. Only free
//! text (names, states) shrinks, and it ends in `…` when it does (see `format::fit`).

/// What a column holds, which decides whether it may shrink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// Ids, versions, weights, times: shown whole or not at all.
    Exact,
    /// Free text: may shrink down to `min` columns, cut with an ellipsis.
    Text { min: u16 },
}

/// One column of a table before it is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub header: &'static str,
    /// The widest cell, header included.
    pub width: u16,
    pub content: Content,
    /// 0: always shown. Higher numbers are dropped first when the table is too narrow.
    pub priority: u8,
}

impl Column {
    pub fn exact(header: &'static str, cells: impl IntoIterator<Item = usize>) -> Column {
        Column {
            header,
            width: widest(header, cells),
            content: Content::Exact,
            priority: 0,
        }
    }

    pub fn text(header: &'static str, min: u16, cells: impl IntoIterator<Item = usize>) -> Column {
        let width = widest(header, cells);
        Column {
            header,
            width,
            content: Content::Text {
                min: min.min(width),
            },
            priority: 0,
        }
    }

    pub fn priority(mut self, p: u8) -> Column {
        self.priority = p;
        self
    }

    fn min(&self) -> u16 {
        match self.content {
            Content::Exact => self.width,
            Content::Text { min } => min,
        }
    }
}

fn widest(header: &str, cells: impl IntoIterator<Item = usize>) -> u16 {
    cells
        .into_iter()
        .chain(std::iter::once(header.chars().count()))
        .max()
        .unwrap_or(0)
        .min(u16::MAX as usize) as u16
}

/// The width of each column in `avail` columns of screen with `spacing` between columns;
/// `None` for a column dropped. `wide` keeps every column at its full width.
pub fn fit(cols: &[Column], avail: u16, spacing: u16, wide: bool) -> Vec<Option<u16>> {
    if wide {
        return cols.iter().map(|c| Some(c.width)).collect();
    }
    let mut kept: Vec<bool> = vec![true; cols.len()];
    let need = |kept: &[bool]| -> u32 {
        let n = kept.iter().filter(|k| **k).count() as u32;
        cols.iter()
            .zip(kept)
            .filter(|(_, k)| **k)
            .map(|(c, _)| c.min() as u32)
            .sum::<u32>()
            + spacing as u32 * n.saturating_sub(1)
    };
    while need(&kept) > avail as u32 {
        // The lowest priority still shown, the rightmost of equals.
        let drop = cols
            .iter()
            .enumerate()
            .filter(|(i, c)| kept[*i] && c.priority > 0)
            .max_by_key(|(i, c)| (c.priority, *i))
            .map(|(i, _)| i);
        match drop {
            Some(i) => kept[i] = false,
            None => break,
        }
    }
    let mut widths: Vec<Option<u16>> = cols
        .iter()
        .zip(&kept)
        .map(|(c, k)| k.then(|| c.min()))
        .collect();
    let mut spare = (avail as u32).saturating_sub(need(&kept));
    // Shrunk text gets its room back, leftmost first.
    for (c, w) in cols.iter().zip(widths.iter_mut()) {
        if let Some(w) = w {
            let grow = (c.width - *w) as u32;
            let add = grow.min(spare);
            *w += add as u16;
            spare -= add;
        }
    }
    widths
}

/// Whether every column of priority 0 fits whole (its full width) in `avail`.
pub fn fits_whole(cols: &[Column], avail: u16, spacing: u16) -> bool {
    let musts: Vec<&Column> = cols.iter().filter(|c| c.priority == 0).collect();
    let sum: u32 = musts.iter().map(|c| c.min() as u32).sum::<u32>()
        + spacing as u32 * (musts.len() as u32).saturating_sub(1);
    sum <= avail as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols() -> Vec<Column> {
        vec![
            Column::text("name", 6, [20]),
            Column::exact("id", [23]),
            Column::exact("live", [20]),
            Column::text("health", 6, [7]).priority(3),
            Column::text("operation", 10, [18]).priority(2),
        ]
    }

    #[test]
    fn everything_fits_at_full_width() {
        let w = fit(&cols(), 120, 1, false);
        assert_eq!(w, vec![Some(20), Some(23), Some(20), Some(7), Some(18)]);
    }

    #[test]
    fn low_priority_goes_before_an_id_is_cut() {
        // 6 + 23 + 20 + 6 + 10 + 4 = 69 > 60: operation goes, then health.
        let w = fit(&cols(), 60, 1, false);
        assert_eq!(w[3], None);
        assert_eq!(w[4], None);
        assert_eq!(w[1], Some(23));
        assert_eq!(w[2], Some(20));
        // The name gets what is left.
        assert_eq!(w[0], Some(60 - 23 - 20 - 2));
    }

    #[test]
    fn text_shrinks_before_a_column_is_dropped() {
        // Full: 20+23+20+7+18+4 = 92. At 80 the name and operation shrink, nothing goes.
        let w = fit(&cols(), 80, 1, false);
        assert!(w.iter().all(Option::is_some));
        assert_eq!(w[1], Some(23));
        let total: u16 = w.iter().flatten().sum::<u16>() + 4;
        assert_eq!(total, 80);
    }

    #[test]
    fn wide_keeps_every_column_whole() {
        let w = fit(&cols(), 30, 1, true);
        assert_eq!(w, vec![Some(20), Some(23), Some(20), Some(7), Some(18)]);
    }
}
