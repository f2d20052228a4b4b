//! The macros' inputs as we need them: the syn nodes, borrowed, with their attributes
//! parsed. Shape errors (not a struct, not an enum, generics) are found here; rules across
//! fields and variants are in `valid.rs`.

use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, Generics, Ident, ItemEnum, LitStr, Path, Type, Visibility};

use crate::attr::{self, Container, FieldAttrs, OnConflict, OnWrongType};
use crate::case::snake_case;
use crate::ctxt::Ctxt;
use crate::symbol::FLASH;

/// A `#[derive(SessionSchema)]` struct.
pub(crate) struct Schema<'a> {
    pub ident: &'a Ident,
    pub vis: &'a Visibility,
    pub attrs: Container,
    pub fields: Vec<Field<'a>>,
}

/// One field of a schema: one session key.
pub(crate) struct Field<'a> {
    pub ident: &'a Ident,
    pub ty: &'a Type,
    pub attrs: FieldAttrs,
    /// The session key: the `rename` value, or the field's name without `r#`.
    pub key: String,
}

impl Field<'_> {
    /// The tokens that chose the key, for errors about it: the `rename` literal or the
    /// field's name.
    pub fn key_tokens(&self) -> &dyn ToTokens {
        match &self.attrs.rename {
            Some(lit) => lit,
            None => self.ident,
        }
    }

    /// The field's name without `r#`, as accessor names are built from it.
    pub fn name(&self) -> String {
        self.ident.unraw().to_string()
    }

    /// What a value of another type reads as: the field's rule, else the struct's, else
    /// the runtime's default (`missing`).
    pub fn on_wrong_type(&self, container: &Container) -> OnWrongType {
        self.attrs
            .on_wrong_type
            .or(container.on_wrong_type)
            .unwrap_or(OnWrongType::Ignore)
    }

    /// What a save does when another request changed the key meanwhile: the field's `merge`
    /// or `on_conflict`, else the struct's `on_conflict`, else the last save wins.
    pub fn conflict_policy<'s>(&'s self, container: &Container) -> ConflictPolicy<'s> {
        if let Some(path) = &self.attrs.merge {
            return ConflictPolicy::Merge(path);
        }
        match self
            .attrs
            .on_conflict
            .as_ref()
            .map(|(policy, _)| *policy)
            .or(container.on_conflict)
        {
            Some(OnConflict::Reject) => ConflictPolicy::Reject,
            Some(OnConflict::Overwrite) | None => ConflictPolicy::Overwrite,
        }
    }

    /// Every key the field reads: its key, then its older keys, each with the tokens that
    /// chose it and whether it is an alias.
    pub fn keys(&self) -> impl Iterator<Item = (String, &dyn ToTokens, bool)> {
        std::iter::once((self.key.clone(), self.key_tokens(), false)).chain(
            self.attrs
                .aliases
                .iter()
                .map(|lit| (lit.value(), lit as &dyn ToTokens, true)),
        )
    }
}

/// A field's conflict policy, resolved from its attributes and the struct's.
pub(crate) enum ConflictPolicy<'a> {
    /// Not checked: the last save wins.
    Overwrite,
    /// The later save fails with `409 Conflict`.
    Reject,
    /// The three versions go through this function.
    Merge(&'a Path),
}

impl<'a> Schema<'a> {
    /// `None` when the input is not a struct with named fields; the error is on `cx`.
    pub fn from_syn(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let attrs = attr::container(cx, &input.attrs);
        reject_generics(
            cx,
            &input.generics,
            "#[derive(SessionSchema)]",
            "cart: Vec<Item>",
        );
        let named = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => named,
                Fields::Unnamed(fields) => {
                    cx.error_spanned_by(
                        fields,
                        "`#[derive(SessionSchema)]` needs named fields, one per session key: \
                         `struct Shop { cart: Vec<Item> }`",
                    );
                    return None;
                }
                Fields::Unit => {
                    cx.error_spanned_by(
                        &input.ident,
                        "`#[derive(SessionSchema)]` needs named fields, one per session key: \
                         `struct Shop { cart: Vec<Item> }`",
                    );
                    return None;
                }
            },
            Data::Enum(data) => {
                cx.error_spanned_by(
                    data.enum_token,
                    "`#[derive(SessionSchema)]` needs a struct with named fields, not an enum; \
                     for typed flash messages, put `#[flash_queue]` on the enum",
                );
                return None;
            }
            Data::Union(data) => {
                cx.error_spanned_by(
                    data.union_token,
                    "`#[derive(SessionSchema)]` needs a struct with named fields, not a union",
                );
                return None;
            }
        };
        let fields = named
            .named
            .iter()
            .map(|field| {
                let ident = field.ident.as_ref().expect("named fields have names");
                let attrs = attr::field(cx, &field.attrs);
                let key = match &attrs.rename {
                    Some(lit) => lit.value(),
                    None => ident.unraw().to_string(),
                };
                Field {
                    ident,
                    ty: &field.ty,
                    attrs,
                    key,
                }
            })
            .collect();
        Some(Schema {
            ident: &input.ident,
            vis: &input.vis,
            attrs,
            fields,
        })
    }
}

