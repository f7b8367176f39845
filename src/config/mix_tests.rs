use serde_json::json;

use super::*;

fn two_inputs() -> Value {
    json!({
        "MixStreamSessionId": "room_1",
        "InputStreamList": [
            {"InputStreamName": "a", "LayoutParams": {"ImageLayer": 1}},
            {"InputStreamName": "b", "LayoutParams": {"ImageLayer": 2, "ImageWidth": 0.5,
                "ImageHeight": 0.5, "LocationX": 0.5, "LocationY": 0.5}},
        ],
        "OutputParams": {"OutputStreamName": "c", "OutputStreamType": 1},
    })
}

fn codes(body: &Value) -> Vec<(String, String)> {
    match validate_mix_stream(body) {
        Ok(_) => Vec::new(),
        Err(problems) => problems
            .into_iter()
            .map(|p| (p.code.as_str().to_owned(), p.field))
            .collect(),
    }
}

#[test]
fn a_picture_in_picture_mix_reads_back_as_given() {
    let session = validate_mix_stream(&two_inputs()).expect("valid");
    assert_eq!(session.mix_stream_session_id, "room_1");
    let b = &session.input_stream_list[1].layout_params;
    assert_eq!(b.image_width, Some(Dim::Fraction(5000)));
    assert_eq!(b.image_width.map(|d| d.pixels(1280)), Some(640));
    assert_eq!(
        session.background().map(|i| i.input_stream_name.as_str()),
        Some("a")
    );
    assert!(!session.output_params.replaces_input());
    // Stored as JSON and read back unchanged; fractions stay numbers.
    let text = serde_json::to_string(&session).expect("json");
    assert!(text.contains("\"ImageWidth\":0.5"), "{text}");
    let back: MixSession = serde_json::from_str(&text).expect("back");
    assert_eq!(back, session);
}

#[test]
fn dimensions_are_whole_pixels_or_fractions() {
    assert_eq!(Dim::parse(0.0), Some(Dim::Pixels(0)));
    assert_eq!(Dim::parse(2000.0), Some(Dim::Pixels(2000)));
    assert_eq!(Dim::parse(0.25), Some(Dim::Fraction(2500)));
    for bad in [-1.0, 0.005, 0.995, 1.5, 2001.0, f64::NAN] {
        assert_eq!(Dim::parse(bad), None, "{bad}");
    }
}

#[test]
fn bad_layouts_get_the_mix_input_code() {
    let mut body = two_inputs();
    body["InputStreamList"][1]["LayoutParams"]["ImageLayer"] = json!(1);
    // Two backgrounds; and the second's size is a fraction of itself.
    assert_eq!(
        codes(&body),
        [
            (
                "InvalidParameter.InvalidMixInputParam".to_owned(),
                "InputStreamList.1.LayoutParams.ImageLayer".to_owned()
            ),
            (
                "InvalidParameter.InvalidMixInputParam".to_owned(),
                "InputStreamList.1.LayoutParams.ImageWidth".to_owned()
            )
        ]
    );
    let mut body = two_inputs();
    body["InputStreamList"][1]["LayoutParams"]["ImageWidth"] = json!(1.5);
    body["InputStreamList"][1]["LayoutParams"]["ImageLayer"] = json!(17);
    body["InputStreamList"][0]["LayoutParams"]["Color"] = json!("red");
    let found = codes(&body);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found
        .iter()
        .all(|(code, _)| code == "InvalidParameter.InvalidMixInputParam"));
    // No background.
    let mut body = two_inputs();
    body["InputStreamList"][0]["LayoutParams"]["ImageLayer"] = json!(3);
    assert_eq!(
        codes(&body),
        [(
            "InvalidParameter.InvalidMixInputParam".to_owned(),
            "InputStreamList".to_owned()
        )]
    );
}

#[test]
fn more_than_sixteen_inputs_are_refused() {
    let inputs: Vec<Value> = (1..=17)
        .map(|n| json!({"InputStreamName": format!("s{n}"), "LayoutParams": {"ImageLayer": n.min(16)}}))
        .collect();
    let mut body = two_inputs();
    body["InputStreamList"] = json!(inputs);
    assert_eq!(
        codes(&body),
        [(
            "InvalidParameter.InvalidMixInputParam".to_owned(),
            "InputStreamList".to_owned()
        )]
    );
}

