//! Which services can be acted on: the configured ones, or nginx when it was discovered.

use std::path::Path;
use std::time::Duration;

use super::Verb;
use crate::config::{Argv, Config, Service};

/// nginx's compiled-in config path: `-c` is only passed for another one.
const NGINX_DEFAULT_CONF: &str = "/etc/nginx/nginx.conf";

/// systemctl must never page into our raw terminal or ask for a password on it.
const SYSTEMCTL_FLAGS: [&str; 2] = ["--no-pager", "--no-ask-password"];

/// A service with its commands ready to run (`sudo -n` already prefixed where asked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceSpec {
    pub name: String,
    pub status: Option<Argv>,
    pub test: Option<Argv>,
    pub reload: Option<Argv>,
    pub restart: Option<Argv>,
    pub timeout: Duration,
    /// "config", or why it is offered ("discovered nginx /etc/nginx/nginx.conf").
    pub origin: String,
}

impl ServiceSpec {
    pub fn from_config(service: &Service) -> Self {
        let wrap = |argv: &Option<Argv>| argv.as_ref().map(|a| with_sudo(a, service.sudo));
        ServiceSpec {
            name: service.name.clone(),
            status: wrap(&service.status),
            test: wrap(&service.test),
            reload: wrap(&service.reload),
            restart: wrap(&service.restart),
            timeout: service.timeout,
            origin: "config".into(),
        }
    }

    pub fn command(&self, verb: Verb) -> Option<&Argv> {
        match verb {
            Verb::Status => self.status.as_ref(),
            Verb::Test => self.test.as_ref(),
            Verb::Reload => self.reload.as_ref(),
            Verb::Restart => self.restart.as_ref(),
        }
    }

    /// The test that must pass before `verb` runs, if any.
    pub fn guard(&self, verb: Verb) -> Option<&Argv> {
        self.test.as_ref().filter(|_| verb.changes_service())
    }

    /// The verbs this service has a command for, in menu order.
    pub fn verbs(&self) -> impl Iterator<Item = (Verb, &Argv)> {
        Verb::ALL
            .into_iter()
            .filter_map(|v| self.command(v).map(|a| (v, a)))
    }
}

fn with_sudo(argv: &Argv, sudo: bool) -> Argv {
    if !sudo {
        return argv.clone();
    }
    // -n: fail at once instead of prompting for a password into the dashboard's raw terminal.
    let mut words = vec!["sudo".to_owned(), "-n".to_owned()];
    words.extend(argv.0.iter().cloned());
    Argv(words)
}

/// Whether systemd manages this host (sd_booted(3) checks the same directory).
pub fn has_systemd() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// The configured services; with none configured and an nginx config discovered, nginx itself.
/// `root` decides whether the nginx commands need `sudo -n`.
pub fn resolve(
    config: &Config,
    nginx_conf: Option<&Path>,
    systemd: bool,
    root: bool,
) -> Vec<ServiceSpec> {
    if !config.services.is_empty() {
        return config
            .services
            .iter()
            .map(ServiceSpec::from_config)
            .collect();
    }
    nginx_conf
        .map(|conf| nginx_service(conf, systemd, root))
        .into_iter()
        .collect()
}

/// [`resolve`] for this host: systemd and root are looked up.
pub fn for_this_host(config: &Config, nginx_conf: Option<&Path>) -> Vec<ServiceSpec> {
    // SAFETY: geteuid cannot fail and touches no memory.
    let root = unsafe { libc::geteuid() } == 0;
    resolve(config, nginx_conf, has_systemd(), root)
}

