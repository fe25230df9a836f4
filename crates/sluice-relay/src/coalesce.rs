//! Merging queued content deltas, for clients that read slower than the provider writes.
//!
//! A chunk can merge with the next one when the two differ only in the text they append: the
//! delta's `content`, `reasoning_content`, `reasoning` and `refusal` strings and each tool
//! call's `function.arguments` fragment. Everything else (ids, model, the choice index, tool-call
//! ids and names, `usage: null`, vendor fields) must be equal, so merging loses nothing but
//! chunk boundaries. Which chunks may merge at all is `sluice_openai::chunk`'s call
//! ([`ChunkSummary::mergeable`]): chunks with a finish reason, a usage, an error, several choices
//! or per-chunk data such as logprobs never merge, so they stay in place and in order.
//!
//! **Cost.** Merging must cost less than relaying the delta would, so it works on bytes: the
//! relay's one read of a chunk already found where its text values sit ([`Holes`]), and two
//! deltas merge when the bytes *between* their text values are equal. The merged text grows by
//! appending each new delta's escaped string contents as they are (escapes concatenate;
//! nothing is decoded or re-encoded), so a merge costs the size of the delta merged, never of
//! the text already merged; the merged chunk is written out once, when the client takes it. A
//! delta whose payload the client's encoder rewrote is read again, once, if it comes to
//! merging.
//!
//! The queue holds [`Item`]s and asks [`make_room`] when it is full; it knows nothing of what
//! merges.

use std::collections::VecDeque;
use std::ops::Range;

use bytes::{Bytes, BytesMut};
use sluice_openai::chunk::{self, ChunkSummary, TextKind};
use sluice_openai::encode::DATA_PREFIX;

/// What a queued frame carries, as far as the queue and merging care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// Anything without content: role chunks, finish and usage chunks, comments, errors.
    Other,
    /// A chunk with content that must stay as it is.
    Content,
    /// A plain content delta on one line (`data: {..}\n\n`) that may merge with its
    /// neighbours, with the places of its text values when the relay knows them.
    Delta(Option<Holes>),
}

/// Delta text values whose places a frame carries; a delta with more is read again to merge.
pub const MAX_HOLES: usize = 4;

/// Where the mergeable text values of a delta frame sit, inside their quotes, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holes {
    at: [(u16, u16); MAX_HOLES],
    len: u8,
    /// Bit `i` set: hole `i` is padding (OpenAI's `obfuscation`), which keeps the first
    /// delta's value instead of growing.
    padding: u8,
}

impl Holes {
    /// The holes of a frame holding `summary`'s payload unchanged from byte `offset` on; `None`
    /// when the chunk may not merge, or its holes do not fit.
    pub fn of(summary: &ChunkSummary, offset: usize) -> Option<Holes> {
        if !summary.mergeable {
            return None;
        }
        let mut holes = Holes {
            at: [(0, 0); MAX_HOLES],
            len: 0,
            padding: 0,
        };
        // Tool-call names identify their calls: they stay in the envelope, which must match.
        for span in summary
            .texts
            .spans()
            .iter()
            .filter(|s| s.kind != TextKind::ToolName)
        {
            let range = span.range();
            let slot = holes.at.get_mut(usize::from(holes.len))?;
            *slot = (
                u16::try_from(range.start + offset).ok()?,
                u16::try_from(range.end + offset).ok()?,
            );
            if span.kind == TextKind::Padding {
                holes.padding |= 1 << holes.len;
            }
            holes.len += 1;
        }
        Some(holes)
    }

    fn len(&self) -> usize {
        usize::from(self.len)
    }

    fn get(&self, i: usize) -> Range<usize> {
        let (start, end) = self.at[i];
        usize::from(start)..usize::from(end)
    }

    fn is_padding(&self, i: usize) -> bool {
        self.padding & (1 << i) != 0
    }

    fn iter(&self) -> impl Iterator<Item = Range<usize>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// One queued frame: bytes ready for the socket, or deltas merged while the client was behind.
#[derive(Debug)]
pub(crate) enum Item {
    Frame {
        bytes: Bytes,
        kind: FrameKind,
    },
    /// A delta read for merging (one chunk or several).
    Merged(Box<Merged>),
}

impl Item {
    pub fn is_mergeable(&self) -> bool {
        matches!(
            self,
            Item::Frame {
                kind: FrameKind::Delta(_),
                ..
            } | Item::Merged(_)
        )
    }

    pub fn has_content(&self) -> bool {
        !matches!(
            self,
            Item::Frame {
                kind: FrameKind::Other,
                ..
            }
        )
    }

    /// About how many bytes it takes on the wire.
    pub fn len_hint(&self) -> usize {
        match self {
            Item::Frame { bytes, .. } => bytes.len(),
            Item::Merged(m) => m.len(),
        }
    }

    /// Its bytes for the socket.
    pub fn into_bytes(self) -> Bytes {
        match self {
            Item::Frame { bytes, .. } => bytes,
            Item::Merged(m) => m.into_bytes(),
        }
    }

    /// Appends its bytes for the socket to `out`.
    pub fn write_to(self, out: &mut BytesMut) {
        match self {
            Item::Frame { bytes, .. } => out.extend_from_slice(&bytes),
            Item::Merged(m) => m.write_to(out),
        }
    }

