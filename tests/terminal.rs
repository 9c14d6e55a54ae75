//! The real binary in a real terminal (tmux): it starts, shows its panes, answers keys, and always
//! gives the terminal back, whichever way it ends.

mod common;

use std::time::Duration;

use common::Tmux;

fn started(w: u16, h: u16) -> Tmux {
    let t = Tmux::start(&[], w, h);
    // "PID" is the process table header: it appears once the first real host sample has arrived.
    t.wait_for("PID");
    t
}

#[test]
fn shows_four_panes_help_and_quits_with_q() {
    let t = started(120, 40);
    let screen = t.screen();
    for title in [
        "1 Host",
        "2 Upstreams",
        "3 DNS",
        "4 Logs",
        "q/^C quit",
        "? help",
    ] {
        assert!(screen.contains(title), "missing {title:?} in:\n{screen}");
    }
    assert!(screen.contains("no upstreams found in nginx"), "{screen}");
    assert_eq!(t.format("#{alternate_on}"), "1");
    t.keys(&["?"]);
    t.wait_for("quit gatewatch");
    t.keys(&["Escape"]);
    t.wait_until("help to close", |t| !t.screen().contains("quit gatewatch"));
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), 0);
    t.assert_restored();
}

#[test]
fn ctrl_c_quits() {
    let t = started(80, 24);
    t.keys(&["C-c"]);
    assert_eq!(t.wait_exit(), 0);
    t.assert_restored();
}

#[test]
fn focus_and_zoom_follow_the_keys() {
    let t = started(120, 40);
    t.keys(&["3", "z"]);
    let screen = t.wait_for("3 DNS [zoom]");
    assert!(
        !screen.contains("1 Host"),
        "zoom shows only the focused pane:\n{screen}"
    );
    t.keys(&["z"]);
    t.wait_for("1 Host");
    // Enter zooms where a pane has no rows to open (Host); Tab moves on, the zoom stays.
    t.keys(&["1", "Enter"]);
    t.wait_for("1 Host [zoom]");
    t.keys(&["Tab"]);
    t.wait_for("2 Upstreams [zoom]");
    t.keys(&["BTab", "Enter"]);
    t.wait_for("2 Upstreams");
}

#[test]
fn sigterm_restores_the_terminal() {
    let t = started(100, 30);
    t.signal("TERM");
    assert_eq!(
        t.wait_exit(),
        128 + 15,
        "re-raised so the parent sees SIGTERM"
    );
    t.assert_restored();
}

#[test]
fn sighup_restores_the_terminal() {
    let t = started(100, 30);
    t.signal("HUP");
    assert_eq!(t.wait_exit(), 128 + 1);
    t.assert_restored();
}

#[test]
fn sigint_restores_the_terminal() {
    let t = started(100, 30);
    t.signal("INT");
    assert_eq!(t.wait_exit(), 128 + 2);
    t.assert_restored();
}

#[test]
fn ctrl_z_suspends_and_fg_resumes() {
    let t = Tmux::shell_running(&[], 100, 30);
    t.wait_for("PID");
    t.keys(&["C-z"]);
    t.wait_for("Stopped");
    t.assert_restored();
    t.keys(&["-l", "fg"]);
    t.keys(&["Enter"]);
    t.wait_until("the dashboard to come back", |t| {
        t.format("#{alternate_on}") == "1"
    });
    t.wait_for("1 Host");
    t.keys(&["q"]);
    t.wait_until("the shell to get the terminal back", |t| {
        t.format("#{alternate_on}") == "0"
    });
    t.keys(&["-l", "echo \"[gatewatch exited $?]\""]);
    t.keys(&["Enter"]);
    assert_eq!(t.wait_exit(), 0);
    t.assert_restored();
}

#[test]
fn survives_a_resize_to_10x3_and_back() {
    let t = started(120, 40);
    t.resize(10, 3);
    t.wait_for("too small");
    t.resize(1, 1);
    std::thread::sleep(Duration::from_millis(300));
    t.resize(120, 40);
    t.wait_for("2 Upstreams");
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), 0);
    t.assert_restored();
}

#[test]
fn small_terminal_shows_one_pane_with_tabs() {
    let t = Tmux::start(&[], 40, 12);
    let screen = t.wait_for("1 Host  2 Upstreams");
    assert!(!screen.contains("┌ 2 Upstreams"), "{screen}");
    t.keys(&["2"]);
    t.wait_for("┌ 2 Upstreams");
}

#[test]
fn process_filter_narrows_the_list() {
    let t = started(120, 40);
    t.keys(&["/"]);
    t.wait_for("filter:");
    // Our own process is certainly running; a nonsense string certainly is not.
    t.keys(&["-l", "zzz-no-such-process"]);
    t.wait_for("no process matches the filter");
    t.keys(&["Escape"]);
    t.wait_until("the filter to clear", |t| {
        !t.screen().contains("no process matches")
    });
}

#[test]
fn mouse_is_off_unless_asked_for() {
    let t = started(100, 30);
    assert_eq!(t.format("#{mouse_any_flag}"), "0");
    drop(t);
    let t = Tmux::start(&["--mouse"], 100, 30);
    t.wait_for("PID");
    assert_eq!(t.format("#{mouse_any_flag}"), "1");
    t.keys(&["q"]);
    t.wait_exit();
    assert_eq!(
        t.format("#{mouse_any_flag}"),
        "0",
        "mouse reporting left on after exit"
    );
}

