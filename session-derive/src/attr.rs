//! Parses the macros' attributes: `#[session(...)]` on a schema struct and its fields,
//! `#[flash(...)]` on a flash queue variant, and the arguments of `#[flash_queue(...)]`.
//!
//! Every problem is recorded on the [`Ctxt`] and parsing goes on, so that one compile
//! shows every bad attribute.

use proc_macro2::TokenStream;
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Attribute, Expr, ExprLit, Lit, LitStr, Path, Token};

use crate::ctxt::Ctxt;

/// `#[session(...)]` on the struct, or the arguments of `#[flash_queue(...)]`.
#[derive(Default)]
pub(crate) struct Container {
    /// `crate = path`: where the runtime crate is, for users who re-export it.
    pub krate: Option<Path>,
}

/// `#[session(...)]` on a field.
#[derive(Default)]
pub(crate) struct FieldAttrs {
    /// `rename = "key"`: the session key, when it is not the field's name.
    pub rename: Option<LitStr>,
    /// `default`: the word itself, so errors about it can point at it.
    pub default: Option<Path>,
}

/// `#[flash(...)]` on a variant.
#[derive(Default)]
pub(crate) struct VariantAttrs {
    /// `queue = "name"`: the queue, when it is not the variant's name in snake case.
    pub queue: Option<LitStr>,
}

/// `#[session(...)]` on the struct of a `#[derive(SessionSchema)]`.
pub(crate) fn container(cx: &Ctxt, attrs: &[Attribute]) -> Container {
    let mut container = Container::default();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("session")) {
        if !is_list(cx, attr, "#[session(crate = path::to::session)]") {
            continue;
        }
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                // #[session(crate = path::to::session)] or #[session(crate = "path")]
                let path = parse_crate_path(&meta, "session")?;
                set_once(cx, &meta, "session", &mut container.krate, path);
            } else if meta.path.is_ident("rename") || meta.path.is_ident("default") {
                let name = path_name(&meta.path);
                cx.error_spanned_by(
                    &meta.path,
                    format!("`#[session({name})]` goes on a field, not on the struct"),
                );
                skip_value(&meta)?;
            } else {
                let name = path_name(&meta.path);
                cx.error_spanned_by(
                    &meta.path,
                    format!("unknown `#[session]` struct attribute `{name}`: expected `crate`"),
                );
                skip_value(&meta)?;
            }
            Ok(())
        });
        if let Err(err) = result {
            cx.syn_error(err);
        }
    }
    container
}

/// The arguments of `#[flash_queue(...)]`.
pub(crate) fn flash_queue_args(cx: &Ctxt, args: TokenStream) -> Container {
    let mut container = Container::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("crate") {
            // #[flash_queue(crate = path::to::session)]
            let path = parse_crate_path(&meta, "flash_queue")?;
            set_once(cx, &meta, "flash_queue", &mut container.krate, path);
        } else {
            let name = path_name(&meta.path);
            cx.error_spanned_by(
                &meta.path,
                format!("unknown `#[flash_queue]` argument `{name}`: expected `crate`"),
            );
            skip_value(&meta)?;
        }
        Ok(())
    });
    if let Err(err) = parser.parse2(args) {
        cx.syn_error(err);
    }
    container
}

