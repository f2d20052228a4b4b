//! Rules across fields and variants: keys and queues, reserved names, accessor names, and
//! the map key types JSON cannot hold.

use std::collections::BTreeMap;

use syn::{GenericArgument, PathArguments, Type};

use crate::accessor::Accessor;
use crate::ast::{Field, FlashEnum, Schema, Shape};
use crate::ctxt::Ctxt;
use crate::reserved::{AUTH_HASH_KEY, AUTH_USER_KEY, CSRF_KEY, FLASH_PREFIX, SESSION_METHODS};

pub(crate) fn check_schema(cx: &Ctxt, schema: &Schema) {
    check_keys(cx, schema);
    let mut methods: BTreeMap<String, &syn::Ident> = BTreeMap::new();
    for field in &schema.fields {
        check_one_conflict_policy(cx, field);
        let key = field.key.as_str();
        let name = field.name();
        for method in Accessor::ALL.map(|accessor| accessor.name(&name)) {
            if SESSION_METHODS.contains(&method.as_str()) {
                cx.error_spanned_by(
                    field.ident,
                    format!(
                        "field `{name}` would get the accessor `{method}()`, which \
                         `Session::{method}` shadows: rename the field and keep its key with \
                         `#[session(rename = \"{key}\")]`"
                    ),
                );
            } else if let Some(first) = methods.insert(method.clone(), field.ident) {
                cx.error_spanned_by(
                    field.ident,
                    format!(
                        "field `{name}` would get the accessor `{method}()`, which field \
                         `{first}` gets already: rename one of the fields (the key can stay, \
                         with `#[session(rename = \"...\")]`)"
                    ),
                );
            }
        }

        check_owned(cx, field.ty);
        for key_ty in map_keys(field.ty) {
            if let MapKey::Rejected(why) = map_key(key_ty) {
                cx.error_spanned_by(
                    key_ty,
                    format!(
                        "{why} cannot be a JSON object key, so this map cannot be stored in a \
                         session: key it by `String`, an integer type or `char`"
                    ),
                );
            }
        }
    }
}

/// A field has one conflict policy: a merge function, or `on_conflict`.
///
/// Rejects `#[session(merge = add, on_conflict = "reject")] cart: Vec<Line>`.
fn check_one_conflict_policy(cx: &Ctxt, field: &Field) {
    if let (Some(_), Some((_, lit))) = (&field.attrs.merge, &field.attrs.on_conflict) {
        cx.error_spanned_by(
            lit,
            format!(
                "field `{}` has both `merge` and `on_conflict`: a merge is its conflict policy \
                 already, so remove `on_conflict` (or `merge`, to reject or overwrite instead)",
                field.name()
            ),
        );
    }
}

/// Every key a schema reads is one field's: its own key or one of its older keys.
///
/// Rejects `#[session(rename = "cart")] basket: u8, cart: u8`, and
/// `#[session(alias = "cart")] items: Vec<u8>, cart: Vec<u8>`; and keys the runtime keeps
/// for itself (`_f_...`, `_csrft_`).
fn check_keys(cx: &Ctxt, schema: &Schema) {
    let mut owners: BTreeMap<String, (&syn::Ident, bool)> = BTreeMap::new();
    for field in &schema.fields {
        for (key, tokens, is_alias) in field.keys() {
            if let Some((first, first_is_alias)) =
                owners.insert(key.clone(), (field.ident, is_alias))
            {
                if is_alias && !first_is_alias && first == field.ident {
                    cx.error_spanned_by(
                        tokens,
                        format!("`{key}` is the key of field `{first}` itself: remove this alias"),
                    );
                    continue;
                }
                let owner = if first_is_alias {
                    format!("an older key (`alias`) of field `{first}`")
                } else {
                    format!("used by field `{first}`")
                };
                let fix = if is_alias {
                    "remove one of the aliases"
                } else {
                    "give one of them another key with `#[session(rename = \"...\")]`"
                };
                cx.error_spanned_by(
                    tokens,
                    format!("session key `{key}` is already {owner}: {fix}"),
                );
            }
            check_reserved(cx, &key, tokens, is_alias);
        }
    }
}

