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
use crate::symbol::{
    ALIAS, CRATE, DEFAULT, ERROR, FLASH, FLASH_QUEUE, MERGE, MIGRATE, MISSING, ON_CONFLICT,
    ON_WRONG_TYPE, OVERWRITE, QUEUE, REJECT, RENAME, SESSION, SKIP, Symbol,
};

/// `#[session(...)]` on the struct, or the arguments of `#[flash_queue(...)]`.
#[derive(Default)]
pub(crate) struct Container {
    /// `crate = path`: where the runtime crate is, for users who re-export it.
    pub krate: Option<Path>,
    /// `on_wrong_type = "..."`: the rule for every field (or message) without its own.
    pub on_wrong_type: Option<OnWrongType>,
    /// `on_conflict = "..."`: the policy of every field without its own (schemas only).
    pub on_conflict: Option<OnConflict>,
}

/// `#[session(...)]` on a field.
#[derive(Default)]
pub(crate) struct FieldAttrs {
    /// `rename = "key"`: the session key, when it is not the field's name.
    pub rename: Option<LitStr>,
    /// `default`: the word itself, so errors about it can point at it.
    pub default: Option<Path>,
    /// `alias = "old"`, once per older key, in order.
    pub aliases: Vec<LitStr>,
    /// `migrate = path`: the function reading an older shape.
    pub migrate: Option<Path>,
    /// `on_wrong_type = "..."`.
    pub on_wrong_type: Option<OnWrongType>,
    /// `merge = path`: the function merging two requests' changes.
    pub merge: Option<Path>,
    /// `on_conflict = "..."`, with its literal for errors about it.
    pub on_conflict: Option<(OnConflict, LitStr)>,
}

/// What a typed read does with a stored value of another type: the runtime's
/// `OnWrongType`, as the attribute spells it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnWrongType {
    /// `"error"`
    Error,
    /// `"missing"` on a schema, `"skip"` on a flash queue.
    Ignore,
}

/// What a server-side save does when another request changed the field's key since this
/// one loaded it, short of a merge: the runtime's `Resolve`, as the attribute spells it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnConflict {
    /// `"overwrite"`: the last save wins, as without a check.
    Overwrite,
    /// `"reject"`: the later save fails with `409 Conflict`.
    Reject,
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
    let example = "#[session(crate = path::to::session)]";
    each_meta(cx, attrs, SESSION, example, |meta| {
        if meta.path == CRATE {
            // #[session(crate = path::to::session)] or #[session(crate = "path")]
            let path = parse_crate_path(meta, SESSION)?;
            set_once(cx, meta, SESSION, &mut container.krate, path);
        } else if meta.path == ON_WRONG_TYPE {
            // #[session(on_wrong_type = "error")] or "missing"
            if let Some((rule, _)) = choice(cx, meta, SESSION, ON_WRONG_TYPE, SCHEMA_RULES)? {
                set_once(cx, meta, SESSION, &mut container.on_wrong_type, rule);
            }
        } else if meta.path == ON_CONFLICT {
            // #[session(on_conflict = "overwrite")] or "reject"
            if let Some((policy, _)) = choice(cx, meta, SESSION, ON_CONFLICT, CONFLICT_POLICIES)? {
                set_once(cx, meta, SESSION, &mut container.on_conflict, policy);
            }
        } else if meta.path == MERGE {
            // A merge function takes one field's type: there is no struct-wide one.
            misplaced(
                cx,
                meta,
                "`#[session(merge)]` goes on a field, not on the struct: a merge function \
                 takes the field's type; the struct can set `on_conflict = \"reject\"` or \
                 `\"overwrite\"` for every field",
            )?;
        } else if [RENAME, DEFAULT, ALIAS, MIGRATE]
            .iter()
            .any(|word| meta.path == *word)
        {
            let name = path_name(&meta.path);
            misplaced(
                cx,
                meta,
                format!("`#[session({name})]` goes on a field, not on the struct"),
            )?;
        } else {
            unknown(
                cx,
                meta,
                "`#[session]` struct attribute",
                "`crate`, `on_wrong_type` or `on_conflict`",
            )?;
        }
        Ok(())
    });
    container
}

