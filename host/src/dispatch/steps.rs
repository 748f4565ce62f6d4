//! The per-endpoint loop as a state machine: given what the last step
//! observed, [`Steps::next`] says what to do next. It makes no calls and
//! reads no clock, so unit and property tests drive it directly;
//! `deliver::drain` carries its actions out against the store, the
//! plugins and the network (and ends at once when a store call fails).

use std::time::Duration;

/// What a drain on a shared store does when the queue looks empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenEmpty {
    /// Keep the lease and end [`Finish::Idle`]: an endpoint that gets
    /// events often does not take and give up its lease for each one
    /// (new work wakes the actor; the actor comes back to release).
    Linger,
    /// Give the lease up (refused atomically if work is queued).
    Release,
}

/// How a drain ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Nothing queued; the lease (if any) is given up.
    Empty,
    /// Nothing queued as far as this instance knows; it keeps the lease a
    /// while (see [`WhenEmpty`]).
    Idle,
    /// Endpoint deleted or disabled, provider off, or shutting down.
    Stop,
    /// Another instance holds the endpoint's lease and delivers it.
    NotOwner,
    /// The next delivery is due after this wait.
    WaitFor(Duration),
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Take or keep the endpoint's lease.
    Claim,
    /// Give the lease up unless work is queued.
    Release,
    /// Read the endpoint and its oldest queued deliveries.
    ReadWindow,
    /// Deliver the window just read.
    Deliver,
    /// Stop here.
    Finish(Finish),
}

/// What the window read found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The endpoint no longer exists.
    Gone,
    /// It exists but must not send now (disabled, or its provider is off).
    Paused,
    /// Nothing queued.
    Empty,
    /// Deliveries are queued; `full` when the read was cut at its limit.
    Work {
        /// The window held as many deliveries as one read takes.
        full: bool,
    },
}

/// How a round of deliveries ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// Delivered or scheduled something: look at the queue again.
    Progressed,
    /// The endpoint changed since it was read: read it again first.
    Changed,
    /// The endpoint was disabled during the round.
    Disabled,
    /// Nothing was due; the earliest is due after this wait.
    NothingDue(Duration),
    /// Another instance took the lease.
    LeaseLost,
}

/// What the last step observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// The host is shutting down (checked before every step).
    Draining,
    /// The claim's answer.
    Claimed(bool),
    /// The release's answer (false: work is queued, the lease is kept).
    Released(bool),
    /// The window read.
    Read(Window),
    /// The round's result.
    Delivered(Round),
}

/// The loop's state between steps.
#[derive(Debug, Clone)]
pub struct Steps {
    /// Keep the lease when the queue looks empty.
    linger: bool,
    /// The last round delivered a window that was not full: the queue is
    /// probably empty, so try to give the lease up (or linger) before
    /// reading it again.
    probably_empty: bool,
}

impl Steps {
    /// A drain's first state. `lease_linger_is_zero`: leases are not
    /// remote, so there is nothing to keep.
    pub fn new(when_empty: WhenEmpty, lease_linger_is_zero: bool) -> Self {
        Self {
            linger: when_empty == WhenEmpty::Linger && !lease_linger_is_zero,
            probably_empty: when_empty == WhenEmpty::Release,
        }
    }

    /// The first step.
    pub fn first(&self) -> Step {
        Step::Claim
    }

    /// The step after `observed`.
    pub fn next(&mut self, observed: Observed) -> Step {
        match observed {
            Observed::Draining => Step::Finish(Finish::Stop),
            Observed::Claimed(false) => Step::Finish(Finish::NotOwner),
            Observed::Claimed(true) if std::mem::take(&mut self.probably_empty) => {
                self.when_empty()
            }
            Observed::Claimed(true) => Step::ReadWindow,
            Observed::Released(true) => Step::Finish(Finish::Empty),
            Observed::Released(false) => Step::Claim,
            Observed::Read(Window::Gone | Window::Paused) => Step::Finish(Finish::Stop),
            Observed::Read(Window::Empty) => self.when_empty(),
            Observed::Read(Window::Work { .. }) => Step::Deliver,
            Observed::Delivered(round) => self.after_round(round),
        }
    }

    /// The window that was delivered, for [`Round::Progressed`]: whether it
    /// was full decides whether the queue is probably empty now.
    pub fn delivered_window(&mut self, window: Window) {
        self.probably_empty = matches!(window, Window::Work { full: false });
    }

    fn when_empty(&self) -> Step {
        if self.linger {
            Step::Finish(Finish::Idle)
        } else {
            Step::Release
        }
    }