/// Keys that hold flash queues, the CSRF token or the signed-in user cannot be fields or
/// aliases.
fn check_reserved(cx: &Ctxt, key: &str, tokens: &dyn quote::ToTokens, is_alias: bool) {
    let fix = if is_alias {
        "remove this alias"
    } else {
        "pick another key with `#[session(rename = \"...\")]`"
    };
    if key.starts_with(FLASH_PREFIX) {
        let or_flash = if is_alias {
            ""
        } else {
            ", or use `#[flash_queue]` for flash messages"
        };
        cx.error_spanned_by(
            tokens,
            format!(
                "session key `{key}` starts with `{FLASH_PREFIX}`, which holds flash queues: \
                 {fix}{or_flash}"
            ),
        );
    } else if key == CSRF_KEY {
        let for_token = if is_alias {
            ""
        } else {
            ", and use `get_csrf_token()` for the token"
        };
        cx.error_spanned_by(
            tokens,
            format!("session key `{CSRF_KEY}` holds the CSRF token: {fix}{for_token}"),
        );
    } else if key == AUTH_USER_KEY || key == AUTH_HASH_KEY {
        cx.error_spanned_by(
            tokens,
            format!("session key `{key}` holds the signed-in user, which sign-in writes: {fix}"),
        );
    }
}

pub(crate) fn check_flash_queue(cx: &Ctxt, flash: &FlashEnum) {
    if flash.variants.is_empty() {
        cx.error_spanned_by(
            flash.ident,
            "`#[flash_queue]` needs at least one variant: each variant is a flash queue",
        );
    }
    let mut queues: BTreeMap<&str, &syn::Ident> = BTreeMap::new();
    for variant in &flash.variants {
        let ident = variant.ident;
        match variant.shape {
            Shape::Empty => cx.error_spanned_by(
                ident,
                format!(
                    "variant `{ident}` carries no message: give it one, as in \
                     `{ident}(String)` or `{ident} {{ code: u16, text: String }}` (`{ident}(())` \
                     queues `null`)"
                ),
            ),
            Shape::Tuple => cx.error_spanned_by(
                variant.fields,
                format!(
                    "variant `{ident}` has several unnamed fields: a message is one value \
                     `{ident}(T)`, or named fields `{ident} {{ .. }}` that become a JSON object"
                ),
            ),
            Shape::Newtype(ty) => check_owned(cx, ty),
            Shape::Struct(ref members) => {
                for member in members {
                    check_owned(cx, member.ty);
                }
            }
        }
        let queue = variant.queue.as_str();
        if let Some(first) = queues.insert(queue, ident) {
            let tokens: &dyn quote::ToTokens = match &variant.queue_lit {
                Some(lit) => lit,
                None => ident,
            };
            let message = if queue.is_empty() {
                format!(
                    "only one variant can take the default queue `\"\"`, and `{first}` has it \
                     already"
                )
            } else {
                format!(
                    "flash queue `{queue}` is already the queue of variant `{first}`: give one \
                     of them another with `#[flash(queue = \"...\")]`"
                )
            };
            cx.error_spanned_by(tokens, message);
        }
    }
}

/// A reference in a stored type: serde can never produce it from a session's JSON (the
/// compiler would say "`Deserialize` is not general enough", on the macro).
fn check_owned(cx: &Ctxt, ty: &Type) {
    if let Some(reference) = find_reference(ty) {
        cx.error_spanned_by(
            reference,
            "a session value cannot borrow: it is read back from JSON, so store an owned type \
             (`String` for `&str`, `Vec<T>` for `&[T]`)",
        );
    }
}

fn find_reference(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Reference(_) => Some(ty),
        Type::Path(path) => path
            .path
            .segments
            .iter()
            .filter_map(|segment| match &segment.arguments {
                PathArguments::AngleBracketed(args) => Some(args),
                _ => None,
            })
            .flat_map(|args| &args.args)
            .find_map(|arg| match arg {
                GenericArgument::Type(ty) => find_reference(ty),
                _ => None,
            }),
        Type::Array(array) => find_reference(&array.elem),
        Type::Slice(slice) => find_reference(&slice.elem),
        Type::Paren(paren) => find_reference(&paren.elem),
        Type::Group(group) => find_reference(&group.elem),
        Type::Tuple(tuple) => tuple.elems.iter().find_map(find_reference),
        _ => None,
    }
}

