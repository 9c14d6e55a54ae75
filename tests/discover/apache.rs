//! Apache discovery on a Debian-style /etc/apache2: envvars, mods-enabled, conf-enabled with
//! PHP-FPM, sites-enabled symlinked from sites-available, a balancer.

use std::fs;

use gatewatch::discover::{self, LogKindHint, ServerFlags};

use crate::support::{Tree, http, random_bytes, tcp, unix};

fn debian() -> Tree {
    let tree = Tree::from_fixture("apache2-debian");
    for conf in ["backends.conf", "php8.2-fpm.conf"] {
        tree.symlink(
            &format!("../conf-available/{conf}"),
            &format!("conf-enabled/{conf}"),
        );
    }
    for site in ["000-default.conf", "app.example.com.conf"] {
        tree.symlink(
            &format!("../sites-available/{site}"),
            &format!("sites-enabled/{site}"),
        );
    }
    tree
}

fn other(params: &[&str]) -> Vec<String> {
    params.iter().map(|s| s.to_string()).collect()
}

#[test]
fn debian_layout_targets() {
    let tree = debian();
    let d = discover::apache(&tree.path("apache2.conf"));
    assert_eq!(tree.errors(&d), Vec::<String>::new());
    let got = tree.targets(&d);
    let app = "sites-enabled/app.example.com.conf";
    assert_eq!(
        got,
        vec![
            // Debian's php8.2-fpm.conf: SetHandler "proxy:unix:...|fcgi://localhost".
            (
                "unix:/run/php/php8.2-fpm.sock",
                None,
                unix("/run/php/php8.2-fpm.sock"),
                "conf-enabled/php8.2-fpm.conf:12".to_string()
            ),
            // ${REPORTS_HOST} comes from a Define in conf-enabled/backends.conf.
            (
                "reports.internal:9090",
                None,
                http("http://reports.internal:9090/", "reports.internal", 9090),
                format!("{app}:21")
            ),
            (
                "10.0.0.20:8765",
                None,
                http("http://10.0.0.20:8765/", "10.0.0.20", 8765),
                format!("{app}:23")
            ),
            (
                "10.0.0.30:8009",
                None,
                tcp("10.0.0.30", 8009),
                format!("{app}:24")
            ),
            (
                "unix:/run/gunicorn/app.sock",
                None,
                unix("/run/gunicorn/app.sock"),
                format!("{app}:25")
            ),
            (
                "127.0.0.1:9000",
                None,
                tcp("127.0.0.1", 9000),
                format!("{app}:26")
            ),
            // Inside <Location>, ProxyPass has no path; the line continues onto 34.
            (
                "admin.internal:443",
                None,
                http("https://admin.internal:443/", "admin.internal", 443),
                format!("{app}:33")
            ),
            (
                "api_cluster 10.0.1.10:8000",
                Some("api_cluster"),
                http("http://10.0.1.10:8000/", "10.0.1.10", 8000),
                format!("{app}:39")
            ),
            (
                "api_cluster 10.0.1.11:8000",
                Some("api_cluster"),
                http("http://10.0.1.11:8000/", "10.0.1.11", 8000),
                format!("{app}:40")
            ),
            (
                "api_cluster 10.0.1.12:8000",
                Some("api_cluster"),
                http("http://10.0.1.12:8000/", "10.0.1.12", 8000),
                format!("{app}:41")
            ),
            (
                "api_cluster [fd00::1:13]:8000",
                Some("api_cluster"),
                http("http://[fd00::1:13]:8000/", "fd00::1:13", 8000),
                format!("{app}:42")
            ),
        ]
    );
    let flags = |i: usize| d.targets[i].flags.clone();
    assert_eq!(flags(1).other, other(&["retry=0", "timeout=5"]));
    assert_eq!(
        flags(6).other,
        other(&["connectiontimeout=2", "timeout=30"])
    );
    assert_eq!(
        flags(7),
        ServerFlags {
            weight: Some(3),
            other: other(&["route=1"]),
            ..ServerFlags::default()
        }
    );
    assert_eq!(
        flags(9),
        ServerFlags {
            backup: true,
            other: other(&["status=+H"]),
            ..ServerFlags::default()
        }
    );
    assert_eq!(
        flags(10),
        ServerFlags {
            down: true,
            other: other(&["status=+D"]),
            ..ServerFlags::default()
        }
    );
}

