//! Per-`Thread` ordering: calls naming one remote thread run one at a time, in arrival
//! order, without dedicating an OS thread to it.
//!
//! libmultiprocess runs each `Thread`'s calls on one OS thread; a queued call may start
//! while the running one is blocked inside an outgoing IPC call (that is what makes
//! client→server→client→server recursion work). A [`Slot`] reproduces that with futures:
//! a call enters when no other call on the slot is *active*; a call that is waiting on an
//! outgoing IPC call is *suspended* and does not count as active.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use tokio::sync::oneshot;

#[derive(Default)]
struct SlotState {
    active: usize,
    waiting: VecDeque<oneshot::Sender<()>>,
    /// Calls accepted and not yet finished (active, suspended or queued); for pool balancing.
    load: usize,
}

/// Ordering gate of one hosted `Thread` (or one pool worker).
#[derive(Default)]
pub(crate) struct Slot {
    state: RefCell<SlotState>,
}

/// A call waiting for its turn. Dropped before its turn came, it only leaves the queue
/// (its sender then fails and the releaser skips it); dropped after its turn was handed
/// to it but before it ran, it hands the turn on.
struct Waiting {
    slot: Rc<Slot>,
    rx: Option<oneshot::Receiver<()>>,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let Some(mut rx) = self.rx.take() else { return };
        {
            let mut st = self.slot.state.borrow_mut();
            st.load = st.load.saturating_sub(1);
        }
        if rx.try_recv().is_ok() {
            self.slot.release_one();
        }
    }
}

/// Held while a call runs on a slot; releasing it lets the next queued call in.
pub(crate) struct SlotGuard {
    slot: Rc<Slot>,
    suspended: bool,
}

impl Slot {
    pub(crate) fn new() -> Rc<Slot> {
        Rc::new(Slot::default())
    }

    /// Number of calls accepted and not yet finished.
    pub(crate) fn load(&self) -> usize {
        self.state.borrow().load
    }

    /// Waits for this call's turn (FIFO) and marks it active. Cancelling the wait (the
    /// call's future dropped) gives up its place; the calls behind it keep their order
    /// and still wait for the running call.
    pub(crate) async fn enter(self: &Rc<Self>) -> SlotGuard {
        let rx = {
            let mut st = self.state.borrow_mut();
            st.load += 1;
            if st.active == 0 && st.waiting.is_empty() {
                st.active = 1;
                None
            } else {
                let (tx, rx) = oneshot::channel();
                st.waiting.push_back(tx);
                Some(rx)
            }
        };
        if let Some(rx) = rx {
            let mut waiting = Waiting {
                slot: self.clone(),
                rx: Some(rx),
            };
            // The releaser counts us active before waking us (hand-over keeps FIFO order).
            let rx = waiting.rx.as_mut().expect("set above");
            if rx.await.is_err() {
                // Cannot happen while the slot is alive; treat as entered anyway.
                self.state.borrow_mut().active += 1;
            }
            waiting.rx = None;
            drop(waiting);
        }
        SlotGuard {
            slot: self.clone(),
            suspended: false,
        }
    }

    /// Marks one active call inactive and, if nothing else is active, hands the slot on.
    fn release_one(&self) {
        let mut st = self.state.borrow_mut();
        st.active = st.active.saturating_sub(1);
        while st.active == 0 {
            match st.waiting.pop_front() {
                Some(tx) => {
                    st.active = 1;
                    if tx.send(()).is_err() {
                        // That waiter was cancelled (its call dropped); try the next.
                        st.active = 0;
                    }
                }
                None => break,
            }
        }
    }
}

impl SlotGuard {
    /// The call is about to wait on an outgoing IPC call: let queued calls run meanwhile.
    pub(crate) fn suspend(&mut self) {
        if !self.suspended {
            self.suspended = true;
            self.slot.release_one();
        }
    }

    /// The outgoing call returned; the call is active again.
    pub(crate) fn resume(&mut self) {
        if self.suspended {
            self.suspended = false;
            self.slot.state.borrow_mut().active += 1;
        }
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        {
            let mut st = self.slot.state.borrow_mut();
            st.load = st.load.saturating_sub(1);
        }
        if !self.suspended {
            self.slot.release_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_cancelled_waiter_does_not_let_the_next_call_run_beside_the_running_one() {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let slot = Slot::new();
                let a = slot.enter().await;
                let entered = Rc::new(RefCell::new(Vec::new()));
                // B queues behind A, then is cancelled (capnp-rpc drops it on Finish).
                let b = {
                    let (slot, entered) = (slot.clone(), entered.clone());
                    tokio::task::spawn_local(async move {
                        let _g = slot.enter().await;
                        entered.borrow_mut().push("b");
                    })
                };
                tokio::task::yield_now().await;
                // C queues behind B.
                let c = {
                    let (slot, entered) = (slot.clone(), entered.clone());
                    tokio::task::spawn_local(async move {
                        let _g = slot.enter().await;
                        entered.borrow_mut().push("c");
                    })
                };
                tokio::task::yield_now().await;
                b.abort();
                for _ in 0..5 {
                    tokio::task::yield_now().await;
                }
                assert!(
                    entered.borrow().is_empty(),
                    "C ran while A still held the thread: {:?}",
                    entered.borrow()
                );
                drop(a);
                c.await.unwrap();
                assert_eq!(*entered.borrow(), vec!["c"]);
                assert_eq!(slot.load(), 0);
            })
            .await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_waiter_cancelled_right_after_its_turn_came_hands_the_slot_on() {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let slot = Slot::new();
                let a = slot.enter().await;
                let b = {
                    let slot = slot.clone();
                    tokio::task::spawn_local(async move {
                        let _g = slot.enter().await;
                        std::future::pending::<()>().await;
                    })
                };
                tokio::task::yield_now().await;
                // A leaves (B is handed the turn), and B is cancelled before it runs.
                drop(a);
                b.abort();
                tokio::task::yield_now().await;
                let entered =
                    tokio::time::timeout(std::time::Duration::from_secs(1), slot.enter()).await;
                assert!(
                    entered.is_ok(),
                    "the slot stayed taken by a cancelled waiter"
                );
            })
            .await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn fifo_and_suspend() {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let slot = Slot::new();
                let log = Rc::new(RefCell::new(Vec::new()));
                let mut first = slot.enter().await;
                let mut handles = Vec::new();
                for i in 0..3 {
                    let (slot, log) = (slot.clone(), log.clone());
                    handles.push(tokio::task::spawn_local(async move {
                        let _g = slot.enter().await;
                        log.borrow_mut().push(i);
                        tokio::task::yield_now().await;
                    }));
                    tokio::task::yield_now().await;
                }
                tokio::task::yield_now().await;
                assert!(log.borrow().is_empty(), "queued calls must wait");
                // Suspending the first call lets the queued ones run, in order.
                first.suspend();
                for h in handles {
                    h.await.unwrap();
                }
                assert_eq!(*log.borrow(), vec![0, 1, 2]);
                first.resume();
                assert_eq!(slot.load(), 1);
                drop(first);
                assert_eq!(slot.load(), 0);
            })
            .await;
    }
}
