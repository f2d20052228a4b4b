//! The accessors a schema field gets: their names, signatures, docs and bodies, listed once
//! for validation (`valid.rs`), expansion (`expand.rs`) and the error stubs (`fallback.rs`).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Ident, Type};

/// One accessor of a field `cart: T`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accessor {
    /// `cart(&self) -> Result<T>`
    Get,
    /// `set_cart(&mut self, value: T) -> Result<()>`
    Set,
    /// `cart_mut(&mut self) -> Result<FieldMut<'_, T>>`
    Mut,
    /// `take_cart(&mut self) -> Result<T>`
    Take,
    /// `remove_cart(&mut self) -> bool`
    Remove,
}

/// How a signature spells the runtime's types: in full in the trait the user reads, through
/// short aliases in the impl hidden in the anonymous const.
pub(crate) struct Paths {
    result: TokenStream,
    /// The error type, or `None` when `result` is an alias that fixes it.
    error: Option<TokenStream>,
    field_mut: TokenStream,
}

impl Paths {
    /// The spelling in the trait: absolute paths.
    pub fn full(private: &TokenStream) -> Self {
        Self {
            result: quote!(::core::result::Result),
            error: Some(quote!(#private::SessionError)),
            field_mut: quote!(#private::FieldMut),
        }
    }

    /// The spelling in the impl: the aliases `expand.rs` declares in the anonymous const.
    pub fn aliased() -> Self {
        Self {
            result: quote!(__Result),
            error: None,
            field_mut: quote!(__FieldMut),
        }
    }

    fn result(&self, ok: TokenStream) -> TokenStream {
        let result = &self.result;
        match &self.error {
            Some(error) => quote!(#result<#ok, #error>),
            None => quote!(#result<#ok>),
        }
    }
}

impl Accessor {
    pub const ALL: [Accessor; 5] = [Self::Get, Self::Set, Self::Mut, Self::Take, Self::Remove];

    /// The method's name for a field named `field` (without `r#`).
    pub fn name(self, field: &str) -> String {
        match self {
            Self::Get => field.to_owned(),
            Self::Set => format!("set_{field}"),
            Self::Mut => format!("{field}_mut"),
            Self::Take => format!("take_{field}"),
            Self::Remove => format!("remove_{field}"),
        }
    }

    /// The method's identifier: the field's own identifier for the getter (so `r#type` stays
    /// raw), else the name spanned on the field.
    pub fn ident(self, field: &Ident) -> Ident {
        match self {
            Self::Get => field.clone(),
            _ => {
                let name = syn::ext::IdentExt::unraw(field).to_string();
                format_ident!("{}", self.name(&name), span = field.span())
            }
        }
    }

    /// `fn name(receiver, args) -> output`, without a body.
    pub fn signature(self, field: &Ident, ty: &Type, paths: &Paths) -> TokenStream {
        let name = self.ident(field);
        let field_mut = &paths.field_mut;
        match self {
            Self::Get => {
                let output = paths.result(quote!(#ty));
                quote!(fn #name(&self) -> #output)
            }
            Self::Set => {
                let output = paths.result(quote!(()));
                quote!(fn #name(&mut self, value: #ty) -> #output)
            }
            Self::Mut => {
                let output = paths.result(quote!(#field_mut<'_, #ty>));
                quote!(fn #name(&mut self) -> #output)
            }
            Self::Take => {
                let output = paths.result(quote!(#ty));
                quote!(fn #name(&mut self) -> #output)
            }
            Self::Remove => quote!(fn #name(&mut self) -> bool),
        }
    }

    /// The body: one call on the field's `__private::Field` const.
    pub fn body(self, field_const: &Ident) -> TokenStream {
        match self {
            Self::Get => quote!(#field_const.read(self)),
            Self::Set => quote!(#field_const.write(self, &value)),
            Self::Mut => quote!(#field_const.guard(self)),
            Self::Take => quote!(#field_const.take(self)),
            Self::Remove => quote!(#field_const.remove(self)),
        }
    }

    /// The method's rustdoc, for field `name` stored under `key`; `rules` says what a
    /// missing key and a value of another type read as, `conflict` what a save does when
    /// another request changed the key (for the accessors that write).
    pub fn doc(self, name: &str, key: &str, rules: &str, conflict: &str) -> String {
        match self {
            Self::Get => format!("Reads `{name}` from session key `\"{key}\"`. {rules}"),
            Self::Set => {
                format!(
                    "Stores `{name}` under session key `\"{key}\"` and marks the session \
                     changed.{conflict}"
                )
            }
            Self::Mut => format!(
                "A guard over `{name}` (session key `\"{key}\"`) that writes it back and marks \
                 the session changed when dropped, if it was borrowed mutably. \
                 {rules}{conflict}"
            ),
            Self::Take => format!(
                "Removes `{name}` (session key `\"{key}\"`, and its older keys) and returns \
                 it. {rules}{conflict}"
            ),
            Self::Remove => format!(
                "Removes session key `\"{key}\"` (`{name}`), whatever it holds; returns whether \
                 it was there.{conflict}"
            ),
        }
    }

    /// A stub body for the error fallback: never runs.
    pub fn stub_body() -> TokenStream {
        quote!(::core::unreachable!())
    }
}
