//! Reference resolution (RFC 3986 §5.2), so spliced playlists carry absolute URIs and
//! play from a `blob:` URL. Written by hand: the `url` crate's IDNA tables would more than
//! double the WebAssembly package, and resolution needs no normalisation of hosts.

/// Whether `reference` starts with a scheme (`http:`, `blob:`, ...).
pub fn has_scheme(reference: &str) -> bool {
    match reference.find(':') {
        Some(colon) if colon > 0 => reference.get(..colon).is_some_and(|scheme| {
            scheme.bytes().enumerate().all(|(i, b)| {
                b.is_ascii_alphabetic()
                    || (i > 0 && (b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.')))
            })
        }),
        _ => false,
    }
}

/// Resolves `reference` against `base` (an absolute URI); returns `reference` unchanged
/// when `base` is not absolute or cannot serve as a base.
pub fn resolve(base: &str, reference: &str) -> String {
    if has_scheme(reference) {
        return reference.to_owned();
    }
    let Some((scheme, rest)) = base.split_once(':') else {
        return reference.to_owned();
    };
    if !has_scheme(base) {
        return reference.to_owned();
    }
    let rest = rest.split('#').next().unwrap_or("");
    let (authority, path_and_query) = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find(['/', '?']).unwrap_or(after.len());
            (
                Some(after.get(..end).unwrap_or("")),
                after.get(end..).unwrap_or(""),
            )
        }
        None => (None, rest),
    };
    let (base_path, base_query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    let prefix = match authority {
        Some(a) => format!("{scheme}://{a}"),
        None => format!("{scheme}:"),
    };
    if let Some(net) = reference.strip_prefix("//") {
        return format!("{scheme}://{}", remove_dots_after_authority(net));
    }
    let (ref_main, fragment) = match reference.split_once('#') {
        Some((m, f)) => (m, Some(f)),
        None => (reference, None),
    };
    let (ref_path, ref_query) = match ref_main.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (ref_main, None),
    };
    let (path, query) = if ref_path.is_empty() {
        (base_path.to_owned(), ref_query.or(base_query))
    } else if ref_path.starts_with('/') {
        (remove_dot_segments(ref_path), ref_query)
    } else {
        (
            remove_dot_segments(&merge(authority.is_some(), base_path, ref_path)),
            ref_query,
        )
    };
    let mut out = prefix + &path;
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

fn remove_dots_after_authority(net: &str) -> String {
    let end = net.find(['/', '?', '#']).unwrap_or(net.len());
    let (authority, rest) = net.split_at(end);
    if rest.starts_with('/') {
        let (path, tail) = rest.split_at(rest.find(['?', '#']).unwrap_or(rest.len()));
        format!("{authority}{}{tail}", remove_dot_segments(path))
    } else {
        net.to_owned()
    }
}

/// RFC 3986 §5.2.3.
fn merge(has_authority: bool, base_path: &str, reference: &str) -> String {
    if has_authority && base_path.is_empty() {
        return format!("/{reference}");
    }
    match base_path.rfind('/') {
        Some(slash) => format!("{}{reference}", base_path.get(..=slash).unwrap_or("")),
        None => reference.to_owned(),
    }
}

/// RFC 3986 §5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut output: Vec<&str> = Vec::new();
    let absolute = path.starts_with('/');
    let segments: Vec<&str> = path.split('/').skip(usize::from(absolute)).collect();
    let last = segments.len().saturating_sub(1);
    let mut trailing_slash = false;
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => trailing_slash = i == last,
            ".." => {
                output.pop();
                trailing_slash = i == last;
            }
            s => {
                output.push(s);
                trailing_slash = false;
            }
        }
    }
    let mut out = String::with_capacity(path.len());
    if absolute {
        out.push('/');
    }
    out.push_str(&output.join("/"));
    if trailing_slash && !out.ends_with('/') {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3986_examples() {
        // RFC 3986 §5.4.1 normal examples (those without fragments and parameters).
        let base = "http://a/b/c/d;p?q";
        let cases = [
            ("g:h", "g:h"),
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q#s"),
            ("g#s", "http://a/b/c/g#s"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            ("..g", "http://a/b/c/..g"),
            ("./../g", "http://a/b/g"),
            ("g/./h", "http://a/b/c/g/h"),
            ("g/../h", "http://a/b/c/h"),
        ];
        for (reference, want) in cases {
            assert_eq!(resolve(base, reference), want, "{reference:?}");
        }
    }

    #[test]
    fn playlist_cases() {
        assert_eq!(
            resolve("http://127.0.0.1:8080/rec/a/index.m3u8", "seg0.ts"),
            "http://127.0.0.1:8080/rec/a/seg0.ts"
        );
        assert_eq!(
            resolve("http://h/x/index.m3u8?token=1", "seg0.ts"),
            "http://h/x/seg0.ts"
        );
        assert_eq!(
            resolve("http://h/x/index.m3u8", "https://cdn/s.ts"),
            "https://cdn/s.ts"
        );
        assert_eq!(resolve("not a url", "seg0.ts"), "seg0.ts");
        assert_eq!(
            resolve("file:///tmp/a/i.m3u8", "s.ts"),
            "file:///tmp/a/s.ts"
        );
        assert!(has_scheme("blob:http://x/1"));
        assert!(!has_scheme("seg:1.ts".get(3..).unwrap_or_default()));
        assert!(!has_scheme("1a:b"));
    }
}
