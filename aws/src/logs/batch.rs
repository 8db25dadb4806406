//! Cutting the caller's events into PutLogEvents calls CloudWatch accepts.
//!
//! The limits are CloudWatch's (PutLogEvents API reference): at most 10,000 events and 1,048,576
//! bytes per call, counting each message's UTF-8 bytes plus 26; one event at most 256 KiB by the
//! same count; a call spanning less than 24 hours; timestamps non-decreasing within a call. A call
//! that breaks any of them is refused whole, which would wedge a sink on one bad event, so they are
//! enforced here rather than discovered there. Order is the caller's and is never changed.

use std::borrow::Cow;
use std::ops::Range;

use super::LogEvent;

/// Most events in one call.
pub(crate) const MAX_EVENTS: usize = 10_000;
/// Most bytes in one call, counted as CloudWatch does.
pub(crate) const MAX_BATCH_BYTES: usize = 1_048_576;
/// What CloudWatch adds to each message's length when counting.
pub(crate) const EVENT_OVERHEAD: usize = 26;
/// Most bytes of one event, overhead included.
pub(crate) const MAX_EVENT_BYTES: usize = 262_144;
/// A call must span less than this (24 h, in milliseconds).
pub(crate) const MAX_SPAN_MS: i64 = 24 * 60 * 60 * 1000;

/// One event as it will be sent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Prepared<'a> {
    pub timestamp_ms: i64,
    pub message: Cow<'a, str>,
}

impl Prepared<'_> {
    fn size(&self) -> usize {
        self.message.len() + EVENT_OVERHEAD
    }
}

/// Clamps a timestamp that goes backwards to its predecessor's (never reorders: the caller's order
/// is the audit chain's), and cuts a message over the per-event limit at a character boundary.
/// Returns the events and how many were cut.
pub(crate) fn prepare(events: &[LogEvent]) -> (Vec<Prepared<'_>>, usize) {
    let mut truncated = 0;
    let mut previous = i64::MIN;
    let prepared = events
        .iter()
        .map(|event| {
            let timestamp_ms = event.timestamp_ms.max(previous);
            previous = timestamp_ms;
            let message = if event.message.len() + EVENT_OVERHEAD > MAX_EVENT_BYTES {
                truncated += 1;
                let mut end = MAX_EVENT_BYTES - EVENT_OVERHEAD;
                while !event.message.is_char_boundary(end) {
                    end -= 1;
                }
                Cow::Borrowed(&event.message[..end])
            } else {
                Cow::Borrowed(event.message.as_str())
            };
            Prepared {
                timestamp_ms,
                message,
            }
        })
        .collect();
    (prepared, truncated)
}

/// Consecutive ranges of `events`, each one PutLogEvents call within the limits. Expects events
/// from `prepare` (each within the per-event limit, timestamps non-decreasing).
pub(crate) fn split(events: &[Prepared<'_>]) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (index, event) in events.iter().enumerate() {
        let full = index - start == MAX_EVENTS
            || bytes + event.size() > MAX_BATCH_BYTES
            || event
                .timestamp_ms
                .saturating_sub(events[start].timestamp_ms)
                >= MAX_SPAN_MS;
        if full && index > start {
            ranges.push(start..index);
            start = index;
            bytes = 0;
        }
        bytes += event.size();
    }
    if start < events.len() {
        ranges.push(start..events.len());
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(timestamp_ms: i64, message: &str) -> LogEvent {
        LogEvent {
            timestamp_ms,
            message: message.to_owned(),
        }
    }

    #[test]
    fn timestamps_going_backwards_are_clamped_to_their_predecessor_and_order_is_kept() {
        let events = [
            event(10, "a"),
            event(5, "b"),
            event(12, "c"),
            event(11, "d"),
        ];
        let (prepared, truncated) = prepare(&events);
        let got: Vec<_> = prepared
            .iter()
            .map(|e| (e.timestamp_ms, e.message.as_ref()))
            .collect();
        assert_eq!(got, [(10, "a"), (10, "b"), (12, "c"), (12, "d")]);
        assert_eq!(truncated, 0);
    }

    #[test]
    fn more_than_ten_thousand_events_are_split_at_ten_thousand() {
        let events: Vec<_> = (0..25_001).map(|i| event(i, "x")).collect();
        let (prepared, _) = prepare(&events);
        assert_eq!(
            split(&prepared),
            [0..10_000, 10_000..20_000, 20_000..25_001]
        );
    }

    #[test]
    fn batches_never_exceed_one_mebibyte_counting_26_bytes_per_event() {
        // 100 events of 20,000 bytes: 20,026 counted each, so 52 fit in 1,048,576 (52 × 20,026 =
        // 1,041,352; 53 would be 1,061,378).
        let message = "m".repeat(20_000);
        let events: Vec<_> = (0..100).map(|i| event(i, &message)).collect();
        let (prepared, _) = prepare(&events);
        let ranges = split(&prepared);
        assert_eq!(ranges, [0..52, 52..100]);
        for range in ranges {
            let bytes: usize = prepared[range].iter().map(Prepared::size).sum();
            assert!(bytes <= MAX_BATCH_BYTES);
        }
    }

    #[test]
    fn exactly_one_mebibyte_fits_in_one_call() {
        // 4 events of 262,118 bytes: 4 × 262,144 = 1,048,576.
        let message = "m".repeat(MAX_EVENT_BYTES - EVENT_OVERHEAD);
        let events: Vec<_> = (0..5).map(|i| event(i, &message)).collect();
        let (prepared, truncated) = prepare(&events);
        assert_eq!(truncated, 0);
        assert_eq!(split(&prepared), [0..4, 4..5]);
    }

    #[test]
    fn a_call_never_spans_24_hours() {
        let events = [
            event(0, "a"),
            event(MAX_SPAN_MS - 1, "b"),
            event(MAX_SPAN_MS, "c"),
            event(MAX_SPAN_MS + 5, "d"),
        ];
        let (prepared, _) = prepare(&events);
        assert_eq!(split(&prepared), [0..2, 2..4]);
    }

    #[test]
    fn an_oversized_message_is_cut_at_a_character_boundary() {
        // "é" is two bytes, so the limit falls inside a character and the cut moves back one byte.
        let message = format!("a{}", "é".repeat(MAX_EVENT_BYTES));
        let events = [event(1, &message), event(2, "small")];
        let (prepared, truncated) = prepare(&events);
        assert_eq!(truncated, 1);
        assert_eq!(
            prepared[0].message.len(),
            MAX_EVENT_BYTES - EVENT_OVERHEAD - 1
        );
        assert!(message.starts_with(prepared[0].message.as_ref()));
        assert_eq!(prepared[1].message, "small");
    }

    #[test]
    fn no_events_make_no_calls() {
        assert!(split(&[]).is_empty());
    }
}