#[test]
fn debian_layout_logs_unprobeable_and_files() {
    let tree = debian();
    let d = discover::apache(&tree.path("apache2.conf"));
    let logs: Vec<_> = d
        .logs
        .iter()
        .map(|l| (l.path.display().to_string(), l.kind, tree.loc(&l.source)))
        .collect();
    // ${APACHE_LOG_DIR} from envvars; the piped rotatelogs CustomLog is skipped.
    assert_eq!(
        logs,
        vec![
            (
                "/var/log/apache2/error.log".to_string(),
                LogKindHint::Error,
                "apache2.conf:53".to_string()
            ),
            (
                "/var/log/apache2/access.log".to_string(),
                LogKindHint::Access,
                "sites-enabled/000-default.conf:21".to_string()
            ),
            (
                "/var/log/apache2/app-error.log".to_string(),
                LogKindHint::Error,
                "sites-enabled/app.example.com.conf:10".to_string()
            ),
            (
                "/var/log/apache2/app-access.log".to_string(),
                LogKindHint::Access,
                "sites-enabled/app.example.com.conf:11".to_string()
            ),
        ]
    );
    let unprobeable: Vec<_> = d
        .unprobeable
        .iter()
        .map(|u| (u.name.as_str(), u.reason.as_str(), tree.loc(&u.source)))
        .collect();
    assert_eq!(
        unprobeable,
        vec![
            (
                "http://${TENANT_BACKEND}/",
                "target contains ${TENANT_BACKEND}, which is not defined (Define or envvars)",
                "sites-enabled/app.example.com.conf:27".to_string()
            ),
            (
                "balancer://search_cluster/",
                "balancer://search_cluster has no BalancerMember",
                "sites-enabled/app.example.com.conf:28".to_string()
            ),
        ]
    );
    assert!(d.resolvers.is_empty());
    assert_eq!(
        tree.files(&d),
        vec![
            "envvars",
            "apache2.conf",
            "mods-enabled/proxy.load",
            "mods-enabled/proxy_balancer.load",
            "mods-enabled/proxy_fcgi.load",
            "mods-enabled/proxy_http.load",
            "mods-enabled/proxy.conf",
            "ports.conf",
            "conf-enabled/backends.conf",
            "conf-enabled/php8.2-fpm.conf",
            "sites-enabled/000-default.conf",
            "sites-enabled/app.example.com.conf",
        ]
    );
}

#[test]
fn server_root_directories_and_include_rules() {
    let tree = Tree::empty();
    let main = tree.write(
        "httpd/conf/httpd.conf",
        "ServerRoot \"@ROOT@/httpd\"\nInclude conf.d\nIncludeOptional conf.modules.d/*.conf\nIncludeOptional missing.conf\n\
         Include nothing/*.conf\nInclude absent.conf\nErrorLog logs/error_log\nCustomLog \"logs/access_log\" combined\n",
    );
    tree.write(
        "httpd/conf.d/a.conf",
        "ProxyPass /a http://10.2.0.1:8080/\n",
    );
    tree.write(
        "httpd/conf.d/sub/b.conf",
        "ProxyPass /b http://10.2.0.2:8080/\n",
    );
    tree.write(
        "httpd/conf.d/.hidden.conf",
        "ProxyPass /h http://10.2.0.3:8080/\n",
    );
    let d = discover::apache(&main);
    let names: Vec<_> = d.targets.iter().map(|t| t.name.as_str()).collect();
    // A directory include reads every file in it, subdirectories too, but not hidden files.
    assert_eq!(names, vec!["10.2.0.1:8080", "10.2.0.2:8080"]);
    let root = tree.path("httpd");
    assert_eq!(
        tree.errors(&d),
        vec![
            format!(
                "httpd/conf/httpd.conf:5: no files match \"{}/nothing/*.conf\" (IncludeOptional allows that)",
                tree.rel(root.display())
            ),
            tree.rel(format!(
                "httpd/conf/httpd.conf:6: cannot read {}: No such file or directory (os error 2)",
                root.join("absent.conf").display()
            )),
        ]
    );
    let logs: Vec<_> = d.logs.iter().map(|l| l.path.clone()).collect();
    assert_eq!(
        logs,
        vec![root.join("logs/error_log"), root.join("logs/access_log")]
    );
}

