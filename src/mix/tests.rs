use serde_json::json;

use super::*;
use crate::config::mix::validate_mix_stream;

fn session(body: serde_json::Value) -> MixSession {
    validate_mix_stream(&body).expect("valid")
}

fn pip() -> MixSession {
    session(json!({
        "MixStreamSessionId": "s",
        "InputStreamList": [
            {"InputStreamName": "a", "LayoutParams": {"ImageLayer": 1}},
            {"InputStreamName": "b", "LayoutParams": {"ImageLayer": 2, "ImageWidth": 0.5,
                "ImageHeight": 0.5, "LocationX": 0.5, "LocationY": 0.5}},
        ],
        "OutputParams": {"OutputStreamName": "c", "OutputStreamType": 1},
    }))
}

fn live(name: &str, w: u32, h: u32) -> LiveInput {
    LiveInput {
        name: name.into(),
        width: w,
        height: h,
        video: true,
        audio: true,
        url: format!("unix:/tmp/{name}.sock"),
    }
}

#[test]
fn the_output_takes_the_background_streams_size() {
    let s = pip();
    assert_eq!(output_size(&s, &[live("a", 1280, 720)]), Ok((1280, 720)));
    assert_eq!(
        output_size(&s, &[live("b", 640, 360)]),
        Err(PlanError::BackgroundUnknown("a".into()))
    );
    // Odd sizes are rounded down to even ones.
    assert_eq!(output_size(&s, &[live("a", 641, 361)]), Ok((640, 360)));
}

#[test]
fn fractions_place_a_layer_on_the_background() {
    let s = pip();
    let b = &s.input_stream_list[1];
    assert_eq!(
        placement(b, (320, 240), (1280, 720)),
        Placement {
            x: 640,
            y: 360,
            width: 640,
            height: 360
        }
    );
    // The background always covers the output.
    let a = &s.input_stream_list[0];
    assert_eq!(
        placement(a, (320, 240), (1280, 720)),
        Placement {
            x: 0,
            y: 0,
            width: 1280,
            height: 720
        }
    );
}

#[test]
fn a_generation_overlays_live_inputs_and_mixes_their_sound() {
    let s = pip();
    let p = plan(&s, &[live("a", 1280, 720), live("b", 320, 240)]).expect("plan");
    assert_eq!(
        (p.width, p.height, p.frame_rate),
        (1280, 720, DEFAULT_FRAME_RATE)
    );
    assert_eq!(p.inputs, ["a", "b"]);
    let graph = &p.args[p
        .args
        .iter()
        .position(|a| a == "-filter_complex")
        .expect("graph")
        + 1];
    assert!(
        graph.contains(
            "[2:v]scale=1280:720,setsar=1[p0];[0:v][p0]overlay=x=0:y=0:eof_action=pass[v0]"
        ),
        "{graph}"
    );
    assert!(
        graph.contains("[3:v]scale=640:360,setsar=1[p1];[v0][p1]overlay=x=640:y=360"),
        "{graph}"
    );
    assert!(graph.contains("[1:a][a0][a1]amix=inputs=3"), "{graph}");
    assert!(p.args.windows(2).any(|w| w == ["-i", "unix:/tmp/b.sock"]));
    assert_eq!(p.args.last().map(String::as_str), Some("pipe:1"));
}

#[test]
fn an_input_not_live_leaves_the_canvas_in_its_place() {
    let s = pip();
    let p = plan(&s, &[live("a", 1280, 720)]).expect("plan");
    assert_eq!(p.inputs, ["a"]);
    let graph = &p.args[p
        .args
        .iter()
        .position(|a| a == "-filter_complex")
        .expect("graph")
        + 1];
    assert!(!graph.contains("[3:v]"), "{graph}");
    assert!(graph.contains("[1:a][a0]amix=inputs=2"), "{graph}");
}

#[test]
fn a_canvas_background_sets_size_and_colour_and_crops_apply() {
    let s = session(json!({
        "MixStreamSessionId": "s",
        "InputStreamList": [
            {"InputStreamName": "bg", "LayoutParams": {"ImageLayer": 1, "InputType": 3,
                "ImageWidth": 640, "ImageHeight": 360, "Color": "0x0000FF"}},
            {"InputStreamName": "b", "LayoutParams": {"ImageLayer": 2, "InputType": 5,
                "ImageWidth": 100, "ImageHeight": 100},
             "CropParams": {"CropWidth": 200, "CropHeight": 200, "CropStartLocationX": 10}},
        ],
        "OutputParams": {"OutputStreamName": "c", "OutputStreamType": 1,
            "OutputStreamFrameRate": 30, "OutputStreamGop": 1, "OutputStreamBitRate": 800},
        "ControlParams": {"UseMixCropCenter": 1},
    }));
    let p = plan(&s, &[live("b", 320, 240)]).expect("plan");
    assert_eq!((p.width, p.height), (640, 360));
    assert!(p
        .args
        .iter()
        .any(|a| a == "color=c=0x0000FF:s=640x360:r=30,setpts=PTS+10/TB"));
    let graph = &p.args[p
        .args
        .iter()
        .position(|a| a == "-filter_complex")
        .expect("graph")
        + 1];
    assert!(
        graph.contains(
            "crop=200:200:10:0,scale=100:100:force_original_aspect_ratio=increase,crop=100:100"
        ),
        "{graph}"
    );
    // A video-only input brings no sound.
    assert!(graph.ends_with("[1:a]anull[aout]"), "{graph}");
    assert!(p.args.windows(2).any(|w| w == ["-g", "30"]));
    assert!(p.args.windows(2).any(|w| w == ["-b:v", "800k"]));
}
