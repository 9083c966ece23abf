//! Progress of the long command-line tasks (`serve --demo` loading, `reindex`, `audit`) on
//! standard error, drawn only when it is a terminal: piped, redirected or in CI nothing is
//! drawn, and the line each task prints at the end says what was done.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar counting `len` steps of `what`.
pub fn counter(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), target());
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:24}] {pos}/{len} ({elapsed}, {eta} left)")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

/// A spinner naming the step under way (set with `set_message`).
pub fn steps(what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, target());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix}: {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.set_prefix(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn target() -> ProgressDrawTarget {
    if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In tests standard error is not a terminal: the bars count but draw nothing.
    #[test]
    fn off_a_terminal_nothing_is_drawn() {
        let bar = counter(3, "days");
        bar.inc(2);
        assert_eq!(bar.position(), 2);
        assert!(bar.is_hidden());
        assert!(steps("audit").is_hidden());
    }
}
