//! `data[]` value semantics: rendering, property paths, Go-compatible JSON and decoding.

use serde_json::{Value, json};

use super::{fetched, field_of, spec};
use crate::shape::build;

type Want = Result<&'static [u8], (&'static str, &'static str)>;

#[test]
fn data_value_semantics() {
    // (name, secret data, property, decodingStrategy, expected bytes or (field, category)).
    let prop = "spec.data[0].remoteRef.property";
    let dec = "spec.data[0].remoteRef.decodingStrategy";
    let cases: Vec<(&str, Value, &str, &str, Want)> = vec![
        (
            "whole map, sorted and compact",
            json!({"b": "2", "a": "1"}),
            "",
            "None",
            Ok(br#"{"a":"1","b":"2"}"#),
        ),
        (
            "whole map escapes HTML like json.Marshal",
            json!({"k": "<a&b>"}),
            "",
            "None",
            Ok(br#"{"k":"\u003ca\u0026b\u003e"}"#),
        ),
        (
            "whole map escapes U+2028/U+2029 and controls",
            json!({"k": "\u{2028}\u{2029}\u{1}\n\"\\"}),
            "",
            "None",
            Ok(br#"{"k":"\u2028\u2029\u0001\n\"\\"}"#),
        ),
        (
            "whole map keeps non-ASCII",
            json!({"k": "é😀"}),
            "",
            "None",
            Ok("{\"k\":\"é😀\"}".as_bytes()),
        ),
        (
            "whole map numbers",
            json!({"i": 7, "f": 1.5, "g": 2.0, "h": 1e21, "n": null, "t": true}),
            "",
            "None",
            Ok(br#"{"f":1.5,"g":2,"h":1e+21,"i":7,"n":null,"t":true}"#),
        ),
        (
            "string property is raw, unescaped",
            json!({"p": "s3cr3t<&>\n"}),
            "p",
            "None",
            Ok(b"s3cr3t<&>\n"),
        ),
        ("integer", json!({"p": 42}), "p", "None", Ok(b"42")),
        (
            "big integer stays exact",
            json!({"p": 12345678901234567890u64}),
            "p",
            "None",
            Ok(b"12345678901234567890"),
        ),
        ("negative integer", json!({"p": -3}), "p", "None", Ok(b"-3")),
        ("float", json!({"p": 1.5}), "p", "None", Ok(b"1.5")),
        (
            "float without trailing zeros",
            json!({"p": 2.0}),
            "p",
            "None",
            Ok(b"2"),
        ),
        (
            "huge float at the top level, Go JSON form",
            json!({"p": 1e21}),
            "p",
            "None",
            Ok(b"1e+21"),
        ),
        (
            "huge float on a path, gjson form",
            json!({"o": {"p": 1e21}}),
            "o.p",
            "None",
            Ok(b"1000000000000000000000"),
        ),
        (
            "tiny float at the top level",
            json!({"p": 1e-7}),
            "p",
            "None",
            Ok(b"1e-7"),
        ),
        ("boolean", json!({"p": false}), "p", "None", Ok(b"false")),
        ("null is empty", json!({"p": null}), "p", "None", Ok(b"")),
        (
            "null on a path is empty",
            json!({"o": {"p": null}}),
            "o.p",
            "None",
            Ok(b""),
        ),
        (
            "object is sorted, escaped JSON",
            json!({"p": {"z": 1, "a": "<"}}),
            "p",
            "None",
            Ok(br#"{"a":"\u003c","z":1}"#),
        ),
        (
            "array is JSON",
            json!({"p": ["a", 1, true, null, {"b": 2.5}]}),
            "p",
            "None",
            Ok(br#"["a",1,true,null,{"b":2.5}]"#),
        ),
        (
            "nested path",
            json!({"a": {"b": {"c": "s3cr3t"}}}),
            "a.b.c",
            "None",
            Ok(b"s3cr3t"),
        ),
        (
            "exact key wins over path",
            json!({"a.b": "exact", "a": {"b": "nested"}}),
            "a.b",
            "None",
            Ok(b"exact"),
        ),
        (
            "escaped dot in path",
            json!({"x": {"a.b": "v"}}),
            r"x.a\.b",
            "None",
            Ok(b"v"),
        ),
        (
            "array index in path",
            json!({"l": ["zero", "one"]}),
            "l.1",
            "None",
            Ok(b"one"),
        ),
        (
            "nested object on a path",
            json!({"a": {"b": {"y": 1, "x": "&"}}}),
            "a.b",
            "None",
            Ok(br#"{"x":"\u0026","y":1}"#),
        ),
        (
            "missing property",
            json!({"p": "s3cr3t"}),
            "q",
            "None",
            Err((prop, "not_found")),
        ),
        (
            "missing nested property",
            json!({"a": {"b": "s3cr3t"}}),
            "a.c",
            "None",
            Err((prop, "not_found")),
        ),
        (
            "path through a string",
            json!({"a": "s3cr3t"}),
            "a.b",
            "None",
            Err((prop, "not_found")),
        ),
        (
            "gjson wildcard",
            json!({"a": {"b": "s3cr3t"}}),
            "a.*",
            "None",
            Err((prop, "unsupported")),
        ),
        (
            "gjson modifier",
            json!({"a": ["s3cr3t"]}),
            "a.@reverse",
            "None",
            Err((prop, "unsupported")),
        ),
        (
            "base64",
            json!({"p": "aGVsbG8="}),
            "p",
            "Base64",
            Ok(b"hello"),
        ),
        (
            "base64 ignores newlines like Go",
            json!({"p": "aGVs\nbG8=\r\n"}),
            "p",
            "Base64",
            Ok(b"hello"),
        ),
        (
            "base64 needs padding like Go",
            json!({"p": "czNjcjN0"}),
            "p",
            "Base64",
            Ok(b"s3cr3t"),
        ),
        (
            "base64 without padding fails",
            json!({"p": "aGVsbG8"}),
            "p",
            "Base64",
            Err((dec, "build")),
        ),
        (
            "base64 rejects url alphabet",
            json!({"p": "_-8="}),
            "p",
            "Base64",
            Err((dec, "build")),
        ),
        (
            "invalid base64 never echoes the value",
            json!({"p": "s3cr3t!!"}),
            "p",
            "Base64",
            Err((dec, "build")),
        ),
        (
            "base64url",
            json!({"p": "_-8="}),
            "p",
            "Base64URL",
            Ok(b"\xff\xef"),
        ),
        (
            "auto tries base64 first",
            json!({"p": "aGVsbG8="}),
            "p",
            "Auto",
            Ok(b"hello"),
        ),
        (
            "auto falls back to base64url",
            json!({"p": "_-8="}),
            "p",
            "Auto",
            Ok(b"\xff\xef"),
        ),
        (
            "auto keeps anything else",
            json!({"p": "s3cr3t!"}),
            "p",
            "Auto",
            Ok(b"s3cr3t!"),
        ),
        (
            "none keeps base64 text",
            json!({"p": "aGVsbG8="}),
            "p",
            "None",
            Ok(b"aGVsbG8="),
        ),
    ];
    for (name, data, property, decoding, want) in cases {
        let property = if property.is_empty() {
            String::new()
        } else {
            format!("\n    property: '{property}'")
        };
        let s = spec(&format!(
            "data:\n- secretKey: out\n  remoteRef:\n    key: app{property}\n    decodingStrategy: {decoding}\n"
        ));
        let got = build(&s, &fetched(&[("app", data)]));
        match (got, want) {
            (Ok(d), Ok(bytes)) => assert_eq!(d.get("out"), Some(bytes), "{name}"),
            (Err(e), Err((field, category))) => {
                assert_eq!(field_of(&e), (field.to_owned(), category), "{name}")
            }
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
}
