//! Variant names to queue names: `Success` -> `success`, `HttpError` and `HTTPError` ->
//! `http_error`.

/// Snake case of a `CamelCase` name. A word boundary is an uppercase letter after a
/// lowercase letter or digit, or the last uppercase letter of a run followed by a lowercase
/// one (`HTTPError` -> `http_error`). Underscores and digits are kept as they are.
pub(crate) fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let boundary = prev.is_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_uppercase() && next_is_lower);
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn queue_names() {
        for (name, queue) in [
            ("Success", "success"),
            ("Error", "error"),
            ("PageWarning", "page_warning"),
            ("HTTPError", "http_error"),
            ("HttpError", "http_error"),
            ("IOError", "io_error"),
            ("Error404", "error404"),
            ("Error404Page", "error404_page"),
            ("Already_Snake", "already_snake"),
            ("A", "a"),
            ("ABC", "abc"),
        ] {
            assert_eq!(snake_case(name), queue, "{name}");
        }
    }
}
