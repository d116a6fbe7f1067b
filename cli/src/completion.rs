//! `completion SHELL`: the completion script clap_complete writes from the clap definitions,
//! for the name the binary was called by (`kubectl-gco`, or `gco` when installed so).

use clap::CommandFactory as _;

use crate::args::Cli;

/// The script for `shell`, completing `bin_name`.
pub fn script(shell: clap_complete::Shell, bin_name: &str) -> Vec<u8> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, bin_name, &mut out);
    out
}

/// The file name this process was started as, `kubectl-gco` if it cannot be told.
pub fn own_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|arg0| {
            std::path::Path::new(&arg0)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "kubectl-gco".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_gets_a_script_naming_the_verbs() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let text = String::from_utf8(script(shell, "kubectl-gco")).expect("utf-8");
            assert!(text.contains("reconcile"), "{shell}: {text}");
            assert!(text.contains("trace"), "{shell}");
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
