//! nginx discovery on broken and hostile configs: it must report, keep what it parsed, and end.

use std::fs;

use gatewatch::discover::limits::{MAX_FILE_BYTES, MAX_FILES, MAX_INCLUDE_DEPTH};
use gatewatch::discover::{self, DiscoveryErrorKind};

use crate::support::{Tree, random_bytes};

/// Targets, then groups no pass uses (listed, not probed): "unused NAME (SERVERS)".
fn names(d: &discover::Discovery) -> Vec<String> {
    let targets = d.targets.iter().map(|t| t.name.clone());
    let unused = d
        .unused
        .iter()
        .map(|g| format!("unused {} ({})", g.name, g.servers));
    targets.chain(unused).collect()
}

#[test]
fn include_cycle_is_an_error_not_a_hang() {
    let tree = Tree::empty();
    let main = tree.write("nginx.conf", "http {\n    include conf.d/a.conf;\n}\n");
    tree.write(
        "conf.d/a.conf",
        "upstream a { server 10.0.0.1:80; }\ninclude conf.d/b.conf;\n",
    );
    tree.write(
        "conf.d/b.conf",
        "# loops back\n\nupstream b { server 10.0.0.2:80; }\ninclude conf.d/a.conf;\n",
    );
    let d = discover::nginx(&main);
    assert_eq!(names(&d), vec!["unused a (1)", "unused b (1)"]);
    let a = tree.path("conf.d/a.conf").display().to_string();
    let b = tree.path("conf.d/b.conf").display().to_string();
    assert_eq!(
        tree.errors(&d),
        vec![tree.rel(format!("conf.d/b.conf:4: include cycle: {a} -> {b} -> {a}"))]
    );
}

#[test]
fn glob_that_matches_its_own_file_is_a_cycle() {
    let tree = Tree::empty();
    let main = tree.write("nginx.conf", "include conf.d/*.conf;\n");
    tree.write(
        "conf.d/all.conf",
        "resolver 10.0.0.53;\ninclude conf.d/*.conf;\n",
    );
    let d = discover::nginx(&main);
    assert_eq!(d.errors.len(), 1);
    assert!(matches!(
        d.errors[0].kind,
        DiscoveryErrorKind::IncludeCycle { .. }
    ));
    assert_eq!(
        (d.errors[0].file.clone(), d.errors[0].line),
        (tree.path("conf.d/all.conf"), Some(2))
    );
}

#[test]
fn self_include_through_a_symlink_is_a_cycle() {
    let tree = Tree::empty();
    let main = tree.write("nginx.conf", "resolver 10.0.0.53;\ninclude alias.conf;\n");
    tree.symlink("nginx.conf", "alias.conf");
    let d = discover::nginx(&main);
    assert_eq!(d.resolvers, vec!["10.0.0.53:53".parse().unwrap()]);
    assert_eq!(d.errors.len(), 1);
    assert!(matches!(
        d.errors[0].kind,
        DiscoveryErrorKind::IncludeCycle { .. }
    ));
    assert_eq!(d.errors[0].line, Some(2));
}

#[test]
fn missing_include_is_reported_and_the_rest_still_parsed() {
    let tree = Tree::empty();
    let main = tree.write(
        "nginx.conf",
        "http {\n    include snippets/gone.conf;\n    include conf.d/*.conf;   # matches nothing: fine\n    \
         server { location / { proxy_pass http://10.0.0.9:8000; } }\n}\n",
    );
    let d = discover::nginx(&main);
    assert_eq!(names(&d), vec!["10.0.0.9:8000"]);
    let gone = tree.path("snippets/gone.conf");
    assert_eq!(
        tree.errors(&d),
        vec![tree.rel(format!(
            "nginx.conf:2: cannot read {}: No such file or directory (os error 2)",
            gone.display()
        ))]
    );
}

#[test]
fn unclosed_block_reports_where_it_opened_and_keeps_earlier_directives() {
    let tree = Tree::empty();
    let main = tree.write(
        "nginx.conf",
        "http {\n    include sites-enabled/*;\n    access_log /var/log/nginx/access.log;\n}\n",
    );
    tree.write(
        "sites-enabled/broken",
        "upstream ok { server 10.0.0.1:8080; }\n\nserver {\n    location /api/ {\n        proxy_pass http://ok;\n\n    \
         location /b/ { proxy_pass http://10.0.0.2:8080; }\n}\n",
    );
    let d = discover::nginx(&main);
    // Everything parsed, including what follows the include in the main file.
    assert_eq!(names(&d), vec!["ok 10.0.0.1:8080", "10.0.0.2:8080"]);
    assert_eq!(d.logs.len(), 1);
    assert_eq!(
        tree.errors(&d),
        // The brace is missing after line 5, but a later "}" closes that block: what is left open
        // is the server block.
        vec![
            "sites-enabled/broken:3: \"server\" block is never closed (unexpected end of file at line 9, expecting \"}\")"
        ]
    );
}

#[test]
fn extra_closing_brace_is_reported_and_skipped() {
    let tree = Tree::empty();
    let main = tree.write(
        "nginx.conf",
        "http {\n  server { listen 80; }\n  }\n}\nerror_log /var/log/nginx/error.log;\nupstream late { server 10.0.0.3; }\n",
    );
    let d = discover::nginx(&main);
    assert_eq!(tree.errors(&d), vec!["nginx.conf:4: unexpected \"}\""]);
    assert_eq!(names(&d), vec!["unused late (1)"]);
    assert_eq!(d.logs.len(), 1);
}