/// What a map key type can be in JSON, as far as its syntax tells.
pub(crate) enum MapKey {
    /// Known to serialize as a string or an integer: nothing to check.
    Json,
    /// Known not to: the words that start the error message.
    Rejected(&'static str),
    /// Not known from the syntax: assert `typed_sessions::JsonKey` on it.
    Assert,
}

/// The key types of the maps in a field's type, wherever they nest: `HashMap<K, V>`,
/// `Vec<BTreeMap<K, V>>`, `Option<Box<HashMap<K, V>>>`, a map's values, tuples, arrays.
/// Seen through the syntax only: a type alias hides its maps (those fail when the session
/// is saved, with an error naming the key).
pub(crate) fn map_keys(ty: &Type) -> Vec<&Type> {
    let mut keys = Vec::new();
    collect_map_keys(ty, &mut keys);
    keys
}

fn collect_map_keys<'a>(ty: &'a Type, keys: &mut Vec<&'a Type>) {
    match ty {
        Type::Path(path) if path.qself.is_none() => {
            let Some(last) = path.path.segments.last() else {
                return;
            };
            let PathArguments::AngleBracketed(args) = &last.arguments else {
                return;
            };
            let mut types = args.args.iter().filter_map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty),
                _ => None,
            });
            if is_map(&last.ident)
                && let Some(key) = types.next()
            {
                keys.push(key);
            }
            for ty in types {
                collect_map_keys(ty, keys);
            }
        }
        Type::Array(array) => collect_map_keys(&array.elem, keys),
        Type::Slice(slice) => collect_map_keys(&slice.elem, keys),
        Type::Reference(reference) => collect_map_keys(&reference.elem, keys),
        Type::Paren(paren) => collect_map_keys(&paren.elem, keys),
        Type::Group(group) => collect_map_keys(&group.elem, keys),
        Type::Tuple(tuple) => {
            for elem in &tuple.elems {
                collect_map_keys(elem, keys);
            }
        }
        _ => {}
    }
}

fn is_map(ident: &syn::Ident) -> bool {
    ident == "HashMap" || ident == "BTreeMap" || ident == "IndexMap"
}

/// What `ty`, the key type of a map, can be in JSON.
pub(crate) fn map_key(ty: &Type) -> MapKey {
    match ty {
        Type::Paren(paren) => map_key(&paren.elem),
        Type::Group(group) => map_key(&group.elem),
        Type::Reference(reference) => map_key(&reference.elem),
        Type::Tuple(tuple) if tuple.elems.is_empty() => MapKey::Rejected("`()`"),
        Type::Tuple(_) => MapKey::Rejected("a tuple"),
        Type::Array(_) | Type::Slice(_) => MapKey::Rejected("an array"),
        Type::Path(path) if path.qself.is_none() => {
            let Some(last) = path.path.segments.last() else {
                return MapKey::Assert;
            };
            let ident = last.ident.to_string();
            match ident.as_str() {
                "f32" => MapKey::Rejected("`f32`"),
                "f64" => MapKey::Rejected("`f64`"),
                "bool" => MapKey::Rejected("`bool`"),
                "Option" => MapKey::Rejected("an `Option`"),
                "Vec" | "VecDeque" | "HashSet" | "BTreeSet" | "HashMap" | "BTreeMap"
                | "IndexMap" | "IndexSet" => MapKey::Rejected("a collection"),
                "Value" => MapKey::Rejected("a JSON `Value`"),
                "String" | "str" | "char" | "i8" | "i16" | "i32" | "i64" | "i128" | "isize"
                | "u8" | "u16" | "u32" | "u64" | "u128" | "usize"
                    if path.path.segments.len() == 1 =>
                {
                    MapKey::Json
                }
                _ => MapKey::Assert,
            }
        }
        _ => MapKey::Assert,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ty: &str) -> Vec<String> {
        let ty: Type = syn::parse_str(ty).unwrap();
        map_keys(&ty)
            .into_iter()
            .map(|key| quote::quote!(#key).to_string())
            .collect()
    }

    #[test]
    fn finds_map_keys_where_they_nest() {
        assert_eq!(keys("HashMap<String, u8>"), ["String"]);
        assert_eq!(
            keys("std::collections::BTreeMap<(u8, u8), u8>"),
            ["(u8 , u8)"]
        );
        assert_eq!(keys("Vec<Option<Box<HashMap<K, V>>>>"), ["K"]);
        assert_eq!(keys("HashMap<A, BTreeMap<B, C>>"), ["A", "B"]);
        assert_eq!(keys("(HashMap<A, u8>, [BTreeMap<B, u8>; 2])"), ["A", "B"]);
        assert!(keys("Vec<u8>").is_empty());
        assert!(keys("<T as Trait>::Map").is_empty());
    }

    #[test]
    fn classifies_map_keys() {
        let class = |ty: &str| match map_key(&syn::parse_str(ty).unwrap()) {
            MapKey::Json => "json",
            MapKey::Rejected(_) => "rejected",
            MapKey::Assert => "assert",
        };
        for ty in ["String", "u64", "char", "&str"] {
            assert_eq!(class(ty), "json", "{ty}");
        }
        for ty in [
            "(u8, u8)",
            "()",
            "f64",
            "bool",
            "Option<String>",
            "Vec<u8>",
            "[u8; 2]",
        ] {
            assert_eq!(class(ty), "rejected", "{ty}");
        }
        for ty in ["UserId", "my::String", "Uuid"] {
            assert_eq!(class(ty), "assert", "{ty}");
        }
    }
}