/// The arguments of `#[flash_queue(...)]`.
pub(crate) fn flash_queue_args(cx: &Ctxt, args: TokenStream) -> Container {
    let mut container = Container::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path == CRATE {
            // #[flash_queue(crate = path::to::session)]
            let path = parse_crate_path(&meta, FLASH_QUEUE)?;
            set_once(cx, &meta, FLASH_QUEUE, &mut container.krate, path);
        } else if meta.path == ON_WRONG_TYPE {
            // #[flash_queue(on_wrong_type = "error")] or "skip"
            if let Some((rule, _)) = choice(cx, &meta, FLASH_QUEUE, ON_WRONG_TYPE, FLASH_RULES)? {
                set_once(cx, &meta, FLASH_QUEUE, &mut container.on_wrong_type, rule);
            }
        } else {
            unknown(
                cx,
                &meta,
                "`#[flash_queue]` argument",
                "`crate` or `on_wrong_type`",
            )?;
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
    let example = "#[session(rename = \"key\")]` or `#[session(default)]";
    each_meta(cx, attrs, SESSION, example, |meta| {
        if meta.path == RENAME {
            // #[session(rename = "key")]
            if let Some(lit) = string_value(cx, meta, SESSION, RENAME)? {
                set_once(cx, meta, SESSION, &mut field.rename, lit);
            }
        } else if meta.path == DEFAULT {
            // #[session(default)]
            if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
                cx.syn_error(meta.error(
                    "`#[session(default)]` takes no value: a missing key reads as \
                     `Default::default()`",
                ));
                skip_value(meta)?;
            }
            set_once(cx, meta, SESSION, &mut field.default, meta.path.clone());
        } else if meta.path == ALIAS {
            // #[session(alias = "old_key")], once per older key
            if let Some(lit) = string_value(cx, meta, SESSION, ALIAS)? {
                field.aliases.push(lit);
            }
        } else if meta.path == MIGRATE {
            // #[session(migrate = path::to::function)] or #[session(migrate = "path")]
            if let Some(path) = path_value(cx, meta, SESSION, MIGRATE)? {
                set_once(cx, meta, SESSION, &mut field.migrate, path);
            }
        } else if meta.path == ON_WRONG_TYPE {
            // #[session(on_wrong_type = "error")] or "missing"
            if let Some((rule, _)) = choice(cx, meta, SESSION, ON_WRONG_TYPE, SCHEMA_RULES)? {
                set_once(cx, meta, SESSION, &mut field.on_wrong_type, rule);
            }
        } else if meta.path == MERGE {
            // #[session(merge = path::to::function)] or #[session(merge = "path")]
            if let Some(path) = path_value(cx, meta, SESSION, MERGE)? {
                set_once(cx, meta, SESSION, &mut field.merge, path);
            }
        } else if meta.path == ON_CONFLICT {
            // #[session(on_conflict = "overwrite")] or "reject"
            if let Some(policy) = choice(cx, meta, SESSION, ON_CONFLICT, CONFLICT_POLICIES)? {
                set_once(cx, meta, SESSION, &mut field.on_conflict, policy);
            }
        } else if meta.path == CRATE {
            misplaced(
                cx,
                meta,
                "`#[session(crate)]` goes on the struct, not on a field",
            )?;
        } else {
            unknown(
                cx,
                meta,
                "`#[session]` field attribute",
                "`rename`, `default`, `alias`, `migrate`, `on_wrong_type`, `merge` or \
                 `on_conflict`",
            )?;
        }
        Ok(())
    });
    field
}

/// `#[flash(...)]` on a variant of a `#[flash_queue]` enum.
pub(crate) fn variant(cx: &Ctxt, attrs: &[Attribute]) -> VariantAttrs {
    let mut variant = VariantAttrs::default();
    each_meta(cx, attrs, FLASH, "#[flash(queue = \"name\")]", |meta| {
        if meta.path == QUEUE {
            // #[flash(queue = "name")]
            if let Some(lit) = string_value(cx, meta, FLASH, QUEUE)? {
                set_once(cx, meta, FLASH, &mut variant.queue, lit);
            }
        } else {
            unknown(cx, meta, "`#[flash]` attribute", "`queue`")?;
        }
        Ok(())
    });
    variant
}

