//! Values the app's tests share: a fixed clock, an app, a key press, a host sample.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{App, Effect, Event};
use crate::host::{EphemeralPorts, FileHandles, HostSample, ProcessRow, TcpStates};

pub fn clock() -> jiff::Zoned {
    jiff::Timestamp::from_second(1_800_000_000)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC))
        .unwrap_or_default()
}

pub fn app() -> App {
    App::new(clock(), (120, 40))
}

pub fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
        .1
}

fn proc(pid: u32, cmd: &str, cpu: f32, mem: u64) -> ProcessRow {
    ProcessRow {
        pid,
        user: "www-data".into(),
        cpu,
        mem,
        command: cmd.into(),
    }
}

pub fn sample(load1: f64) -> HostSample {
    HostSample {
        hostname: "proxy-1".into(),
        uptime: Duration::from_secs(3600),
        cores: 2,
        cpu_total: 10.0,
        cpu_per_core: vec![10.0, 10.0],
        load: [load1, 0.5, 0.5],
        mem_used: 1 << 30,
        mem_total: 4 << 30,
        swap_used: 0,
        swap_total: 0,
        processes: vec![
            proc(10, "nginx: master", 0.5, 10 << 20),
            proc(11, "nginx: worker", 30.0, 20 << 20),
            proc(12, "php-fpm: pool www", 5.0, 300 << 20),
        ],
        sockets: Ok(TcpStates::default()),
        ports: Ok(EphemeralPorts {
            low: 32768,
            high: 60999,
            in_use: 10,
            ..Default::default()
        }),
        sockets_age: std::time::Duration::ZERO,
        files: Ok(FileHandles {
            used: 1000,
            max: 100_000,
        }),
    }
}
