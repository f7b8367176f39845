use super::*;

const LIMITS: Limits = Limits {
    max_chunk_size: 1024 * 1024,
    max_assembly_bytes: 1 << 20,
};

/// Every message `bytes` holds, fed in pieces of `piece` bytes.
fn demux(bytes: &[u8], piece: usize) -> Result<Vec<Message>, ChunkError> {
    let mut demux = ChunkDemux::new(LIMITS);
    let mut messages = Vec::new();
    for mut input in bytes.chunks(piece.max(1)) {
        while let Some(message) = demux.pull(&mut input)? {
            messages.push(message);
        }
        assert!(
            input.is_empty(),
            "pull returns None only with its input consumed"
        );
    }
    Ok(messages)
}

/// A chunk written by hand: basic header, message header by `format`, extended
/// timestamp when `field` needs one, payload.
struct Chunk<'a> {
    format: u8,
    csid: u32,
    field: u32,
    length: u32,
    type_id: u8,
    stream_id: u32,
    extended: bool,
    payload: &'a [u8],
}

impl Chunk<'_> {
    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let fmt = self.format << 6;
        match self.csid {
            2..=63 => out.push(fmt | self.csid as u8),
            64..=319 => out.extend([fmt, (self.csid - 64) as u8]),
            _ => {
                let rest = self.csid - 64;
                out.extend([fmt | 1, (rest % 256) as u8, (rest / 256) as u8]);
            }
        }
        let field = if self.extended { EXTENDED } else { self.field };
        if self.format < 3 {
            out.extend(&field.to_be_bytes()[1..]);
        }
        if self.format < 2 {
            out.extend(&self.length.to_be_bytes()[1..]);
            out.push(self.type_id);
        }
        if self.format == 0 {
            out.extend(self.stream_id.to_le_bytes());
        }
        if self.extended {
            out.extend(self.field.to_be_bytes());
        }
        out.extend(self.payload);
        out
    }
}

fn full<'a>(csid: u32, ts: u32, type_id: u8, length: u32, payload: &'a [u8]) -> Chunk<'a> {
    Chunk {
        format: 0,
        csid,
        field: ts,
        length,
        type_id,
        stream_id: 1,
        extended: ts >= EXTENDED,
        payload,
    }
}

fn more(csid: u32, extended_field: Option<u32>, payload: &[u8]) -> Chunk<'_> {
    Chunk {
        format: 3,
        csid,
        field: extended_field.unwrap_or(0),
        length: 0,
        type_id: 0,
        stream_id: 0,
        extended: extended_field.is_some(),
        payload,
    }
}

fn every_split(bytes: &[u8]) -> Vec<Message> {
    let whole = demux(bytes, bytes.len()).expect("whole input");
    for piece in 1..bytes.len().min(64) {
        assert_eq!(demux(bytes, piece).expect("pieces"), whole, "piece {piece}");
    }
    whole
}

#[test]
fn interleaved_chunk_streams_and_a_long_csid() {
    let video: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    let mut bytes = full(6, 40, 9, 300, &video[..128]).bytes();
    bytes.extend(full(4, 41, 8, 3, b"aac").bytes());
    bytes.extend(more(6, None, &video[128..256]).bytes());
    bytes.extend(full(65_599, 7, 20, 2, b"ab").bytes());
    bytes.extend(more(6, None, &video[256..]).bytes());
    let messages = every_split(&bytes);
    let summary: Vec<_> = messages
        .iter()
        .map(|m| (m.csid, m.type_id, m.timestamp_ms, m.payload.len()))
        .collect();
    assert_eq!(
        summary,
        [(4, 8, 41, 3), (65_599, 20, 7, 2), (6, 9, 40, 300)]
    );
    assert_eq!(messages[2].payload, video);
}

#[test]
fn compressed_headers_carry_timestamps_forward() {
    let mut bytes = full(4, 1000, 8, 2, b"a0").bytes();
    // Type 1: delta 23, new length; type 2: delta 24; type 3: delta 24 again.
    bytes.extend(
        Chunk {
            format: 1,
            field: 23,
            length: 3,
            type_id: 8,
            ..more(4, None, b"a1x")
        }
        .bytes(),
    );
    bytes.extend(
        Chunk {
            format: 2,
            field: 24,
            ..more(4, None, b"a2x")
        }
        .bytes(),
    );
    bytes.extend(more(4, None, b"a3x").bytes());
    let stamps: Vec<_> = every_split(&bytes).iter().map(|m| m.timestamp_ms).collect();
    assert_eq!(stamps, [1000, 1023, 1047, 1071]);
}

