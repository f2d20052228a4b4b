//! What an expansion with errors emits beside them: stubs that keep the user's other code
//! compiling, so the errors that matter are not buried under "no method named `cart`" and
//! "`Notice: Flash` is not satisfied".

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, ItemEnum};

use crate::accessor::{Accessor, Paths};
use crate::ast;
use crate::attr::{self, Container};
use crate::ctxt::Ctxt;
use crate::expand::{ext_trait, private};
use crate::symbol::FLASH;

/// `#[derive(SessionSchema)]` with errors: the errors, the extension trait with the accessors
/// of every named field (bodies that never run), and a stub `SessionSchema` impl.
pub(crate) fn schema(input: &DeriveInput, error: syn::Error) -> TokenStream {
    let error = error.into_compile_error();
    let private = private(&ast::krate(&lenient_container(input)));
    let ident = &input.ident;
    let vis = &input.vis;
    let ext = ext_trait(ident);
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let mut methods = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    if let Data::Struct(data) = &input.data
        && let Fields::Named(fields) = &data.fields
        && input.generics.params.is_empty()
    {
        let paths = Paths::full(&private);
        for field in &fields.named {
            let ident = field.ident.as_ref().expect("named fields have names");
            let name = syn::ext::IdentExt::unraw(ident).to_string();
            for accessor in Accessor::ALL {
                // Clashing names are reported already; one method each is enough here.
                if seen.insert(accessor.name(&name)) {
                    let signature = accessor.signature(ident, &field.ty, &paths);
                    let body = Accessor::stub_body();
                    methods.push(quote!(#signature { #body }));
                }
            }
        }
    }
    quote! {
        #error

        #[allow(unused_variables, missing_docs)]
        #vis trait #ext {
            #(#methods)*
        }

        #[allow(unused_variables)]
        const _: () = {
            impl #ext for #private::Session {}

            impl #impl_generics #private::SessionSchema for #ident #ty_generics #where_clause {
                const KEYS: &'static [&'static str] = &[];

                fn load(session: &#private::Session) -> ::core::result::Result<Self, #private::SessionError> {
                    ::core::unreachable!()
                }

                fn store(&self, session: &mut #private::Session) -> ::core::result::Result<(), #private::SessionError> {
                    ::core::unreachable!()
                }

                fn check(session: &#private::Session) -> #private::SchemaReport {
                    ::core::unreachable!()
                }
            }
        };
    }
}

/// The struct's `#[session(crate = ..)]`, ignoring its errors (they are reported already).
fn lenient_container(input: &DeriveInput) -> Container {
    let cx = Ctxt::new();
    let container = attr::container(&cx, &input.attrs);
    let _ = cx.check();
    container
}

/// The enum with our `#[flash(...)]` attributes removed from its variants and fields: they
/// are ours, and the compiler knows no `flash` attribute.
pub(crate) fn strip_flash_attrs(item: &ItemEnum) -> ItemEnum {
    let mut item = item.clone();
    for variant in &mut item.variants {
        variant.attrs.retain(|attr| attr.path() != FLASH);
        for field in &mut variant.fields {
            field.attrs.retain(|attr| attr.path() != FLASH);
        }
    }
    item
}

/// `#[flash_queue]` with errors: the errors, the enum as written (less our attributes), and
/// `Flash` / `FlashQueue` impls whose bodies never run.
pub(crate) fn flash_queue(item: &ItemEnum, attrs: &Container, error: syn::Error) -> TokenStream {
    let error = error.into_compile_error();
    let private = private(&ast::krate(attrs));
    let ident = &item.ident;
    let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
    quote! {
        #error

        #item

        const _: () = {
            impl #impl_generics #private::Flash for #ident #ty_generics #where_clause {
                fn queue(&self) -> &str {
                    ::core::unreachable!()
                }

                fn into_message(self) -> ::core::result::Result<#private::Value, #private::SessionError> {
                    ::core::unreachable!()
                }
            }

            impl #impl_generics #private::FlashQueue for #ident #ty_generics #where_clause {
                const QUEUES: &'static [&'static str] = &[];

                fn from_message(
                    queue: &str,
                    message: #private::Value,
                ) -> ::core::result::Result<Self, #private::SessionError> {
                    ::core::unreachable!()
                }
            }
        };
    }
}

/// An item `#[flash_queue]` cannot read: the item as written, and the error.
pub(crate) fn original(item: TokenStream, error: syn::Error) -> TokenStream {
    let error = error.into_compile_error();
    quote! {
        #error
        #item
    }
}
