//! README is documentation people act on during an incident: keep it true to the code.

use gatewatch::keymap::BINDINGS;

const README: &str = include_str!("../README.md");

#[test]
fn the_complete_example_is_the_tested_fixture() {
    let fixture = include_str!("fixtures/full-config.toml");
    assert!(
        README.contains(fixture.trim_end()),
        "README's example differs from tests/fixtures/full-config.toml"
    );
    gatewatch::config::parse(fixture, std::path::Path::new("full-config.toml"))
        .expect("the example is valid");
}

#[test]
fn every_key_binding_is_documented() {
    for b in BINDINGS {
        assert!(
            README.contains(b.help),
            "README does not describe {:?}",
            b.help
        );
    }
}

#[test]
fn ci_runs_the_test_command_readme_gives() {
    assert!(README.contains("./scripts/test.sh"));
    let ci = include_str!("../.ci/run");
    assert!(
        ci.contains("scripts/test.sh"),
        ".ci/run must call README's test command"
    );
}

#[test]
fn every_config_key_is_documented() {
    let keys = [
        "refresh",
        "theme",
        "name",
        "url",
        "timeout",
        "interval",
        "expect",
        "method",
        "host",
        "tls-verify",
        "slow",
        "names",
        "nameservers",
        "hosts-file",
        "resolv-conf",
        "path",
        "command",
        "kind",
        "status",
        "test",
        "reload",
        "restart",
        "sudo",
        "span",
        "kernel",
        "packages",
    ];
    for key in keys {
        assert!(
            README.contains(&format!("`{key}`")),
            "README does not document `{key}`"
        );
    }
}
