//! The directive names an error message may quote.
//!
//! An `include` can pull in a file that is no config at all (`/etc/shadow`, a key): its first
//! word would then be quoted into findings, JSON and reports that less trusted people read. So a
//! statement that does not parse is named only when its first word is a directive nginx has;
//! anything else is "not an nginx config". The list holds the directives gatewatch reads and the
//! ones configs commonly open with; a rarer one just goes unnamed, which loses nothing secret.

const KNOWN: &[&str] = &[
    "access_log",
    "add_header",
    "alias",
    "allow",
    "auth_basic",
    "auth_basic_user_file",
    "client_body_buffer_size",
    "client_max_body_size",
    "daemon",
    "default_type",
    "deny",
    "error_log",
    "error_page",
    "events",
    "fastcgi_buffers",
    "fastcgi_index",
    "fastcgi_param",
    "fastcgi_pass",
    "fastcgi_read_timeout",
    "geo",
    "grpc_pass",
    "gzip",
    "gzip_types",
    "hash",
    "http",
    "if",
    "include",
    "index",
    "ip_hash",
    "keepalive",
    "keepalive_timeout",
    "least_conn",
    "limit_conn",
    "limit_req",
    "limit_req_zone",
    "listen",
    "load_module",
    "location",
    "log_format",
    "map",
    "mail",
    "master_process",
    "max_conns",
    "multi_accept",
    "pid",
    "proxy_buffer_size",
    "proxy_buffering",
    "proxy_buffers",
    "proxy_connect_timeout",
    "proxy_http_version",
    "proxy_next_upstream",
    "proxy_pass",
    "proxy_read_timeout",
    "proxy_redirect",
    "proxy_send_timeout",
    "proxy_set_header",
    "proxy_ssl_verify",
    "resolver",
    "resolver_timeout",
    "return",
    "rewrite",
    "root",
    "scgi_pass",
    "sendfile",
    "server",
    "server_name",
    "server_tokens",
    "ssl_certificate",
    "ssl_certificate_key",
    "ssl_ciphers",
    "ssl_protocols",
    "stream",
    "tcp_nodelay",
    "tcp_nopush",
    "try_files",
    "types",
    "upstream",
    "user",
    "uwsgi_pass",
    "worker_connections",
    "worker_processes",
    "worker_rlimit_nofile",
    "zone",
];

/// `name` when nginx has a directive by that name, for quoting in an error.
pub(super) fn known(name: &str) -> Option<&str> {
    KNOWN.contains(&name).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_directive_names_are_known() {
        assert_eq!(known("proxy_pass"), Some("proxy_pass"));
        assert_eq!(known("root:$6$salt$hash:19000:0:99999:7:::"), None);
        assert_eq!(known("hunter2"), None);
    }
}
