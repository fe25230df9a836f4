//! Any bytes in any pieces through the SSE decoder: no panic, and what it holds stays within
//! its bound (the first two bytes choose the bound and the piece size).

#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_sse::{Decoder, Frame};

fuzz_target!(|data: &[u8]| {
    let [a, b, input @ ..] = data else {
        return;
    };
    let max = 16 + usize::from(*a) * 4;
    let piece = 1 + usize::from(*b);
    let mut dec = Decoder::with_max_event_bytes(max);
    'pieces: for chunk in input.chunks(piece) {
        dec.push(chunk);
        loop {
            let next = dec.next_frame();
            assert!(dec.buffered_len() <= max + chunk.len());
            match next {
                Ok(Some(Frame::Event(ev))) => assert!(ev.data.len() <= max),
                Ok(Some(Frame::Comment(_))) => {}
                Ok(None) => {
                    assert!(dec.buffered_len() <= max);
                    break;
                }
                Err(_) => break 'pieces,
            }
        }
    }
    let _ = dec.finish();
});