#[test]
fn no_colour_keeps_the_screen_free_of_colour_codes() {
    let t = Tmux::start_with(&[], 100, 30, &[("NO_COLOR", "1")]);
    t.wait_for("PID");
    let ansi = t.screen_ansi();
    // SGR colour parameters: 30-37/90-97 foreground, 40-47/100-107 background, 38;/48; extended.
    let coloured = ansi.split("\x1b[").skip(1).any(|seq| {
        let params = seq.split('m').next().unwrap_or("");
        params.split(';').any(|p| {
            matches!(
                p.parse::<u16>(),
                Ok(30..=38 | 40..=48 | 90..=97 | 100..=107)
            )
        })
    });
    assert!(!coloured, "colour codes with NO_COLOR set:\n{ansi:?}");
}

#[test]
fn a_panic_restores_the_terminal_then_prints_the_message() {
    let t = Tmux::start_with(&[], 100, 30, &[("GATEWATCH_TEST_PANIC", "1")]);
    assert_eq!(t.wait_exit(), 101);
    t.assert_restored();
    let screen = t.screen();
    assert!(
        screen.contains("panicked") && screen.contains("GATEWATCH_TEST_PANIC"),
        "{screen}"
    );
}

#[test]
fn tmux_over_ssh_gets_only_the_16_basic_colours() {
    // What an engineer has in tmux or screen on the proxy host: TERM=screen and no COLORTERM.
    let t = Tmux::start_with(&[], 100, 30, &[("TERM", "screen"), ("COLORTERM", "")]);
    t.wait_for("PID");
    let ansi = t.screen_ansi();
    // crossterm writes even the 16 basic colours as `38;5;N`; what matters is N < 16 and no RGB.
    let mut colours = 0;
    for seq in ansi.split("\x1b[").skip(1) {
        let params: Vec<&str> = seq.split('m').next().unwrap_or("").split(';').collect();
        for (i, p) in params.iter().enumerate() {
            if matches!(*p, "38" | "48") {
                match params.get(i + 1).copied() {
                    Some("5") => {
                        let n: u16 = params
                            .get(i + 2)
                            .and_then(|n| n.parse().ok())
                            .unwrap_or(999);
                        assert!(n < 16, "colour {n} sent to a 16-colour terminal");
                        colours += 1;
                    }
                    Some("2") => panic!("true colour sent to a 16-colour terminal: {seq:?}"),
                    _ => {}
                }
            }
        }
    }
    assert!(colours > 0, "the default theme should still be in colour");
}

/// Quitting while a probe's name lookup hangs on a nameserver that never answers: the lookup runs
/// on a blocking thread of the system resolver, which quitting must not wait for. The nameserver
/// is an address behind a veth pair in a network namespace of the test's own, with a permanent
/// neighbour entry so no ARP failure ends the wait (packets to it just vanish), and resolv.conf is bound over /etc/resolv.conf in a private mount namespace, so the
/// host's own files and network are never touched.
#[test]
fn quits_at_once_while_a_name_lookup_hangs() {
    let unshare = common::require_tool(&["unshare"], "apt-get install -y util-linux");
    common::require_tool(&["ip"], "apt-get install -y iproute2");
    let sandbox = common::Sandbox::new();
    let resolv = sandbox.write(
        "resolv.conf",
        "nameserver 10.9.9.2\noptions timeout:20 attempts:1\n",
    );
    let hosts = sandbox.write("hosts", "127.0.0.1 localhost\n");
    let config = sandbox.write(
        "gatewatch.toml",
        &format!(
            "[[upstream]]\nname = \"app\"\nurl = \"http://app.invalid:8080/\"\ninterval = \"1s\"\n\n\
             [dns]\nresolv-conf = \"{}\"\nhosts-file = \"{}\"\n",
            resolv.display(),
            hosts.display()
        ),
    );
    let setup = "mount --bind \"$0\" /etc/resolv.conf && ip link set lo up && \
                 ip link add v0 type veth peer name v1 && ip addr add 10.9.9.1/24 dev v0 && \
                 ip link set v0 up && ip link set v1 up && \
                 ip neigh add 10.9.9.2 lladdr 02:00:00:00:00:02 dev v0 nud permanent && \
                 exec \"$@\"";
    let wrapper: Vec<String> = vec![
        unshare.display().to_string(),
        "--mount".into(),
        "--propagation".into(),
        "private".into(),
        "--net".into(),
        "sh".into(),
        "-c".into(),
        setup.into(),
        resolv.display().to_string(),
    ];
    let t = Tmux::start_under(
        &wrapper,
        &["--config", config.to_str().expect("utf-8 path")],
        100,
        30,
        &[],
    );
    t.wait_for("PID");
    // The first probe's lookup is in flight now, and would be for 20 s.
    std::thread::sleep(Duration::from_millis(1500));
    let asked = std::time::Instant::now();
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), 0);
    let took = asked.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "quitting took {took:?} while a lookup hung"
    );
    t.assert_restored();
}