/// A `#[flash_queue]` enum.
pub(crate) struct FlashEnum<'a> {
    pub ident: &'a Ident,
    pub attrs: Container,
    pub variants: Vec<Variant<'a>>,
}

/// One variant: one flash queue.
pub(crate) struct Variant<'a> {
    pub ident: &'a Ident,
    /// The queue's name: the `queue` value, or the variant's name in snake case.
    pub queue: String,
    /// The `queue` literal, when there is one.
    pub queue_lit: Option<LitStr>,
    pub shape: Shape<'a>,
    /// The variant's fields, for errors about its shape.
    pub fields: &'a Fields,
}

/// What a variant carries, which decides its message.
pub(crate) enum Shape<'a> {
    /// `Success(String)`: the message is the value.
    Newtype(&'a Type),
    /// `Failure { code: u16, text: String }`: the message is a JSON object of the fields.
    Struct(Vec<Member<'a>>),
    /// A unit variant or `V()` / `V {}`: no message (rejected in `valid.rs`).
    Empty,
    /// `V(A, B)`: rejected in `valid.rs`.
    Tuple,
}

/// A named field of a struct variant: one member of the message object.
pub(crate) struct Member<'a> {
    pub ident: &'a Ident,
    pub ty: &'a Type,
}

impl Member<'_> {
    /// The member's name in the message: the field's name without `r#`.
    pub fn name(&self) -> String {
        self.ident.unraw().to_string()
    }
}

impl<'a> FlashEnum<'a> {
    pub fn from_syn(cx: &Ctxt, attrs: Container, item: &'a ItemEnum) -> Self {
        reject_generics(cx, &item.generics, "#[flash_queue]", "Success(String)");
        for field in item.variants.iter().flat_map(|variant| &variant.fields) {
            if let Some(flash) = field.attrs.iter().find(|attr| attr.path() == FLASH) {
                cx.error_spanned_by(flash, "`#[flash(...)]` goes on a variant, not on a field");
            }
        }
        let variants = item
            .variants
            .iter()
            .map(|variant| {
                let attrs = attr::variant(cx, &variant.attrs);
                let queue = match &attrs.queue {
                    Some(lit) => lit.value(),
                    None => snake_case(&variant.ident.unraw().to_string()),
                };
                let shape = match &variant.fields {
                    Fields::Unnamed(fields) if fields.unnamed.len() == 1 => {
                        Shape::Newtype(&fields.unnamed[0].ty)
                    }
                    Fields::Unnamed(fields) if fields.unnamed.is_empty() => Shape::Empty,
                    Fields::Unnamed(_) => Shape::Tuple,
                    Fields::Named(fields) if fields.named.is_empty() => Shape::Empty,
                    Fields::Named(fields) => Shape::Struct(
                        fields
                            .named
                            .iter()
                            .map(|field| Member {
                                ident: field.ident.as_ref().expect("named fields have names"),
                                ty: &field.ty,
                            })
                            .collect(),
                    ),
                    Fields::Unit => Shape::Empty,
                };
                Variant {
                    ident: &variant.ident,
                    queue,
                    queue_lit: attrs.queue,
                    shape,
                    fields: &variant.fields,
                }
            })
            .collect();
        FlashEnum {
            ident: &item.ident,
            attrs,
            variants,
        }
    }
}

/// Schemas and flash queues name concrete types: generic parameters are an error.
fn reject_generics(cx: &Ctxt, generics: &Generics, mac: &str, example: &str) {
    if !generics.params.is_empty() {
        cx.error_spanned_by(
            generics,
            format!(
                "`{mac}` does not support generic parameters: sessions store concrete types, \
                 so name them (`{example}`)"
            ),
        );
    }
}

/// The runtime crate's path: `crate = path`, or `::session`.
pub(crate) fn krate(attrs: &Container) -> Path {
    attrs
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::typed_sessions))
}
