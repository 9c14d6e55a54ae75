//! README and docs/ are documentation people act on during an incident: keep them true to the code.

use gatewatch::keymap::BINDINGS;

const README: &str = include_str!("../README.md");
const CONFIGURATION: &str = include_str!("../docs/configuration.md");
const KEYS: &str = include_str!("../docs/keys.md");

#[test]
fn the_complete_example_is_the_tested_fixture() {
    let fixture = include_str!("fixtures/full-config.toml");
    assert!(
        CONFIGURATION.contains(fixture.trim_end()),
        "docs/configuration.md's example differs from tests/fixtures/full-config.toml"
    );
    gatewatch::config::parse(fixture, std::path::Path::new("full-config.toml"))
        .expect("the example is valid");
}

#[test]
fn every_key_binding_is_documented() {
    for b in BINDINGS {
        assert!(
            KEYS.contains(b.help),
            "docs/keys.md does not describe {:?}",
            b.help
        );
    }
    assert!(
        README.contains("docs/keys.md"),
        "README links the full key list"
    );
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
    for key in gatewatch::config::KEYS {
        assert!(
            CONFIGURATION.contains(&format!("`{}`", key.key)),
            "docs/configuration.md does not document `{}`",
            key.key
        );
    }
}

#[test]
fn readme_stays_a_quick_read() {
    assert!(
        README.len() < 16 * 1024,
        "README is {} bytes: move reference material to docs/",
        README.len()
    );
}