#[test]
fn unterminated_quote_stops_the_file_with_its_line() {
    let tree = Tree::empty();
    let main = tree.write(
        "nginx.conf",
        "upstream a { server 10.0.0.1:80; }\nhttp {\n  add_header X-Frame \"DENY;\n  upstream b { server 10.0.0.2:80; }\n}\n",
    );
    let d = discover::nginx(&main);
    assert_eq!(names(&d), vec!["unused a (1)"]);
    // The unclosed http block is a consequence: not reported again.
    assert_eq!(
        tree.errors(&d),
        vec!["nginx.conf:3: unterminated quoted string"]
    );
}

#[test]
fn unreadable_main_configs() {
    let tree = Tree::empty();
    let missing = tree.path("nope.conf");
    let d = discover::nginx(&missing);
    assert_eq!(
        tree.errors(&d),
        vec![tree.rel(format!(
            "nope.conf: cannot read {}: No such file or directory (os error 2)",
            missing.display()
        ))]
    );
    assert!(d.files_read.is_empty() && d.targets.is_empty());

    let d = discover::nginx(&tree.root);
    assert_eq!(d.errors.len(), 1);
    assert!(
        d.errors[0]
            .to_string()
            .ends_with(": a directory, not a regular file"),
        "{}",
        d.errors[0]
    );
    assert_eq!(d.errors[0].line, None);

    // Permissions do not stop root, so only check them when not running as root.
    let locked = tree.write("locked.conf", "upstream a { server 10.0.0.1; }\n");
    fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        let d = discover::nginx(&locked);
        assert_eq!(d.errors.len(), 1);
        assert!(
            d.errors[0].to_string().contains("Permission denied"),
            "{}",
            d.errors[0]
        );
    }
}

#[test]
fn random_bytes_do_not_panic() {
    let tree = Tree::empty();
    let main = tree.path("nginx.conf");
    fs::write(&main, random_bytes(2 * 1024 * 1024, 0x5eed)).unwrap();
    let d = discover::nginx(&main);
    assert!(!d.errors.is_empty());
    // Without NUL bytes, and with no quotes either, garbage is tokenized to the end.
    let text: Vec<u8> = random_bytes(2 * 1024 * 1024, 7)
        .into_iter()
        .map(|b| {
            if b == 0 || b == b'"' || b == b'\'' {
                b'x'
            } else {
                b
            }
        })
        .collect();
    fs::write(&main, text).unwrap();
    let d = discover::nginx(&main);
    assert!(!d.errors.is_empty());
    assert!(d.errors.len() <= gatewatch::discover::limits::MAX_ERRORS + 1);
}

#[test]
fn binary_data_after_valid_config_keeps_what_came_before() {
    let tree = Tree::empty();
    let main = tree.path("nginx.conf");
    let mut bytes = b"upstream a { server 10.0.0.1; }\nresolver 10.0.0.53;\n".to_vec();
    bytes.extend_from_slice(
        &random_bytes(4096, 1)
            .iter()
            .map(|b| b | 0x80)
            .collect::<Vec<_>>(),
    );
    bytes.extend_from_slice(b"\n\0\x7fELF");
    fs::write(&main, bytes).unwrap();
    let d = discover::nginx(&main);
    assert_eq!(names(&d), vec!["unused a (1)"]);
    assert_eq!(d.resolvers.len(), 1);
    assert_eq!(
        tree.errors(&d).last().map(String::as_str),
        Some("nginx.conf:4: unexpected NUL byte: binary data, not a config file")
    );
}

#[test]
fn oversized_file_is_refused_without_reading_it() {
    let tree = Tree::empty();
    let main = tree.write("nginx.conf", "http { include big.conf; }\n");
    let big = fs::File::create(tree.path("big.conf")).unwrap();
    big.set_len(MAX_FILE_BYTES + 1).unwrap();
    let d = discover::nginx(&main);
    assert_eq!(d.errors.len(), 1);
    assert!(
        matches!(d.errors[0].kind, DiscoveryErrorKind::TooLarge { .. }),
        "{}",
        d.errors[0]
    );
    assert_eq!(d.errors[0].line, Some(1));
}

#[test]
fn include_depth_is_bounded() {
    let tree = Tree::empty();
    let main = tree.write("nginx.conf", "include level1.conf;\n");
    for i in 1..=MAX_INCLUDE_DEPTH + 3 {
        tree.write(
            &format!("level{i}.conf"),
            &format!(
                "upstream u{i} {{ server 10.0.0.{i}; }}\ninclude level{}.conf;\n",
                i + 1
            ),
        );
    }
    let d = discover::nginx(&main);
    assert_eq!(d.unused.len(), MAX_INCLUDE_DEPTH);
    assert_eq!(d.errors.len(), 1);
    let deep = MAX_INCLUDE_DEPTH;
    assert_eq!(
        tree.rel(&d.errors[0]),
        format!(
            "level{deep}.conf:2: not reading level{}.conf: includes nested deeper than {deep} levels",
            deep + 1
        )
    );
}

#[test]
fn file_count_is_bounded() {
    let tree = Tree::empty();
    let main = tree.write("nginx.conf", "include many/*.conf;\n");
    fs::create_dir(tree.path("many")).unwrap();
    for i in 0..MAX_FILES + 5 {
        fs::write(
            tree.path(&format!("many/{i:05}.conf")),
            "resolver 10.0.0.53;\n",
        )
        .unwrap();
    }
    let d = discover::nginx(&main);
    assert_eq!(d.files_read.len(), MAX_FILES);
    assert_eq!(d.errors.len(), 1, "reported once: {:?}", d.errors.first());
    assert!(matches!(
        d.errors[0].kind,
        DiscoveryErrorKind::TooManyFiles { .. }
    ));
    assert_eq!(d.resolvers.len(), 1);
}
