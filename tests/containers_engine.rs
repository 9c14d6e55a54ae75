//! The container engine side against a real Docker Engine the test starts itself: listing and
//! judging containers, events, log following, exec and restart. One daemon runs the scenarios in
//! sequence. A real `unshare -m` process stands for a proxy in a container when there is no API.

#[path = "common/docker.rs"]
mod docker;

use std::fs;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use gatewatch::containers::{
    CALL_TIMEOUT, ContainerAction, ContainerEvent, ContainerProxy, Engine, ForeignProxy,
    StreamKind, proxies_in_other_mount_namespaces,
};

use docker::Dockerd;

const NET: &str = "gwnet";
/// Where the nginx container finds its config and writes its pid and temp files.
const NGX: &str = "/srv/ngx";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn nginx_argv(config: &str) -> Vec<String> {
    [
        "/usr/sbin/nginx",
        "-p",
        &format!("{NGX}/"),
        "-c",
        &format!("{NGX}/{config}"),
        "-e",
        "stderr",
    ]
    .map(String::from)
    .to_vec()
}

/// An nginx that keeps everything it writes under the bind-mounted prefix.
fn start_nginx(d: &Dockerd) -> String {
    let prefix = d.scratch("ngx");
    let conf = format!(
        "pid {NGX}/nginx.pid;\n\
         worker_processes 1;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n\
           access_log /dev/stdout;\n\
           client_body_temp_path {NGX}/body; proxy_temp_path {NGX}/proxy;\n\
           fastcgi_temp_path {NGX}/fastcgi; uwsgi_temp_path {NGX}/uwsgi; scgi_temp_path {NGX}/scgi;\n\
           server {{ listen 8080; location / {{ return 200 \"ok\\n\"; }} }}\n\
         }}\n"
    );
    fs::write(prefix.join("nginx.conf"), conf).expect("nginx.conf");
    fs::write(
        prefix.join("broken.conf"),
        "events { worker_connections 64 }\nhttp {\n",
    )
    .expect("broken");
    let mount = format!("{}:{NGX}", prefix.display());
    let mut argv = nginx_argv("nginx.conf");
    argv.extend(["-g".to_string(), "daemon off;".to_string()]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    d.run("web", NET, &["-v", &mount], &argv)
}

fn comm(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn a_real_docker_engine() {
    let d = Dockerd::start();
    d.network(NET);
    let web = start_nginx(&d);
    d.run(
        "app",
        NET,
        &["--network-alias", "app-alias", "-w", "/usr"],
        &["/usr/bin/python3", "-m", "http.server", "8000"],
    );
    let rt = runtime();
    let engine = rt
        .block_on(Engine::connect(Some(&d.socket())))
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", d.log_tail()));
    assert_eq!(engine.socket(), d.socket());

    containers_are_listed_and_judged(&d, &rt, &engine);
    exec_runs_nginx_t_inside(&rt, &engine, &web);
    follow_logs_sees_new_lines(&d, &rt, &engine);
    events_carry_exit_codes(&d, &rt, &engine);
    restart_changes_the_pid(&d, &rt, &engine, &web);
}

fn containers_are_listed_and_judged(d: &Dockerd, rt: &tokio::runtime::Runtime, engine: &Engine) {
    let web_pid = d.pid("web");
    d.wait_for("nginx's main process", Duration::from_secs(10), || {
        comm(web_pid) == "nginx"
    });
    let list = rt.block_on(engine.containers()).expect("containers");
    assert_eq!((list.left_off, list.unanswered), (0, 0));
    let names: Vec<&str> = list.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["app", "web"]);

    let web = &list.containers[1];
    assert_eq!(web.proxy_kind(), Some(ContainerProxy::Nginx));
    assert_eq!(web.pid, Some(web_pid));
    assert_eq!(web.state, "running");
    assert_eq!(web.image, d.empty_image());
    assert_eq!(web.command[0], "/usr/sbin/nginx");
    assert!(
        web.started_at.is_some_and(|t| (now() - t).abs() < 120),
        "{web:?}"
    );
    let ip = d.docker(&[
        "inspect",
        "--format",
        &format!("{{{{.NetworkSettings.Networks.{NET}.IPAddress}}}}"),
        "web",
    ]);
    assert_eq!(web.networks.len(), 1, "{web:?}");
    assert_eq!(web.networks[0].name, NET);
    assert_eq!(web.networks[0].ip, Some(ip.parse().expect("an address")));

    let app = &list.containers[0];
    assert_eq!(app.proxy_kind(), None, "{app:?}");
    assert!(
        app.networks[0].aliases.iter().any(|a| a == "app-alias"),
        "{app:?}"
    );
    assert_eq!((app.restart_count, app.health.as_deref()), (0, None));

    // Without the API: nginx's master lives in another mount namespace; python is no proxy.
    let foreign = proxies_in_other_mount_namespaces(Path::new("/proc"));
    assert!(
        foreign.contains(&ForeignProxy {
            pid: web_pid,
            kind: ContainerProxy::Nginx,
            comm: "nginx".into()
        }),
        "{foreign:?}"
    );
    let app_pid = app.pid.expect("app runs");
    assert!(foreign.iter().all(|p| p.pid != app_pid), "{foreign:?}");
}

fn exec_runs_nginx_t_inside(rt: &tokio::runtime::Runtime, engine: &Engine, web: &str) {
    let mut argv = nginx_argv("nginx.conf");
    argv.push("-t".into());
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let ok = rt
        .block_on(engine.exec(web, &argv, Duration::from_secs(10)))
        .expect("exec nginx -t");
    assert_eq!(ok.exit_code, Some(0), "{ok:?}");
    assert!(!ok.timed_out);
    assert!(ok.output.contains("test is successful"), "{ok:?}");

    let mut argv = nginx_argv("broken.conf");
    argv.push("-t".into());
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let broken = rt
        .block_on(engine.exec(web, &argv, Duration::from_secs(10)))
        .expect("exec nginx -t");
    assert_eq!(broken.exit_code, Some(1), "{broken:?}");
    assert!(broken.output.contains("broken.conf"), "{broken:?}");

    let started = Instant::now();
    let slow = rt
        .block_on(engine.exec(web, &["/bin/sleep", "5"], Duration::from_millis(300)))
        .expect("exec sleep");
    assert!(slow.timed_out && slow.exit_code.is_none(), "{slow:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    let err = rt
        .block_on(engine.exec("../web", &["/bin/true"], Duration::from_secs(1)))
        .expect_err("a bent id");
    assert!(err.to_string().contains("not a container id"), "{err}");
}

fn follow_logs_sees_new_lines(d: &Dockerd, rt: &tokio::runtime::Runtime, engine: &Engine) {
    let talker = d.run(
        "talker",
        NET,
        &[],
        &["/bin/sh", "-c", "echo before-follow; exec /bin/sleep 1000"],
    );
    d.wait_for("the line before following", Duration::from_secs(10), || {
        d.docker(&["logs", "talker"]).contains("before-follow")
    });
    let got = rt.block_on(async {
        let mut lines = Box::pin(engine.follow_logs(&talker, 0).expect("follow"));
        // A quiet container is no timeout: the call's deadline covers the answer's start only.
        let quiet = tokio::time::timeout(CALL_TIMEOUT + Duration::from_secs(1), lines.next()).await;
        assert!(quiet.is_err(), "nothing was written: {quiet:?}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut got = Vec::new();
        for n in 0.. {
            // Written after following began, to stdout and stderr of the container's main process.
            let script = format!("echo out-{n} > /proc/1/fd/1; echo err-{n} > /proc/1/fd/2");
            let wrote = engine
                .exec(&talker, &["/bin/sh", "-c", &script], Duration::from_secs(5))
                .await
                .expect("exec echo");
            assert_eq!(wrote.exit_code, Some(0), "{wrote:?}");
            while let Ok(Some(line)) =
                tokio::time::timeout(Duration::from_millis(300), lines.next()).await
            {
                got.push(line.expect("a log line"));
            }
            let kinds: Vec<StreamKind> = got.iter().map(|l| l.stream).collect();
            if kinds.contains(&StreamKind::Stdout) && kinds.contains(&StreamKind::Stderr) {
                return got;
            }
            assert!(Instant::now() < deadline, "no new lines followed: {got:?}");
        }
        got
    });
    let text: Vec<(StreamKind, String)> = got
        .iter()
        .map(|l| (l.stream, String::from_utf8_lossy(&l.line).into_owned()))
        .collect();
    assert!(
        text.iter().all(|(_, l)| l != "before-follow"),
        "tail 0 shows no old line: {text:?}"
    );
    assert!(
        text.iter()
            .any(|(k, l)| *k == StreamKind::Stdout && l.starts_with("out-")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|(k, l)| *k == StreamKind::Stderr && l.starts_with("err-")),
        "{text:?}"
    );
    let stamp = got[0].at.expect("a timestamp").as_second();
    assert!((now() - stamp).abs() < 60, "{stamp}");

    let since = rt
        .block_on(engine.logs_since(&talker, now() - 60))
        .expect("logs since");
    let first = since
        .first()
        .map(|l| String::from_utf8_lossy(&l.line).into_owned());
    assert_eq!(first.as_deref(), Some("before-follow"), "{since:?}");
}

fn events_carry_exit_codes(d: &Dockerd, rt: &tokio::runtime::Runtime, engine: &Engine) {
    let since = now() - 1;
    d.run("victim", NET, &[], &["/bin/sleep", "1000"]);
    // sleep as pid 1 ignores SIGTERM: stop kills it after a second.
    d.docker(&["stop", "-t", "1", "victim"]);
    d.docker(&["start", "victim"]);
    d.run("quitter", NET, &[], &["/bin/sh", "-c", "exit 3"]);
    d.wait_for("quitter's exit", Duration::from_secs(10), || {
        d.docker(&["inspect", "--format", "{{.State.Status}}", "quitter"]) == "exited"
    });
    // Writes 256 MiB under a 32 MiB limit without swap: the kernel's OOM killer ends it.
    d.run(
        "glutton",
        NET,
        &["--memory", "32m", "--memory-swap", "32m"],
        &["/usr/bin/python3", "-c", "b = b'x' * (256 << 20)"],
    );
    d.wait_for("glutton's end", Duration::from_secs(20), || {
        d.docker(&["inspect", "--format", "{{.State.Status}}", "glutton"]) == "exited"
    });
    let events = rt
        .block_on(engine.events_between(since, now() + 1))
        .expect("events");
    let of = |name: &str| -> Vec<ContainerAction> {
        events
            .iter()
            .filter(|e| e.container == name)
            .map(|e| e.action.clone())
            .collect()
    };
    assert_eq!(
        of("victim"),
        [
            ContainerAction::Start,
            ContainerAction::Die {
                exit_code: Some(137)
            },
            ContainerAction::Stop,
            ContainerAction::Start,
        ],
        "{events:?}"
    );
    assert_eq!(
        of("quitter"),
        [
            ContainerAction::Start,
            ContainerAction::Die { exit_code: Some(3) }
        ],
        "{events:?}"
    );
    assert_eq!(
        of("glutton"),
        [
            ContainerAction::Start,
            ContainerAction::Oom,
            ContainerAction::Die {
                exit_code: Some(137)
            },
        ],
        "{events:?}"
    );
    assert!(events.windows(2).all(|w| w[0].at <= w[1].at));

    // The live stream: a restart seen as it happens.
    let restarted: ContainerEvent = rt.block_on(async {
        // From a second back: a restart that beats the request to the engine is replayed.
        let mut stream = Box::pin(engine.events(now() - 1));
        // Quiet longer than a call's deadline: the stream stays open.
        let quiet_until = Instant::now() + CALL_TIMEOUT + Duration::from_secs(1);
        while let Ok(Some(item)) = tokio::time::timeout_at(quiet_until.into(), stream.next()).await
        {
            assert!(item.is_ok(), "{item:?}");
        }
        let restart = d.docker_command(&["restart", "-t", "1", "victim"]);
        let restart = tokio::process::Command::from(restart).output();
        let (out, seen) = tokio::join!(restart, async {
            loop {
                let next = tokio::time::timeout(Duration::from_secs(20), stream.next())
                    .await
                    .expect("an event within 20 s")
                    .expect("the stream goes on")
                    .expect("an event");
                if next.action == ContainerAction::Restart {
                    return next;
                }
            }
        });
        assert!(out.expect("docker restart").status.success());
        seen
    });
    assert_eq!(restarted.container, "victim");
}

fn restart_changes_the_pid(d: &Dockerd, rt: &tokio::runtime::Runtime, engine: &Engine, web: &str) {
    let before = rt.block_on(engine.container(web)).expect("inspect");
    rt.block_on(engine.restart(web, Duration::from_secs(2)))
        .expect("restart");
    let after = rt.block_on(engine.container(web)).expect("inspect");
    assert_eq!(after.state, "running");
    assert!(
        after.pid.is_some() && after.pid != before.pid,
        "{before:?} -> {after:?}"
    );
    assert_eq!(after.pid, Some(d.pid("web")));
    assert_eq!(after.proxy_kind(), Some(ContainerProxy::Nginx));
}

/// Kills and reaps a process we started, on every way out.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_proxy_in_its_own_mount_namespace_is_found_without_the_api() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A program named like a proxy: comm is the executable's name.
    let caddy = dir.path().join("caddy");
    fs::copy("/bin/sleep", &caddy).expect("copy sleep");
    let unshare = ["/usr/bin/unshare", "/bin/unshare"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("unshare is required: apt-get install -y util-linux");
    // Its own mount namespace and its own root, as in a container: the host's binaries bound
    // into an empty directory (mounts made inside the namespace stay there), then chroot.
    let root = dir.path().join("root");
    for sub in ["usr", "lib", "lib64", "bin", "opt"] {
        fs::create_dir_all(root.join(sub)).expect("root dir");
    }
    let script = format!(
        "for d in usr lib lib64 bin; do [ -e /$d ] && mount --bind /$d {root}/$d; done; \
         mount --bind {dir} {root}/opt && exec chroot {root} /opt/caddy 30",
        root = root.display(),
        dir = dir.path().display()
    );
    let inside = Reaped(
        Command::new(unshare)
            .args(["-m", "--propagation", "private", "/bin/sh", "-c", &script])
            .spawn()
            .expect("unshare -m"),
    );
    let beside = Reaped(
        Command::new(&caddy)
            .arg("30")
            .spawn()
            .expect("caddy beside us"),
    );
    let pid = inside.0.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    while comm(pid) != "caddy" {
        assert!(Instant::now() < deadline, "unshare did not exec caddy");
        std::thread::sleep(Duration::from_millis(20));
    }
    let found = proxies_in_other_mount_namespaces(Path::new("/proc"));
    assert!(
        found.contains(&ForeignProxy {
            pid,
            kind: ContainerProxy::Caddy,
            comm: "caddy".into()
        }),
        "{found:?}"
    );
    assert!(found.iter().all(|p| p.pid != beside.0.id()), "{found:?}");
}