/// `#[session(...)]` on a field of a `#[derive(SessionSchema)]` struct.
pub(crate) fn field(cx: &Ctxt, attrs: &[Attribute]) -> FieldAttrs {
    let mut field = FieldAttrs::default();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("session")) {
        if !is_list(
            cx,
            attr,
            "#[session(rename = \"key\")]` or `#[session(default)]",
        ) {
            continue;
        }
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                // #[session(rename = "key")]
                if let Some(lit) = string_value(cx, &meta, "session", "rename")? {
                    set_once(cx, &meta, "session", &mut field.rename, lit);
                }
            } else if meta.path.is_ident("default") {
                // #[session(default)]
                if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
                    cx.syn_error(meta.error(
                        "`#[session(default)]` takes no value: a missing key reads as \
                         `Default::default()`",
                    ));
                    skip_value(&meta)?;
                }
                set_once(cx, &meta, "session", &mut field.default, meta.path.clone());
            } else if meta.path.is_ident("crate") {
                cx.error_spanned_by(
                    &meta.path,
                    "`#[session(crate)]` goes on the struct, not on a field",
                );
                skip_value(&meta)?;
            } else {
                let name = path_name(&meta.path);
                cx.error_spanned_by(
                    &meta.path,
                    format!(
                        "unknown `#[session]` field attribute `{name}`: expected `rename` or \
                         `default`"
                    ),
                );
                skip_value(&meta)?;
            }
            Ok(())
        });
        if let Err(err) = result {
            cx.syn_error(err);
        }
    }
    field
}

/// `#[flash(...)]` on a variant of a `#[flash_queue]` enum.
pub(crate) fn variant(cx: &Ctxt, attrs: &[Attribute]) -> VariantAttrs {
    let mut variant = VariantAttrs::default();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("flash")) {
        if !is_list(cx, attr, "#[flash(queue = \"name\")]") {
            continue;
        }
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("queue") {
                // #[flash(queue = "name")]
                if let Some(lit) = string_value(cx, &meta, "flash", "queue")? {
                    set_once(cx, &meta, "flash", &mut variant.queue, lit);
                }
            } else {
                let name = path_name(&meta.path);
                cx.error_spanned_by(
                    &meta.path,
                    format!("unknown `#[flash]` attribute `{name}`: expected `queue`"),
                );
                skip_value(&meta)?;
            }
            Ok(())
        });
        if let Err(err) = result {
            cx.syn_error(err);
        }
    }
    variant
}

/// Whether `attr` is a list, `#[name(...)]`; records an error when it is not.
fn is_list(cx: &Ctxt, attr: &Attribute, example: &str) -> bool {
    if let syn::Meta::List(_) = attr.meta {
        return true;
    }
    let name = path_name(attr.path());
    cx.error_spanned_by(attr, format!("`#[{name}]` expects a list: `{example}`"));
    false
}

/// Keeps the first value of an attribute; a second one is an error on its name.
fn set_once<T>(cx: &Ctxt, meta: &ParseNestedMeta, attr: &str, slot: &mut Option<T>, value: T) {
    if slot.is_some() {
        let name = path_name(&meta.path);
        cx.error_spanned_by(
            &meta.path,
            format!("duplicate `#[{attr}({name})]` attribute"),
        );
    } else {
        *slot = Some(value);
    }
}

/// `name = "..."`; a value that is not a string literal is recorded as an error and read
/// past, so the rest of the attribute is still checked.
fn string_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    attr: &str,
    name: &str,
) -> syn::Result<Option<LitStr>> {
    let expected = format!("`#[{attr}({name})]` expects a string literal: `{name} = \"...\"`");
    if !meta.input.peek(Token![=]) {
        cx.syn_error(meta.error(expected));
        skip_value(meta)?;
        return Ok(None);
    }
    match meta.value()?.parse::<Expr>()? {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(Some(lit)),
        other => {
            cx.error_spanned_by(other, expected);
            Ok(None)
        }
    }
}

/// `crate = path` or `crate = "path"`.
fn parse_crate_path(meta: &ParseNestedMeta, attr: &str) -> syn::Result<Path> {
    let expected = format!("`#[{attr}(crate)]` expects a path: `crate = path::to::session`");
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(expected));
    }
    let value = meta.value()?;
    if value.peek(LitStr) {
        let lit: LitStr = value.parse()?;
        return lit.parse_with(Path::parse_mod_style);
    }
    Path::parse_mod_style(value).map_err(|err| syn::Error::new(err.span(), expected))
}

/// Reads past the value of an attribute that was reported: `= expr` or `(...)`.
fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}

fn path_name(path: &Path) -> String {
    path.segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}