    fn after_round(&mut self, round: Round) -> Step {
        match round {
            Round::Progressed => Step::Claim,
            Round::Changed => {
                self.probably_empty = false;
                Step::Claim
            }
            Round::Disabled => Step::Finish(Finish::Stop),
            Round::NothingDue(wait) => Step::Finish(Finish::WaitFor(wait)),
            Round::LeaseLost => Step::Finish(Finish::NotOwner),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the machine over `observations`, returning every step.
    fn run(mut steps: Steps, observations: &[Observed]) -> Vec<Step> {
        let mut out = vec![steps.first()];
        for observed in observations {
            out.push(steps.next(*observed));
        }
        out
    }

    #[test]
    fn a_window_is_delivered_then_the_empty_queue_releases() {
        let mut steps = Steps::new(WhenEmpty::Linger, true);
        assert_eq!(steps.first(), Step::Claim);
        assert_eq!(steps.next(Observed::Claimed(true)), Step::ReadWindow);
        let window = Window::Work { full: false };
        assert_eq!(steps.next(Observed::Read(window)), Step::Deliver);
        steps.delivered_window(window);
        assert_eq!(
            steps.next(Observed::Delivered(Round::Progressed)),
            Step::Claim
        );
        // Not full: give the lease up before reading again.
        assert_eq!(steps.next(Observed::Claimed(true)), Step::Release);
        assert_eq!(
            steps.next(Observed::Released(true)),
            Step::Finish(Finish::Empty)
        );
    }

    #[test]
    fn a_full_window_reads_again_without_releasing() {
        let mut steps = Steps::new(WhenEmpty::Linger, true);
        steps.next(Observed::Claimed(true));
        let window = Window::Work { full: true };
        steps.next(Observed::Read(window));
        steps.delivered_window(window);
        steps.next(Observed::Delivered(Round::Progressed));
        assert_eq!(steps.next(Observed::Claimed(true)), Step::ReadWindow);
    }

    #[test]
    fn remote_leases_linger_when_the_queue_looks_empty() {
        let steps = Steps::new(WhenEmpty::Linger, false);
        assert_eq!(
            run(
                steps,
                &[Observed::Claimed(true), Observed::Read(Window::Empty)]
            ),
            [Step::Claim, Step::ReadWindow, Step::Finish(Finish::Idle)]
        );
        // Coming back after lingering: try to release first.
        let steps = Steps::new(WhenEmpty::Release, false);
        assert_eq!(
            run(steps, &[Observed::Claimed(true), Observed::Released(false)]),
            [Step::Claim, Step::Release, Step::Claim]
        );
    }

    #[test]
    fn a_change_reads_the_endpoint_again_before_the_next_attempt() {
        let mut steps = Steps::new(WhenEmpty::Linger, true);
        steps.next(Observed::Claimed(true));
        steps.next(Observed::Read(Window::Work { full: false }));
        steps.delivered_window(Window::Work { full: false });
        assert_eq!(steps.next(Observed::Delivered(Round::Changed)), Step::Claim);
        assert_eq!(steps.next(Observed::Claimed(true)), Step::ReadWindow);
        assert_eq!(
            steps.next(Observed::Read(Window::Gone)),
            Step::Finish(Finish::Stop)
        );
    }

    #[test]
    fn endings() {
        let ends = [
            (Observed::Draining, Finish::Stop),
            (Observed::Claimed(false), Finish::NotOwner),
            (Observed::Read(Window::Paused), Finish::Stop),
            (Observed::Delivered(Round::Disabled), Finish::Stop),
            (Observed::Delivered(Round::LeaseLost), Finish::NotOwner),
            (
                Observed::Delivered(Round::NothingDue(Duration::from_secs(5))),
                Finish::WaitFor(Duration::from_secs(5)),
            ),
        ];
        for (observed, finish) in ends {
            let mut steps = Steps::new(WhenEmpty::Linger, true);
            assert_eq!(steps.next(observed), Step::Finish(finish), "{observed:?}");
        }
    }

    /// Property: from any state, any sequence of observations ends (a
    /// `Finish`) within a bounded number of steps unless the observations
    /// keep reporting progress; and `Claimed(false)` always ends as
    /// `NotOwner`, `Draining` as `Stop`.
    #[test]
    fn every_sequence_is_answered_and_ownership_is_respected() {
        let all = [
            Observed::Claimed(true),
            Observed::Claimed(false),
            Observed::Released(true),
            Observed::Released(false),
            Observed::Read(Window::Gone),
            Observed::Read(Window::Paused),
            Observed::Read(Window::Empty),
            Observed::Read(Window::Work { full: true }),
            Observed::Read(Window::Work { full: false }),
            Observed::Delivered(Round::Progressed),
            Observed::Delivered(Round::Changed),
            Observed::Delivered(Round::Disabled),
            Observed::Delivered(Round::LeaseLost),
            Observed::Delivered(Round::NothingDue(Duration::ZERO)),
            Observed::Draining,
        ];
        // Every sequence of three observations, from each starting mode.
        for when_empty in [WhenEmpty::Linger, WhenEmpty::Release] {
            for zero in [true, false] {
                for a in all {
                    for b in all {
                        for c in all {
                            let mut steps = Steps::new(when_empty, zero);
                            for observed in [a, b, c] {
                                let step = steps.next(observed);
                                match observed {
                                    Observed::Claimed(false) => {
                                        assert_eq!(step, Step::Finish(Finish::NotOwner))
                                    }
                                    Observed::Draining => {
                                        assert_eq!(step, Step::Finish(Finish::Stop))
                                    }
                                    Observed::Read(Window::Work { .. }) => {
                                        assert_eq!(step, Step::Deliver)
                                    }
                                    _ => {}
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
