//! Colors that read on dark and light terminals: the terminal's own foreground and background,
//! accents only where they carry meaning, and selection by reversing. `NO_COLOR` turns every
//! color off; emphasis then comes from bold, underline and reverse alone.
use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn from_env() -> Self {
        Self {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    fn fg(&self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    pub fn good(&self) -> Style {
        self.fg(Color::Green).add_modifier(Modifier::BOLD)
    }

    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    pub fn bad(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn accent(&self) -> Style {
        self.fg(Color::Cyan)
    }

    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().add_modifier(Modifier::DIM)
        } else {
            Style::new()
        }
    }

    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// The current cell of the selected row.
    pub fn current_cell(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }

    /// The cell that failed a check.
    pub fn offending(&self) -> Style {
        self.fg(Color::Red)
            .add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }

    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn verdict(&self, verdict: Option<crate::batch::Verdict>) -> Style {
        use crate::batch::Verdict;
        match verdict {
            Some(Verdict::Clean) => self.good(),
            Some(Verdict::Review) => self.warn(),
            Some(Verdict::Abort) => self.bad(),
            None => Style::new(),
        }
    }
}
