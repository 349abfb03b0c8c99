//! Kafka topic ids: a topic deleted and created again under the same name starts its offsets
//! at 0 again, so offsets recorded for the old topic would skip the new one's messages. Every
//! topic has an id (a UUID since Kafka 2.8) that changes when it is recreated; `vbda stream`
//! records offsets under `<topic>#<id>` (see [`crate::lake::bronze::stream_app_id`]).
//!
//! rust-rdkafka does not wrap librdkafka's DescribeTopics, so this calls it through
//! `rdkafka::bindings` (the FFI declarations rust-rdkafka itself uses), with every object the
//! call creates destroyed on every path. Best effort: brokers too old to have ids, or a
//! cluster that does not answer in time, give no id, and offsets are recorded by name alone.

use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char};
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::consumer::Consumer as _;
use tracing::debug;

use super::Consumer;

/// The ids of `topics` the cluster knows (base64, as Kafka's tools print them).
pub fn topic_ids(client: &Consumer, topics: &[String], timeout: Duration) -> HashMap<String, String> {
    let names: Vec<CString> = topics.iter().filter_map(|t| CString::new(t.as_str()).ok()).collect();
    if names.is_empty() {
        return HashMap::new();
    }
    let mut pointers: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
    let timeout_ms = timeout.as_millis().min(i32::MAX as u128 - 1000) as i32;
    let mut out = HashMap::new();
    // SAFETY: `rk` is the live client's handle (borrowed for this call); the topic names
    // outlive the collection, which librdkafka copies; the queue, options, collection and
    // event are created here and destroyed once, below, whatever the outcome; pointers read
    // from the result are only used before the event is destroyed.
    unsafe {
        let rk = client.client().native_ptr();
        let queue = rd::rd_kafka_queue_new(rk);
        let options = rd::rd_kafka_AdminOptions_new(rk, rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBETOPICS);
        let mut errstr = [0 as c_char; 256];
        rd::rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, errstr.as_mut_ptr(), errstr.len());
        let collection = rd::rd_kafka_TopicCollection_of_topic_names(pointers.as_mut_ptr(), pointers.len());
        rd::rd_kafka_DescribeTopics(rk, collection, options, queue);
        let event = rd::rd_kafka_queue_poll(queue, timeout_ms.saturating_add(1000));
        if event.is_null() {
            debug!("DescribeTopics did not answer in time; offsets are recorded by topic name.");
        } else {
            let result = rd::rd_kafka_event_DescribeTopics_result(event);
            if rd::rd_kafka_event_error(event) != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || result.is_null() {
                let why = rd::rd_kafka_event_error_string(event);
                let why = if why.is_null() { String::new() } else { CStr::from_ptr(why).to_string_lossy().into_owned() };
                debug!(error = %why, "DescribeTopics failed; offsets are recorded by topic name.");
            } else {
                let mut count = 0usize;
                let described = rd::rd_kafka_DescribeTopics_result_topics(result, &mut count);
                for i in 0..count {
                    let d = *described.add(i);
                    let error = rd::rd_kafka_TopicDescription_error(d);
                    if !error.is_null() && rd::rd_kafka_error_code(error) != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                        continue;
                    }
                    let (name, id) = (rd::rd_kafka_TopicDescription_name(d), rd::rd_kafka_TopicDescription_topic_id(d));
                    if name.is_null() || id.is_null() {
                        continue;
                    }
                    let base64 = rd::rd_kafka_Uuid_base64str(id);
                    if base64.is_null() {
                        continue;
                    }
                    let id = CStr::from_ptr(base64).to_string_lossy().into_owned();
                    // The zero id: a broker without topic ids.
                    if id.trim_end_matches('=').chars().all(|c| c == 'A') {
                        continue;
                    }
                    out.insert(CStr::from_ptr(name).to_string_lossy().into_owned(), id);
                }
            }
            rd::rd_kafka_event_destroy(event);
        }
        rd::rd_kafka_TopicCollection_destroy(collection);
        rd::rd_kafka_AdminOptions_destroy(options);
        rd::rd_kafka_queue_destroy(queue);
    }
    drop(names);
    out
}
