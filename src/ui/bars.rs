//! Text meters in htop's style: `[|||||     42.0%]`, readable without colour.

use ratatui::style::Style;
use ratatui::text::Span;

use crate::theme::Theme;

pub fn level_style(theme: &Theme, percent: f64) -> Style {
    match percent {
        p if p >= 90.0 => theme.gauge_high,
        p if p >= 60.0 => theme.gauge_mid,
        _ => theme.gauge_low,
    }
}

/// A meter `width` cells wide (brackets included) with `label` right-aligned inside it.
pub fn meter(theme: &Theme, percent: f64, width: usize, label: &str) -> Vec<Span<'static>> {
    let inner = width.saturating_sub(2);
    let filled = ((percent.clamp(0.0, 100.0) / 100.0) * inner as f64).round() as usize;
    let label_len = label.chars().count();
    let label_at = inner.saturating_sub(label_len);
    let mut bar = String::with_capacity(inner);
    for i in 0..inner {
        if i >= label_at {
            break;
        }
        bar.push(if i < filled { '|' } else { ' ' });
    }
    let shown_label: String = label.chars().take(inner).collect();
    vec![
        Span::styled("[", theme.dim),
        Span::styled(bar, level_style(theme, percent)),
        Span::styled(shown_label, theme.text),
        Span::styled("]", theme.dim),
    ]
}

/// One cell per core for hosts with more cores than fit as meters: ▁▂▃▄▅▆▇█.
pub fn mini(percent: f64) -> char {
    const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let i = ((percent.clamp(0.0, 100.0) / 100.0) * 7.0).round() as usize;
    LEVELS[i.min(7)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meter_keeps_its_width_whatever_the_value() {
        let theme = crate::theme::load("default", None, crate::theme::ColorDepth::TrueColor)
            .expect("embedded");
        for (p, w) in [(0.0, 12), (100.0, 12), (250.0, 3), (-5.0, 0), (50.0, 1)] {
            let text: String = meter(&theme, p, w, "42.0%")
                .iter()
                .map(|s| s.content.to_string())
                .collect();
            assert_eq!(text.chars().count(), w.max(2), "{p} {w}: {text:?}");
        }
        let text: String = meter(&theme, 50.0, 12, "50%")
            .iter()
            .map(|s| s.content.to_string())
            .collect();
        assert_eq!(text, "[|||||  50%]");
        assert_eq!(mini(0.0), '▁');
        assert_eq!(mini(100.0), '█');
    }
}