    /// The merge view of a mergeable item, made the first time it is asked for. A delta that
    /// turns out not to merge becomes `Content`, so it is never read again.
    fn merged(&mut self) -> Option<&mut Merged> {
        if let Item::Frame { bytes, kind } = self {
            if let FrameKind::Delta(holes) = *kind {
                match Merged::of(bytes.clone(), holes) {
                    Some(m) => *self = Item::Merged(Box::new(m)),
                    None => *kind = FrameKind::Content,
                }
            }
        }
        match self {
            Item::Merged(m) => Some(m),
            Item::Frame { .. } => None,
        }
    }
}

/// How a full queue made room for a frame.
#[derive(Debug)]
pub(crate) enum Room {
    /// The frame was merged into the last queued delta.
    Absorbed,
    /// Two neighbouring queued deltas (`merged` provider chunks in the second) became one,
    /// freeing a place for the frame, which the caller queues.
    Freed { merged: u64, frame: Bytes },
}

/// Makes room in a full queue: merges `frame` into the last queued delta, or else the latest
/// pair of neighbouring queued deltas that can merge. Hands the frame back if neither works.
pub(crate) fn make_room(
    items: &mut VecDeque<Item>,
    frame: Bytes,
    kind: FrameKind,
) -> Result<Room, Bytes> {
    if let FrameKind::Delta(holes) = kind {
        if let Some(last) = items.back_mut().and_then(Item::merged) {
            match Merged::of(frame.clone(), holes) {
                Some(next) if last.try_append(&next) => return Ok(Room::Absorbed),
                _ => {}
            }
        }
    }
    for i in (1..items.len()).rev() {
        if !(items[i - 1].is_mergeable() && items[i].is_mergeable()) {
            continue;
        }
        let (front, back) = items.make_contiguous().split_at_mut(i);
        let (Some(first), Some(second)) = (front[i - 1].merged(), back[0].merged()) else {
            continue;
        };
        if first.try_append(second) {
            let merged = u64::from(second.chunks);
            items.remove(i);
            return Ok(Room::Freed { merged, frame });
        }
    }
    Err(frame)
}

/// A content delta ready to merge: its first frame, the places of its text values in it, and
/// each value's text so far (the escaped contents of the JSON strings, concatenated).
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    template: Bytes,
    holes: Holes,
    /// The text of each hole so far; empty while it is still the template's own (an empty
    /// text that grew by nothing is the same text).
    texts: [Vec<u8>; MAX_HOLES],
    /// How many provider chunks this holds.
    chunks: u32,
}

impl Merged {
    /// A delta frame whose holes are known (from the relay's read of the chunk).
    pub fn new(frame: Bytes, holes: Holes) -> Merged {
        Merged {
            template: frame,
            holes,
            texts: Default::default(),
            chunks: 1,
        }
    }

    /// Reads a delta frame (`data: {..}\n\n`) whose holes are not known; `None` when it must
    /// not merge.
    pub fn read(frame: Bytes) -> Option<Merged> {
        let payload = frame.strip_prefix(DATA_PREFIX)?.strip_suffix(b"\n\n")?;
        if memchr_newline(payload) {
            return None;
        }
        let summary = chunk::inspect(payload).ok()?;
        let holes = Holes::of(&summary, DATA_PREFIX.len())?;
        Some(Merged::new(frame, holes))
    }

    fn of(frame: Bytes, holes: Option<Holes>) -> Option<Merged> {
        match holes {
            Some(holes) => Some(Merged::new(frame, holes)),
            None => Merged::read(frame),
        }
    }

    /// How many provider chunks this holds.
    pub fn chunks(&self) -> u32 {
        self.chunks
    }

    /// Appends `next` when it differs from `self` only in text; `false` (and no change)
    /// otherwise. Costs the size of `next`.
    pub fn try_append(&mut self, next: &Merged) -> bool {
        let (mine, theirs) = (&self.holes, &next.holes);
        if mine.len != theirs.len || mine.padding != theirs.padding || !self.same_envelope(next) {
            return false;
        }
        for i in 0..self.holes.len() {
            let theirs = next.text(i);
            if theirs.is_empty() || self.holes.is_padding(i) {
                continue;
            }
            if self.texts[i].is_empty() {
                let own = &self.template[self.holes.get(i)];
                self.texts[i].extend_from_slice(own);
            }
            self.texts[i].extend_from_slice(theirs);
        }
        self.chunks += next.chunks;
        true
    }

    /// The text of hole `i` so far.
    fn text(&self, i: usize) -> &[u8] {
        match &self.texts[i] {
            t if t.is_empty() => &self.template[self.holes.get(i)],
            t => t,
        }
    }

    /// Whether the bytes around the text values are the same in both.
    fn same_envelope(&self, other: &Merged) -> bool {
        let mut a = 0;
        let mut b = 0;
        for (ha, hb) in self.holes.iter().zip(other.holes.iter()) {
            if self.template[a..ha.start] != other.template[b..hb.start] {
                return false;
            }
            a = ha.end;
            b = hb.end;
        }
        self.template[a..] == other.template[b..]
    }

    /// The frame's length on the wire.
    fn len(&self) -> usize {
        let grown: usize = (0..self.holes.len())
            .map(|i| self.text(i).len() - self.holes.get(i).len())
            .sum();
        self.template.len() + grown
    }

    /// The merged chunk as a frame for the socket.
    pub fn into_bytes(self) -> Bytes {
        if self.texts.iter().all(Vec::is_empty) {
            // One chunk, as it came: the very same bytes.
            return self.template;
        }
        let mut out = BytesMut::with_capacity(self.len());
        self.write_to(&mut out);
        out.freeze()
    }

    fn write_to(&self, out: &mut BytesMut) {
        let mut at = 0;
        for (i, hole) in self.holes.iter().enumerate() {
            out.extend_from_slice(&self.template[at..hole.start]);
            out.extend_from_slice(self.text(i));
            at = hole.end;
        }
        out.extend_from_slice(&self.template[at..]);
    }
}

fn memchr_newline(payload: &[u8]) -> bool {
    payload.contains(&b'\n')
}

#[cfg(test)]
mod tests;