#[test]
fn a_canvas_background_needs_a_size_in_pixels() {
    let mut body = two_inputs();
    body["InputStreamList"][0] = json!({"InputStreamName": "canvas1",
        "LayoutParams": {"ImageLayer": 1, "InputType": 3, "Color": "0x99CCFF"}});
    body["InputStreamList"][1]["InputStreamName"] = json!("a");
    assert_eq!(codes(&body).len(), 1);
    body["InputStreamList"][0]["LayoutParams"]["ImageWidth"] = json!(1280);
    body["InputStreamList"][0]["LayoutParams"]["ImageHeight"] = json!(720);
    let session = validate_mix_stream(&body).expect("valid");
    assert_eq!(session.input_stream_list[0].layout_params.color, "0x99CCFF");
    assert_eq!(
        session
            .stream_inputs()
            .iter()
            .map(|i| i.input_stream_name.as_str())
            .collect::<Vec<_>>(),
        ["a"]
    );
}

#[test]
fn pictures_presets_and_sei_are_refused_as_unsupported() {
    let mut body = two_inputs();
    body["InputStreamList"][1]["LayoutParams"]["InputType"] = json!(2);
    body["MixStreamTemplateId"] = json!(20);
    body["ControlParams"] = json!({"PassInputSei": 1});
    let found = codes(&body);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found.iter().all(|(code, _)| code == "UnsupportedOperation"));
    body = two_inputs();
    body["MixStreamTemplateId"] = json!(11);
    assert_eq!(
        codes(&body),
        [(
            "InvalidParameterValue".to_owned(),
            "MixStreamTemplateId".to_owned()
        )]
    );
}

#[test]
fn the_output_type_decides_whether_its_name_is_an_input() {
    let mut body = two_inputs();
    body["OutputParams"]["OutputStreamType"] = json!(0);
    assert_eq!(
        codes(&body),
        [(
            "InvalidParameterValue".to_owned(),
            "OutputParams.OutputStreamName".to_owned()
        )]
    );
    body["OutputParams"]["OutputStreamName"] = json!("a");
    assert!(codes(&body).is_empty());
    assert!(validate_mix_stream(&body)
        .expect("valid")
        .output_params
        .replaces_input());
    body["OutputParams"]["OutputStreamType"] = json!(1);
    assert_eq!(codes(&body).len(), 1);
}

#[test]
fn output_ranges_and_missing_fields_use_the_common_codes() {
    let mut body = two_inputs();
    body["OutputParams"]["OutputStreamFrameRate"] = json!(61);
    body["OutputParams"]["OutputAudioSampleRate"] = json!(44000);
    body["Extra"] = json!(1);
    let found = codes(&body);
    assert!(found.contains(&(
        "InvalidParameterValue".into(),
        "OutputParams.OutputStreamFrameRate".into()
    )));
    assert!(found.contains(&(
        "InvalidParameterValue".into(),
        "OutputParams.OutputAudioSampleRate".into()
    )));
    assert!(found.contains(&("UnknownParameter".into(), "Extra".into())));
    assert_eq!(
        codes(&json!({"MixStreamSessionId": "x"})),
        [
            ("MissingParameter".to_owned(), "InputStreamList".to_owned()),
            ("MissingParameter".to_owned(), "OutputParams".to_owned())
        ]
    );
    assert_eq!(
        codes(
            &json!({"MixStreamSessionId": "no spaces", "InputStreamList": [], "OutputParams": {}})
        )
        .len(),
        3
    );
}

#[test]
fn one_input_cancels_unless_copy_is_allowed() {
    let mut body = two_inputs();
    body["InputStreamList"] = json!([{"InputStreamName": "a", "LayoutParams": {"ImageLayer": 1}}]);
    assert!(validate_mix_stream(&body).expect("valid").is_cancel());
    body["ControlParams"] = json!({"AllowCopy": 1});
    assert!(!validate_mix_stream(&body).expect("valid").is_cancel());
    assert!(!validate_mix_stream(&two_inputs())
        .expect("valid")
        .is_cancel());
}

#[test]
fn cancel_needs_a_session_id() {
    assert_eq!(
        validate_cancel_mix(&json!({"MixStreamSessionId": "room_1"})),
        Ok("room_1".into())
    );
    assert!(validate_cancel_mix(&json!({})).is_err());
    assert!(validate_cancel_mix(&json!({"MixStreamSessionId": "a/b"})).is_err());
}