fn nginx_service(conf: &Path, systemd: bool, root: bool) -> ServiceSpec {
    let argv = |words: &[&str]| Argv(words.iter().map(|w| (*w).to_owned()).collect());
    let systemctl = |verb: &str| {
        let mut words = vec!["systemctl", verb];
        words.extend(SYSTEMCTL_FLAGS);
        words.push("nginx");
        argv(&words)
    };
    let conf_text = conf.to_string_lossy();
    let mut nginx = vec!["nginx"];
    if conf != Path::new(NGINX_DEFAULT_CONF) {
        nginx.extend(["-c", &conf_text]);
    }
    let nginx_with = |extra: &[&str]| {
        let mut words = nginx.clone();
        words.extend(extra);
        argv(&words)
    };
    let sudo = !root;
    let (status, reload, restart) = if systemd {
        (
            systemctl("is-active"),
            with_sudo(&systemctl("reload"), sudo),
            Some(with_sudo(&systemctl("restart"), sudo)),
        )
    } else {
        // Without systemd nothing can restart nginx for us; a signal reload still works.
        (
            argv(&["pgrep", "-x", "nginx"]),
            with_sudo(&nginx_with(&["-s", "reload"]), sudo),
            None,
        )
    };
    ServiceSpec {
        name: "nginx".into(),
        status: Some(status),
        test: Some(with_sudo(&nginx_with(&["-t"]), sudo)),
        reload: Some(reload),
        restart,
        timeout: Duration::from_secs(30),
        origin: format!("discovered nginx {}", conf.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(a: &Option<Argv>) -> String {
        a.as_ref().map(|a| a.to_string()).unwrap_or_default()
    }

    #[test]
    fn nginx_is_offered_with_systemd_when_discovered_and_nothing_is_configured() {
        let config = Config::default();
        let got = resolve(
            &config,
            Some(Path::new("/etc/nginx/nginx.conf")),
            true,
            true,
        );
        assert_eq!(got.len(), 1);
        let s = &got[0];
        assert_eq!(
            words(&s.status),
            "systemctl is-active --no-pager --no-ask-password nginx"
        );
        assert_eq!(words(&s.test), "nginx -t");
        assert_eq!(
            words(&s.reload),
            "systemctl reload --no-pager --no-ask-password nginx"
        );
        assert_eq!(
            words(&s.restart),
            "systemctl restart --no-pager --no-ask-password nginx"
        );
        assert_eq!(s.origin, "discovered nginx /etc/nginx/nginx.conf");
    }

    #[test]
    fn without_systemd_nginx_reloads_by_signal_and_has_no_restart() {
        let got = resolve(
            &Config::default(),
            Some(Path::new("/srv/nginx.conf")),
            false,
            true,
        );
        let s = &got[0];
        assert_eq!(words(&s.test), "nginx -c /srv/nginx.conf -t");
        assert_eq!(words(&s.reload), "nginx -c /srv/nginx.conf -s reload");
        assert_eq!(s.restart, None);
    }

    #[test]
    fn non_root_nginx_commands_go_through_sudo_n_except_status() {
        let got = resolve(
            &Config::default(),
            Some(Path::new("/etc/nginx/nginx.conf")),
            true,
            false,
        );
        let s = &got[0];
        assert_eq!(words(&s.test), "sudo -n nginx -t");
        assert!(words(&s.reload).starts_with("sudo -n systemctl reload"));
        assert!(words(&s.status).starts_with("systemctl is-active"));
    }

    #[test]
    fn configured_services_replace_the_default_and_sudo_prefixes_every_command() {
        let config = Config {
            services: vec![Service {
                name: "app".into(),
                status: None,
                test: None,
                reload: None,
                restart: Some(Argv(vec![
                    "systemctl".into(),
                    "restart".into(),
                    "app".into(),
                ])),
                sudo: true,
                timeout: Duration::from_secs(5),
            }],
            ..Config::default()
        };
        let got = resolve(
            &config,
            Some(Path::new("/etc/nginx/nginx.conf")),
            true,
            true,
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "app");
        assert_eq!(words(&got[0].restart), "sudo -n systemctl restart app");
        assert_eq!(got[0].guard(Verb::Restart), None);
        assert_eq!(got[0].verbs().count(), 1);
    }

    #[test]
    fn no_nginx_and_no_config_means_no_services() {
        assert!(resolve(&Config::default(), None, true, true).is_empty());
    }
}
