//! The check every request path passes before any routing (API.md, "Abuse
//! limits"): no dot segment (`.` or `..`, literal or percent-encoded in any
//! case or mix, also once decoded twice, also as `..;`), no encoded slash or
//! backslash, no backslash at all, no control character, no malformed
//! percent escape. Such paths have no honest use, and an HTTP client or
//! server further along may resolve them into another route.

/// Why a path was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathProblem {
    DotSegment,
    EncodedSeparator,
    Backslash,
    ControlCharacter,
    MalformedEscape,
}

impl PathProblem {
    pub fn message(self) -> &'static str {
        match self {
            Self::DotSegment => "the path has a `.` or `..` segment; send the resolved path",
            Self::EncodedSeparator => "the path has an encoded `/` or `\\`",
            Self::Backslash => "the path has a `\\`; use `/` between segments",
            Self::ControlCharacter => "the path has a control character",
            Self::MalformedEscape => "the path has a malformed percent escape",
        }
    }
}

/// How many rounds of percent-decoding are looked through: a server behind
/// another one that decodes once more must not find a dot segment either.
const DECODE_ROUNDS: usize = 3;

/// `Ok` for a path that routes as it reads.
pub fn check_path(path: &str) -> Result<(), PathProblem> {
    if path.contains('\\') {
        return Err(PathProblem::Backslash);
    }
    for segment in path.split('/') {
        check_value(segment)?;
        if !segment.contains('%') {
            // The common case: nothing to decode, nothing to allocate.
            continue;
        }
        let mut value = segment.to_string();
        for _ in 0..DECODE_ROUNDS {
            value = decode(&value).ok_or(PathProblem::MalformedEscape)?;
            if value.contains('/') || value.contains('\\') {
                return Err(PathProblem::EncodedSeparator);
            }
            check_value(&value)?;
            if !value.contains('%') {
                break;
            }
        }
    }
    Ok(())
}

fn check_value(value: &str) -> Result<(), PathProblem> {
    if value.chars().any(char::is_control) {
        return Err(PathProblem::ControlCharacter);
    }
    // `..;x` is `..` to servers that strip path parameters.
    let bare = value.split(';').next().unwrap_or_default();
    if bare == "." || bare == ".." {
        return Err(PathProblem::DotSegment);
    }
    Ok(())
}

/// One path segment, percent-decoded once; `None` when an escape is
/// malformed, the bytes are not UTF-8, or it decodes to a separator.
pub fn decode_segment(segment: &str) -> Option<String> {
    let value = decode(segment)?;
    (!value.contains('/') && !value.contains('\\') && !value.chars().any(char::is_control))
        .then_some(value)
}

fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn honest_paths_pass() {
        for path in [
            "/",
            "/api/v1/trips",
            "/api/v1/rooms/Westie%3Amon%3A08%3A00",
            "/api/v1/rooms/sg.Westie:mon:08:00",
            "/assets/index-3f2a.js",
            "/driver/",
            "/socket.io/",
            "/.well-known/x",
            "/a..b/c.",
        ] {
            assert_eq!(check_path(path), Ok(()), "{path}");
        }
    }

    #[test]
    fn every_traversal_form_is_refused() {
        use PathProblem::*;
        let cases = [
            ("/api/v1/drivers/../../internal/drivers", DotSegment),
            ("/api/v1/drivers/%2e%2e/%2e%2e/internal", DotSegment),
            ("/api/v1/drivers/%2E%2E/x", DotSegment),
            ("/api/v1/drivers/.%2E/x", DotSegment),
            ("/api/v1/drivers/%2e./x", DotSegment),
            ("/api/v1/drivers/%2e/x", DotSegment),
            ("/api/v1/drivers/./x", DotSegment),
            ("/api/v1/drivers/..;/internal", DotSegment),
            ("/api/v1/drivers/%2e%2e;x/internal", DotSegment),
            ("/api/v1/drivers/%252e%252e/internal", DotSegment),
            ("/api/v1/drivers/%25252e%25252e/internal", DotSegment),
            ("/api/v1/drivers/..", DotSegment),
            ("/api/v1/drivers%2f..%2finternal", EncodedSeparator),
            ("/api/v1/drivers%2F..", EncodedSeparator),
            ("/api/v1/drivers%5c..", EncodedSeparator),
            ("/api/v1/drivers%255c..", EncodedSeparator),
            ("/api/v1/drivers\\..\\internal", Backslash),
            ("/api/v1/trips/%00", ControlCharacter),
            ("/api/v1/trips/%0a", ControlCharacter),
            ("/api/v1/trips/%zz", MalformedEscape),
            ("/api/v1/trips/%2", MalformedEscape),
        ];
        for (path, problem) in cases {
            assert_eq!(check_path(path), Err(problem), "{path}");
        }
    }

    /// A segment made of dots and their encodings, any case, maybe encoded
    /// twice: `..`, `%2e.`, `%252E%2e`, ...
    fn dot_spelling() -> impl Strategy<Value = String> {
        let dot = prop_oneof![
            Just(".".to_string()),
            Just("%2e".to_string()),
            Just("%2E".to_string()),
            Just("%252e".to_string()),
            Just("%252E".to_string()),
        ];
        (proptest::collection::vec(dot, 1..=2), prop::bool::ANY).prop_map(|(dots, semi)| {
            let mut segment = dots.concat();
            if semi {
                segment.push_str(";x");
            }
            segment
        })
    }

    proptest! {
        #[test]
        fn a_dot_segment_anywhere_is_refused(
            before in proptest::collection::vec("[a-z0-9]{1,8}", 0..4),
            dots in dot_spelling(),
            after in proptest::collection::vec("[a-z0-9]{1,8}", 0..4),
        ) {
            let path = format!("/{}", [before, vec![dots], after].concat().join("/"));
            prop_assert_eq!(check_path(&path), Err(PathProblem::DotSegment), "{}", path);
        }

        #[test]
        fn an_encoded_separator_anywhere_is_refused(
            head in "[a-z0-9]{0,8}",
            sep in prop_oneof![Just("%2f"), Just("%2F"), Just("%5c"), Just("%5C"), Just("%252f")],
            tail in "[a-z0-9]{0,8}",
        ) {
            let path = format!("/api/{head}{sep}{tail}");
            prop_assert_eq!(check_path(&path), Err(PathProblem::EncodedSeparator), "{}", path);
        }

        /// What passes has no segment that is a dot segment once decoded,
        /// however many times.
        #[test]
        fn what_passes_never_decodes_to_a_dot_segment(path in "/[a-zA-Z0-9%./;]{0,24}") {
            if check_path(&path).is_ok() {
                for segment in path.split('/') {
                    let mut value = segment.to_string();
                    for _ in 0..DECODE_ROUNDS {
                        let bare = value.split(';').next().unwrap_or_default().to_string();
                        prop_assert!(bare != "." && bare != "..", "{}", path);
                        match decode(&value) {
                            Some(next) => value = next,
                            None => break,
                        }
                    }
                }
            }
        }
    }
}
