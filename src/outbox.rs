//! A collector's typed end of the app's one channel: it sends its own result type, the app's
//! `From` impls wrap it into the app's event, and every collector gets the same rule for a full
//! channel. That rule: wait (back-pressure), never drop a result; a closed channel stops the
//! collector. The engine never names the app's event type, so it stays free of the UI.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use tokio::sync::mpsc::Sender;

/// The receiving end is gone: the collector has no one to work for and should end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the receiver is gone")]
pub struct Closed;

pub struct Outbox<T> {
    sink: Arc<dyn Sink<T>>,
}

impl<T: Send + 'static> Outbox<T> {
    /// Sends into `tx`, wrapping each result with `E`'s `From` impl.
    pub fn new<E: From<T> + Send + 'static>(tx: Sender<E>) -> Self {
        Self::with(tx, E::from)
    }

    /// Sends into `tx`, wrapping each result with `wrap`: for when one result type travels as
    /// two kinds of event (an upstream's probe and the gateway's).
    pub fn with<E: Send + 'static>(tx: Sender<E>, wrap: fn(T) -> E) -> Self {
        Outbox {
            sink: Arc::new(Wrapping { tx, wrap }),
        }
    }

    /// Sends from a collector's own OS thread, blocking while the channel is full. Never call it
    /// on a runtime thread (tokio panics rather than stall its runtime): use [`Outbox::send`].
    pub fn blocking_send(&self, item: T) -> Result<(), Closed> {
        self.sink.blocking_send(item)
    }

    /// Sends from a task, waiting while the channel is full.
    pub async fn send(&self, item: T) -> Result<(), Closed> {
        self.sink.send(item).await
    }

    pub fn is_closed(&self) -> bool {
        self.sink.is_closed()
    }
}

impl<T> Clone for Outbox<T> {
    fn clone(&self) -> Self {
        Outbox {
            sink: Arc::clone(&self.sink),
        }
    }
}

/// Hides the event type `E` behind `Outbox<T>`, so collectors need no type parameter for it.
trait Sink<T>: Send + Sync {
    fn blocking_send(&self, item: T) -> Result<(), Closed>;
    fn send(&self, item: T) -> BoxFuture<'_, Result<(), Closed>>;
    fn is_closed(&self) -> bool;
}

struct Wrapping<T, E> {
    tx: Sender<E>,
    wrap: fn(T) -> E,
}

impl<T: Send + 'static, E: Send + 'static> Sink<T> for Wrapping<T, E> {
    fn blocking_send(&self, item: T) -> Result<(), Closed> {
        self.tx.blocking_send((self.wrap)(item)).map_err(|_| Closed)
    }

    fn send(&self, item: T) -> BoxFuture<'_, Result<(), Closed>> {
        let event = (self.wrap)(item);
        Box::pin(async move { self.tx.send(event).await.map_err(|_| Closed) })
    }

    fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// For tests on a plain thread: the next item within `within`, polling; `None` when none came
/// (or the channel closed).
#[cfg(test)]
pub(crate) fn recv_within<T>(
    rx: &mut tokio::sync::mpsc::Receiver<T>,
    within: std::time::Duration,
) -> Option<T> {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if let Ok(item) = rx.try_recv() {
            return Some(item);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;
    use std::time::Duration;
    use tokio::sync::mpsc;

    #[derive(Debug, PartialEq)]
    enum Event {
        Number(u32),
        Other(u32),
    }

    impl From<u32> for Event {
        fn from(n: u32) -> Self {
            Event::Number(n)
        }
    }

    #[test]
    fn a_full_channel_makes_a_thread_wait_and_loses_nothing() {
        let (tx, mut rx) = mpsc::channel::<Event>(2);
        let outbox = Outbox::<u32>::new(tx);
        let producer = thread::spawn(move || (0..50).all(|n| outbox.blocking_send(n).is_ok()));
        let mut got = Vec::new();
        while let Some(event) = rx.blocking_recv() {
            thread::sleep(Duration::from_millis(2));
            got.push(event);
        }
        assert!(producer.join().unwrap());
        assert_eq!(got, (0..50).map(Event::Number).collect::<Vec<_>>());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_full_channel_makes_a_task_wait_and_loses_nothing() {
        let (tx, mut rx) = mpsc::channel::<Event>(2);
        let outbox = Outbox::<u32>::with(tx, Event::Other);
        let producer = tokio::spawn(async move {
            for n in 0..50 {
                outbox.send(n).await.unwrap();
            }
        });
        let mut got = Vec::new();
        while let Some(event) = rx.recv().await {
            tokio::time::sleep(Duration::from_millis(1)).await;
            got.push(event);
        }
        producer.await.unwrap();
        assert_eq!(got, (0..50).map(Event::Other).collect::<Vec<_>>());
    }

    #[test]
    fn a_closed_channel_is_an_error() {
        let (tx, rx) = mpsc::channel::<Event>(2);
        let outbox = Outbox::<u32>::new(tx);
        assert!(!outbox.is_closed());
        drop(rx);
        assert!(outbox.is_closed());
        assert_eq!(outbox.blocking_send(1), Err(Closed));
    }
}