#[test]
fn broken_sections_are_reported_and_parsing_goes_on() {
    let tree = Tree::empty();
    let main = tree.write(
        "apache2.conf",
        "<VirtualHost *:80>\n  ProxyPass /a http://10.3.0.1/\n</Location>\n<Proxy balancer://b\n</Proxy>\n\
         </VirtualHost>\nBalancerMember http://10.3.0.2\nProxyPass /c\nInclude site.conf\nErrorLog ${LOGS}/e.log\n",
    );
    tree.write(
        "site.conf",
        "<VirtualHost *:443>\n  ProxyPass /d https://10.3.0.4/\n",
    );
    let d = discover::apache(&main);
    let names: Vec<_> = d.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["10.3.0.1:80", "10.3.0.4:443"]);
    assert_eq!(
        tree.errors(&d),
        vec![
            "apache2.conf:3: expected </VirtualHost> but saw </Location>",
            "apache2.conf:4: <Proxy> directive missing closing '>'",
            "apache2.conf:5: </Proxy> without matching <Proxy> section",
            "apache2.conf:6: </VirtualHost> without matching <VirtualHost> section",
            "apache2.conf:7: BalancerMember needs a URL (and a balancer:// name outside <Proxy balancer://...>)",
            "apache2.conf:8: ProxyPass needs a path and a URL",
            "site.conf:1: <VirtualHost> was not closed",
            "apache2.conf:10: ErrorLog path uses ${LOGS}, which is not defined (Define or envvars)",
        ]
    );
}

#[test]
fn hostile_apache_configs() {
    let tree = Tree::empty();
    // An include loop ends with an error.
    let main = tree.write(
        "apache2.conf",
        "ProxyPass /a http://10.4.0.1/\nInclude apache2.conf\n",
    );
    let d = discover::apache(&main);
    assert_eq!(d.targets.len(), 1);
    assert_eq!(d.errors.len(), 1);
    assert!(
        d.errors[0].to_string().contains("include cycle"),
        "{}",
        d.errors[0]
    );

    // Chained Defines that double a value each line are cut off, not allowed to eat memory.
    let mut text = String::from("Define A xxxxxxxxxxxxxxxx\n");
    for _ in 0..40 {
        text.push_str("Define A ${A}${A}\n");
    }
    text.push_str("ProxyPass /z http://10.4.0.2/\n");
    let main = tree.write("defines.conf", &text);
    let d = discover::apache(&main);
    assert_eq!(d.targets.len(), 1);
    assert!(
        d.errors
            .iter()
            .all(|e| e.message().contains("substitution"))
    );

    // Random bytes.
    let main = tree.path("random.conf");
    fs::write(&main, random_bytes(2 * 1024 * 1024, 3)).unwrap();
    let d = discover::apache(&main);
    assert!(!d.errors.is_empty());

    // A directory is not a config file.
    let d = discover::apache(&tree.root);
    assert_eq!(d.errors.len(), 1);
    assert_eq!(d.errors[0].line, None);
}

