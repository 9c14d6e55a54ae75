//! Shell completions, the man page and `--version`, from the real binary: generated from the clap
//! definitions, so they list what the CLI really accepts.

mod common;

use common::Sandbox;

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("UTF-8")
}

const SUBCOMMANDS: [&str; 4] = ["check", "demo", "completions", "man"];

#[test]
fn bash_completions_offer_every_subcommand_and_flag_and_bash_accepts_them() {
    let sb = Sandbox::new();
    let script = stdout(&sb.run(&["completions", "bash"]));
    for word in SUBCOMMANDS
        .iter()
        .chain(&["--config", "--theme", "--nginx-conf", "--json"])
    {
        assert!(script.contains(word), "{word} missing from:\n{script}");
    }
    // bash must be able to load it and register the completion function.
    let path = sb.write("gatewatch.bash", &script);
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}' && complete -p gatewatch",
            path.display()
        ))
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("gatewatch"));
}

#[test]
fn completions_for_other_shells_and_a_bad_shell_is_a_usage_error() {
    let sb = Sandbox::new();
    assert!(stdout(&sb.run(&["completions", "zsh"])).starts_with("#compdef gatewatch"));
    assert!(stdout(&sb.run(&["completions", "fish"])).contains("complete -c gatewatch"));
    let bad = sb.run(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("possible values"));
}

#[test]
fn the_man_page_documents_the_flags_and_subcommands() {
    let sb = Sandbox::new();
    let page = stdout(&sb.run(&["man"]));
    assert!(
        page.starts_with(".ie \\n(.g .ds Aq"),
        "roff: {}",
        &page[..80]
    );
    assert!(page.contains(".TH gatewatch 1"), "{page}");
    // roff escapes '-' as '\-'.
    for flag in [
        "config",
        "theme",
        "color",
        "nginx\\-conf",
        "log\\-file",
        "mouse",
    ] {
        assert!(
            page.contains(&format!("\\-\\-{flag}")),
            "--{flag} missing:\n{page}"
        );
    }
    for sub in SUBCOMMANDS {
        assert!(page.contains(sub), "{sub} missing:\n{page}");
    }
}

#[test]
fn a_broken_config_does_not_stop_completions_or_the_man_page() {
    let sb = Sandbox::new();
    let bad = sb.write("config/gatewatch/config.toml", "refresh = [\n");
    assert!(bad.exists());
    assert!(stdout(&sb.run(&["completions", "bash"])).contains("gatewatch"));
    assert!(stdout(&sb.run(&["man"])).contains(".TH gatewatch"));
}

#[test]
fn version_names_the_package_version() {
    let sb = Sandbox::new();
    assert_eq!(
        stdout(&sb.run(&["--version"])),
        format!("gatewatch {}\n", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(stdout(&sb.run(&["--version"])), "gatewatch 0.1.0\n");
}