#[test]
fn extended_timestamps_repeat_on_continuation_chunks() {
    let ts = 0x0123_4567;
    let payload = [7u8; 200];
    let mut bytes = full(6, ts, 9, 200, &payload[..128]).bytes();
    bytes.extend(more(6, Some(ts), &payload[128..]).bytes());
    let messages = every_split(&bytes);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].timestamp_ms, ts);
    assert_eq!(messages[0].payload.len(), 200);
}

#[test]
fn set_chunk_size_applies_to_the_next_chunk() {
    let mut bytes = full(2, 0, SET_CHUNK_SIZE, 4, &4096u32.to_be_bytes()).bytes();
    let payload = vec![9u8; 5000];
    bytes.extend(full(6, 0, 9, 5000, &payload[..4096]).bytes());
    bytes.extend(more(6, None, &payload[4096..]).bytes());
    let messages = every_split(&bytes);
    assert_eq!(messages.len(), 1, "Set Chunk Size is applied, not returned");
    assert_eq!(messages[0].payload, payload);
}

#[test]
fn abort_drops_the_message_in_assembly() {
    let mut bytes = full(6, 0, 9, 200, &[1; 128]).bytes();
    bytes.extend(full(2, 0, ABORT, 4, &6u32.to_be_bytes()).bytes());
    bytes.extend(full(6, 5, 9, 2, b"ok").bytes());
    let messages = every_split(&bytes);
    assert_eq!(messages.len(), 1);
    assert_eq!(&messages[0].payload[..], b"ok");
}

#[test]
fn limits_are_errors() {
    let big = full(2, 0, SET_CHUNK_SIZE, 4, &(2u32 << 20).to_be_bytes()).bytes();
    assert!(matches!(demux(&big, 7), Err(ChunkError::ChunkSize { .. })));
    let zero = full(2, 0, SET_CHUNK_SIZE, 4, &0u32.to_be_bytes()).bytes();
    assert!(matches!(demux(&zero, 7), Err(ChunkError::ChunkSize { .. })));
    let orphan = more(5, None, b"x").bytes();
    assert!(matches!(
        demux(&orphan, 1),
        Err(ChunkError::NoFirstHeader { csid: 5, offset: 1 })
    ));
    let mut many = Vec::new();
    for csid in 2..(2 + MAX_CHUNK_STREAMS as u32 + 1) {
        many.extend(full(csid, 0, 9, 1, b"x").bytes());
    }
    assert_eq!(demux(&many, 100), Err(ChunkError::TooManyStreams));
    let mut hoard = Vec::new();
    for csid in 2..6 {
        hoard.extend(full(csid, 0, 9, 400_000, &[0; 128]).bytes());
    }
    assert!(matches!(
        demux(&hoard, 50),
        Err(ChunkError::Assembly { .. })
    ));
}

#[test]
fn garbage_never_panics() {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..300 {
        let mut bytes = full(3, 0, 20, 5, b"hello").bytes();
        for _ in 0..(seed % 400) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            bytes.push(seed as u8);
        }
        let _ = demux(&bytes, (seed % 97) as usize + 1);
    }
}

/// What `rml_rtmp`'s serializer writes (its header compression, its chunking, a chunk
/// size change on the way) comes back message for message.
#[cfg(feature = "server")]
#[test]
fn round_trip_with_rml_rtmp_serializer() {
    use rml_rtmp::chunk_io::ChunkSerializer;
    use rml_rtmp::messages::MessagePayload;
    use rml_rtmp::time::RtmpTimestamp;
    type Written = Vec<(u8, u32, Bytes)>;
    fn write(to: &mut (ChunkSerializer, Vec<u8>, Written), type_id: u8, ts: u32, data: Vec<u8>) {
        let payload = MessagePayload {
            timestamp: RtmpTimestamp::new(ts),
            type_id,
            message_stream_id: 1,
            data: Bytes::from(data),
        };
        let packet = to.0.serialize(&payload, false, false).expect("serialize");
        to.1.extend(packet.bytes);
        to.2.push((type_id, ts, payload.data));
    }
    let mut out = (ChunkSerializer::new(), Vec::new(), Vec::new());
    for i in 0..40u32 {
        write(&mut out, 9, i * 33, vec![i as u8; 100 + 97 * i as usize]);
        write(&mut out, 8, i * 23, vec![1; 9]);
        write(&mut out, 20, 0, vec![3; 5]);
    }
    let set = out
        .0
        .set_max_chunk_size(1000, RtmpTimestamp::new(0))
        .expect("size");
    out.1.extend(set.bytes);
    for i in 0..20u32 {
        write(&mut out, 9, 0xFF_FF00 + i * 50, vec![2; 3000 + i as usize]);
    }
    let (_, bytes, expected) = out;
    let got: Vec<_> = every_split(&bytes)
        .into_iter()
        .map(|m| (m.type_id, m.timestamp_ms, m.payload))
        .collect();
    assert_eq!(got, expected);
}