/// Runs `parse` on each item of every `#[name(...)]` attribute in `attrs`; every error goes
/// to `cx`, and parsing goes on with the next attribute.
fn each_meta(
    cx: &Ctxt,
    attrs: &[Attribute],
    name: Symbol,
    example: &str,
    mut parse: impl FnMut(&ParseNestedMeta) -> syn::Result<()>,
) {
    for attr in attrs.iter().filter(|attr| attr.path() == name) {
        if !is_list(cx, attr, example) {
            continue;
        }
        if let Err(err) = attr.parse_nested_meta(|meta| parse(&meta)) {
            cx.syn_error(err);
        }
    }
}

/// An attribute item nobody knows: an error naming it and what is expected, then its value
/// is read past.
fn unknown(cx: &Ctxt, meta: &ParseNestedMeta, what: &str, expected: &str) -> syn::Result<()> {
    let name = path_name(&meta.path);
    cx.error_spanned_by(
        &meta.path,
        format!("unknown {what} `{name}`: expected {expected}"),
    );
    skip_value(meta)
}

/// An attribute item in the wrong place: `message` on its name, then its value is read past.
fn misplaced(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    message: impl std::fmt::Display,
) -> syn::Result<()> {
    cx.error_spanned_by(&meta.path, message);
    skip_value(meta)
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
fn set_once<T>(cx: &Ctxt, meta: &ParseNestedMeta, attr: Symbol, slot: &mut Option<T>, value: T) {
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
    attr: Symbol,
    name: Symbol,
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

/// The `on_wrong_type` values of a schema and of a flash queue, with the rule each names.
const SCHEMA_RULES: &[(Symbol, OnWrongType)] =
    &[(ERROR, OnWrongType::Error), (MISSING, OnWrongType::Ignore)];
const FLASH_RULES: &[(Symbol, OnWrongType)] =
    &[(ERROR, OnWrongType::Error), (SKIP, OnWrongType::Ignore)];

/// The `on_conflict` values, with the policy each names (`merge` is an attribute of its own,
/// as it takes a function).
const CONFLICT_POLICIES: &[(Symbol, OnConflict)] = &[
    (OVERWRITE, OnConflict::Overwrite),
    (REJECT, OnConflict::Reject),
];

/// `name = "..."`, one of `rules` (`on_wrong_type`, `on_conflict`), with its literal; another
/// value is an error on the literal that lists them.
fn choice<T: Copy>(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    attr: Symbol,
    name: Symbol,
    rules: &[(Symbol, T)],
) -> syn::Result<Option<(T, LitStr)>> {
    let Some(lit) = string_value(cx, meta, attr, name)? else {
        return Ok(None);
    };
    let value = lit.value();
    if let Some((_, rule)) = rules.iter().find(|(word, _)| *value == *word) {
        return Ok(Some((*rule, lit)));
    }
    let expected: Vec<String> = rules
        .iter()
        .map(|(name, _)| format!("`\"{name}\"`"))
        .collect();
    cx.error_spanned_by(
        &lit,
        format!(
            "unknown `#[{attr}({name})]` value `\"{value}\"`: expected {}",
            expected.join(" or ")
        ),
    );
    Ok(None)
}

/// `name = path` or `name = "path"`; anything else is recorded as an error and read past.
fn path_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    attr: Symbol,
    name: Symbol,
) -> syn::Result<Option<Path>> {
    let expected =
        format!("`#[{attr}({name})]` expects a path to a function: `{name} = path::to::f`");
    if !meta.input.peek(Token![=]) {
        cx.syn_error(meta.error(expected));
        skip_value(meta)?;
        return Ok(None);
    }
    match meta.value()?.parse::<Expr>()? {
        Expr::Path(path) if path.qself.is_none() => Ok(Some(path.path)),
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => match lit.parse::<Path>() {
            Ok(path) => Ok(Some(path)),
            Err(_) => {
                cx.error_spanned_by(lit, expected);
                Ok(None)
            }
        },
        other => {
            cx.error_spanned_by(other, expected);
            Ok(None)
        }
    }
}

/// `crate = path` or `crate = "path"`.
fn parse_crate_path(meta: &ParseNestedMeta, attr: Symbol) -> syn::Result<Path> {
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
