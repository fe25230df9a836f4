//! A client's request body, any bytes: reading it, estimating its prompt and writing the
//! provider's body never panic, and a request that reads can always be written.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sluice_openai::ChatRequest;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = ChatRequest::parse(Bytes::copy_from_slice(data)) {
        let _ = req.prompt_estimate();
        assert!(req.body_for("provider-model \"\\\u{2028}").is_ok());
        assert!(req.body_for(&req.model.clone()).is_ok());
    }
});
