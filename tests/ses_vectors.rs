//! Known answers: the Ed25519 test vectors of RFC 8032 through the keys at
//! rest and the verifier, and the RFC 8785 canonical JSON examples.

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};
use sesflow_activities::canonical;
use sesflow_activities::certs::keys::MasterKey;

/// (secret key, public key, message, signature), RFC 8032 section 7.1.
const RFC8032: [(&str, &str, &str, &str); 4] = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
         5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da\
         085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac\
         18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
    (
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
         2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589\
         09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
    ),
];

fn bytes(hex_text: &str) -> Vec<u8> {
    let compact: String = hex_text.split_whitespace().collect();
    hex::decode(compact).expect("hex")
}

#[test]
fn rfc8032_vectors_survive_the_keys_at_rest() {
    let master = MasterKey::generate();
    for (i, (secret, public, message, expected)) in RFC8032.iter().enumerate() {
        let seed: [u8; 32] = bytes(secret).try_into().expect("32 bytes");
        let pkcs8 = SigningKey::from_bytes(&seed).to_pkcs8_der().expect("pkcs8");
        let sealed = master.seal("cert:vector", pkcs8.as_bytes());
        let opened = master
            .open("cert:vector", master.id(), &sealed)
            .expect("opens");
        let key = SigningKey::from_pkcs8_der(&opened).expect("a key");
        assert_eq!(
            key.verifying_key().to_bytes().to_vec(),
            bytes(public),
            "vector {i}"
        );
        let message = bytes(message);
        let signature = key.sign(&message);
        assert_eq!(signature.to_bytes().to_vec(), bytes(expected), "vector {i}");
        let rcgen_key = rcgen::KeyPair::try_from(opened.as_slice()).expect("rcgen reads it");
        assert_eq!(
            rcgen_key.public_key_raw(),
            bytes(public).as_slice(),
            "vector {i}"
        );
        let verifying = key.verifying_key();
        assert!(verifying.verify(&message, &signature).is_ok());
        let mut flipped = signature.to_bytes();
        flipped[0] ^= 1;
        let flipped = Signature::from_bytes(&flipped);
        assert!(verifying.verify(&message, &flipped).is_err(), "vector {i}");
    }
}

#[test]
fn rfc8785_sample_is_canonical() {
    let input = r#"{
        "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
        "literals": [null, true, false]
    }"#;
    let expected = "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,\
                    0.002,1e-27],\"string\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
    assert_eq!(canonical::canonicalize(input).expect("canonical"), expected);
}

#[test]
fn rfc8785_sorts_properties_by_utf16_code_units() {
    let input = r#"{
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\ud83d\ude00": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis"
    }"#;
    let text = canonical::canonicalize(input).expect("canonical");
    let value: serde_json::Value = serde_json::from_str(&text).expect("json");
    let order: Vec<&str> = text
        .split('"')
        .filter(|s| value.as_object().expect("object").values().any(|v| v == *s))
        .collect();
    assert_eq!(
        order,
        [
            "Carriage Return",
            "One",
            "Control",
            "Latin Small Letter O With Diaeresis",
            "Euro Sign",
            "Emoji: Grinning Face",
            "Hebrew Letter Dalet With Dagesh",
        ]
    );
}

#[test]
fn rfc8785_numbers_serialize_as_the_appendix_says() {
    let cases: [(u64, &str); 24] = [
        (0x0000000000000000, "0"),
        (0x8000000000000000, "0"),
        (0x0000000000000001, "5e-324"),
        (0x8000000000000001, "-5e-324"),
        (0x7fefffffffffffff, "1.7976931348623157e+308"),
        (0xffefffffffffffff, "-1.7976931348623157e+308"),
        (0x4340000000000000, "9007199254740992"),
        (0xc340000000000000, "-9007199254740992"),
        (0x4430000000000000, "295147905179352830000"),
        (0x44b52d02c7e14af5, "9.999999999999997e+22"),
        (0x44b52d02c7e14af6, "1e+23"),
        (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
        (0x444b1ae4d6e2ef4e, "999999999999999700000"),
        (0x444b1ae4d6e2ef4f, "999999999999999900000"),
        (0x444b1ae4d6e2ef50, "1e+21"),
        (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
        (0x3eb0c6f7a0b5ed8d, "0.000001"),
        (0x41b3de4355555553, "333333333.3333332"),
        (0x41b3de4355555554, "333333333.33333325"),
        (0x41b3de4355555555, "333333333.3333333"),
        (0x41b3de4355555556, "333333333.3333334"),
        (0x41b3de4355555557, "333333333.33333343"),
        (0xbecbf647612f3696, "-0.0000033333333333333333"),
        (0x43143ff3c1cb0959, "1424953923781206.2"),
    ];
    for (bits, expected) in cases {
        let number = f64::from_bits(bits);
        let text = canonical::to_vec(&number).expect("serializes");
        assert_eq!(
            String::from_utf8(text).expect("utf-8"),
            expected,
            "{bits:#018x}"
        );
    }
}