/// The WebSocket and GitLab idioms: mod_rewrite hands the URL to mod_proxy with [P].
#[test]
fn rewrite_rules_with_the_proxy_flag_are_targets() {
    let tree = Tree::empty();
    let conf = tree.write(
        "apache2.conf",
        r#"<VirtualHost *:443>
    RewriteEngine On
    RewriteCond %{HTTP:Upgrade} =websocket [NC]
    RewriteRule /(.*) ws://127.0.0.1:8080/$1 [P,L]
    RewriteCond %{HTTP:Upgrade} =websocket [NC]
    RewriteRule /chat/(.*) wss://chat.internal/$1 [p,qsa,ne]
    RewriteRule ^/api/(.*)$ http://10.0.0.30:3000/api/$1 [NE,P]
    RewriteRule ^(.*)$ http://gitlab-workhorse:8181%{REQUEST_URI} [proxy]
    RewriteRule ^/php/(.*)$ fcgi://127.0.0.1:9000/srv/www/$1 [P]
    RewriteRule ^/sock/(.*)$ unix:/run/app.sock|http://localhost/$1 [P]
    RewriteRule ^/h2/(.*)$ h2c://127.0.0.1:8082/$1 [P]
    RewriteRule ^/tenant/(.*)$ http://%{HTTP_HOST}:8080/$1 [P]
    RewriteRule ^/shard/(\d+)/(.*)$ http://shard$1.internal/$2 [P,L]
    # Not proxied: a passthrough, a redirect, a local rewrite with P.
    RewriteRule ^/old/(.*)$ http://10.0.0.99:80/$1 [PT]
    RewriteRule ^/moved$ https://10.0.0.98/ [R=301,L]
    RewriteRule ^/local$ /index.html [P]
</VirtualHost>
"#,
    );
    let d = discover::apache(&conf);
    assert_eq!(tree.errors(&d), Vec::<String>::new());
    let got = tree.targets(&d);
    assert_eq!(
        got,
        vec![
            (
                "127.0.0.1:8080",
                None,
                http("http://127.0.0.1:8080/", "127.0.0.1", 8080),
                "apache2.conf:4".to_string()
            ),
            (
                "chat.internal:443",
                None,
                http("https://chat.internal:443/", "chat.internal", 443),
                "apache2.conf:6".to_string()
            ),
            (
                "10.0.0.30:3000",
                None,
                http("http://10.0.0.30:3000/", "10.0.0.30", 3000),
                "apache2.conf:7".to_string()
            ),
            (
                "gitlab-workhorse:8181",
                None,
                http("http://gitlab-workhorse:8181/", "gitlab-workhorse", 8181),
                "apache2.conf:8".to_string()
            ),
            (
                "127.0.0.1:9000",
                None,
                tcp("127.0.0.1", 9000),
                "apache2.conf:9".to_string()
            ),
            (
                "unix:/run/app.sock",
                None,
                unix("/run/app.sock"),
                "apache2.conf:10".to_string()
            ),
            (
                "127.0.0.1:8082",
                None,
                tcp("127.0.0.1", 8082),
                "apache2.conf:11".to_string()
            ),
        ]
    );
    let unprobeable: Vec<(String, String, String)> = d
        .unprobeable
        .iter()
        .map(|u| (u.name.clone(), u.reason.clone(), tree.loc(&u.source)))
        .collect();
    assert_eq!(
        unprobeable,
        vec![
            (
                "http://%{HTTP_HOST}:8080/$1".to_string(),
                "the host or port comes from %{HTTP_HOST}, known only when a request is rewritten"
                    .to_string(),
                "apache2.conf:12".to_string()
            ),
            (
                "http://shard$1.internal/$2".to_string(),
                "the host or port comes from $1, known only when a request is rewritten"
                    .to_string(),
                "apache2.conf:13".to_string()
            ),
        ]
    );
    assert!(
        d.unprobeable
            .iter()
            .all(|u| u.directive == "RewriteRule [P]")
    );
}
