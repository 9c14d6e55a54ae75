//! Container lifecycle events from the engine's event stream: what changed, when, with the exit
//! code of a death. Only the actions a 502 hunt needs are kept.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{EventMessage, EventMessageTypeEnum};
use bollard::query_parameters::EventsOptions;
use futures_util::{Stream, StreamExt};

use super::engine::{CALL_TIMEOUT, Engine, EngineError};
use super::info::{clean, is_engine_id};

/// Events one bounded poll returns at most (the oldest kept).
pub const MAX_EVENTS: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerEvent {
    /// Unix seconds.
    pub at: i64,
    /// The container's name (its short id when the event does not say).
    pub container: String,
    /// The container's full id.
    pub id: String,
    pub action: ContainerAction,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContainerAction {
    Start,
    Stop,
    /// The main process ended; None when the engine did not say how.
    Die {
        exit_code: Option<i64>,
    },
    /// The kernel's OOM killer hit a process in the container.
    Oom,
    Restart,
    /// The health status it changed to ("healthy", "unhealthy", "starting").
    Health(String),
}

impl ContainerEvent {
    /// The kept view of one raw event; None for other types and actions, or a bad id.
    pub(crate) fn from_message(raw: EventMessage) -> Option<Self> {
        if raw
            .typ
            .is_some_and(|t| t != EventMessageTypeEnum::CONTAINER)
        {
            return None;
        }
        let actor = raw.actor?;
        let id = actor.id.filter(|id| is_engine_id(id))?;
        let attributes = actor.attributes.unwrap_or_default();
        let action = ContainerAction::parse(raw.action.as_deref()?, &attributes)?;
        let container = match attributes.get("name") {
            Some(name) if !name.is_empty() => clean(name),
            _ => id.chars().take(12).collect(),
        };
        let at = raw
            .time
            .or_else(|| raw.time_nano.map(|ns| ns.div_euclid(1_000_000_000)))?;
        Some(ContainerEvent {
            at,
            container,
            id,
            action,
        })
    }
}

impl ContainerAction {
    fn parse(action: &str, attributes: &HashMap<String, String>) -> Option<Self> {
        // "health_status: healthy"; exec events look alike ("exec_start: sh -c ...") and are not ours.
        if let Some(status) = action.strip_prefix("health_status:") {
            return Some(ContainerAction::Health(clean(status.trim())));
        }
        match action {
            "start" => Some(ContainerAction::Start),
            "stop" => Some(ContainerAction::Stop),
            "die" => Some(ContainerAction::Die {
                exit_code: attributes.get("exitCode").and_then(|c| c.parse().ok()),
            }),
            "oom" => Some(ContainerAction::Oom),
            "restart" => Some(ContainerAction::Restart),
            _ => None,
        }
    }
}

fn options(since: i64, until: Option<i64>) -> EventsOptions {
    EventsOptions {
        since: Some(since.to_string()),
        until: until.map(|u| u.to_string()),
        filters: Some(HashMap::from([(
            "type".to_string(),
            vec!["container".to_string()],
        )])),
    }
}

impl Engine {
    /// Container events from `since` (unix seconds) on, then live ones as they happen. The stream
    /// ends with the connection; an error is its last item.
    pub fn events(
        &self,
        since_unix: i64,
    ) -> impl Stream<Item = Result<ContainerEvent, EngineError>> + Send + 'static {
        let engine = self.clone();
        self.docker
            .events(Some(options(since_unix, None)))
            .filter_map(move |item| {
                let kept = match item {
                    Ok(raw) => ContainerEvent::from_message(raw).map(Ok),
                    Err(e) => Some(Err(engine.api_error("events", &e))),
                };
                std::future::ready(kept)
            })
    }

    /// Container events in `[since, until]` (unix seconds), oldest first, at most [`MAX_EVENTS`].
    /// The engine holds the answer until `until` has passed, so a future `until` waits for it.
    pub async fn events_between(
        &self,
        since_unix: i64,
        until_unix: i64,
    ) -> Result<Vec<ContainerEvent>, EngineError> {
        let now = jiff::Timestamp::now().as_second();
        let wait = u64::try_from(until_unix.saturating_sub(now)).unwrap_or(0);
        let deadline = CALL_TIMEOUT + Duration::from_secs(wait);
        let stream = self
            .docker
            .events(Some(options(since_unix, Some(until_unix))));
        let collect = async {
            let mut kept = Vec::new();
            let mut stream = std::pin::pin!(stream);
            while let Some(item) = stream.next().await {
                if let Some(event) = ContainerEvent::from_message(item?) {
                    if kept.len() == MAX_EVENTS {
                        break;
                    }
                    kept.push(event);
                }
            }
            Ok(kept)
        };
        self.call_within("events", deadline, collect).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::EventActor;

    fn message(action: &str, attributes: &[(&str, &str)]) -> EventMessage {
        EventMessage {
            typ: Some(EventMessageTypeEnum::CONTAINER),
            action: Some(action.into()),
            actor: Some(EventActor {
                id: Some("4f2a9c0d1e3b5a6c7d8e9f00".into()),
                attributes: Some(
                    attributes
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
            }),
            time: Some(1_790_000_000),
            ..Default::default()
        }
    }

    #[test]
    fn the_actions_a_502_hunt_needs_are_kept() {
        let die =
            ContainerEvent::from_message(message("die", &[("name", "app"), ("exitCode", "137")]))
                .expect("die");
        assert_eq!(
            die.action,
            ContainerAction::Die {
                exit_code: Some(137)
            }
        );
        assert_eq!((die.at, die.container.as_str()), (1_790_000_000, "app"));
        let health =
            ContainerEvent::from_message(message("health_status: unhealthy", &[])).expect("health");
        assert_eq!(health.action, ContainerAction::Health("unhealthy".into()));
        assert_eq!(
            health.container, "4f2a9c0d1e3b",
            "the short id without a name"
        );
        for ignored in ["create", "exec_start: sh -c id", "attach", "kill"] {
            assert_eq!(
                ContainerEvent::from_message(message(ignored, &[])),
                None,
                "{ignored}"
            );
        }
    }

    #[test]
    fn hostile_attributes_are_sanitised() {
        let event = ContainerEvent::from_message(message(
            "health_status: \x1b[31mhealthy\u{9b}",
            &[("name", "we\x1b]0;x\x07b"), ("exitCode", "\x1b")],
        ))
        .expect("health");
        assert_eq!(event.container, "we\\x1b]0;x\\x07b");
        assert_eq!(
            event.action,
            ContainerAction::Health("\\x1b[31mhealthy\\u{9b}".into())
        );
        let die =
            ContainerEvent::from_message(message("die", &[("exitCode", "\x1b")])).expect("die");
        assert_eq!(die.action, ContainerAction::Die { exit_code: None });
        let mut bad_id = message("start", &[]);
        bad_id.actor.as_mut().expect("actor").id = Some("../x".into());
        assert_eq!(ContainerEvent::from_message(bad_id), None);
        let mut image = message("start", &[]);
        image.typ = Some(EventMessageTypeEnum::IMAGE);
        assert_eq!(ContainerEvent::from_message(image), None);
    }
}
