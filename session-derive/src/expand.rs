//! The generated code. Every body is a one-line call into `session::__private`, where the
//! logic lives once; what grows with the number of fields is signatures and docs.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, ItemEnum};

use crate::ast::{self, FlashEnum, Schema, Shape};
use crate::ctxt::Ctxt;
use crate::valid::{self, MapKey};
use crate::{attr, fallback};

/// `#[derive(SessionSchema)]`: the errors, or the extension trait and the impls.
pub(crate) fn schema(input: &DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let schema = Schema::from_syn(&cx, input);
    if let Some(schema) = &schema {
        valid::check_schema(&cx, schema);
    }
    cx.check()?;
    Ok(expand_schema(&schema.expect("no errors, so a schema")))
}

fn expand_schema(schema: &Schema) -> TokenStream {
    let ident = schema.ident;
    let vis = schema.vis;
    let private = private(&ast::krate(&schema.attrs));
    let ext = ext_trait(ident);
    let result = quote!(::core::result::Result);
    let error = quote!(#private::SessionError);

    let mut decls = Vec::new();
    let mut impls = Vec::new();
    let mut consts = Vec::new();
    let mut key_asserts = Vec::new();
    for (i, field) in schema.fields.iter().enumerate() {
        let ty = field.ty;
        let key = &field.key;
        let field_const = format_ident!("__FIELD_{}", i);
        let mut init = quote_spanned!(ty.span()=> #private::field::<#ty>(#key));
        if field.attrs.default.is_some() {
            init = quote_spanned!(ty.span()=>
                #init.or_default(<#ty as ::core::default::Default>::default)
            );
        }
        consts.push(quote!(const #field_const: #private::Field<#ty> = #init;));
        for key_ty in valid::map_keys(ty) {
            if let MapKey::Assert = valid::map_key(key_ty) {
                key_asserts.push(quote_spanned!(key_ty.span()=>
                    #private::assert_json_key::<#key_ty>();
                ));
            }
        }

        let name = field.name();
        let [_, set, get_mut, take, remove] = valid::accessor_names(&name)
            .map(|method| format_ident!("{}", method, span = field.ident.span()));
        let get = field.ident;
        let missing = if field.attrs.default.is_some() {
            "A missing key reads as `Default::default()`."
        } else {
            "A missing key reads as `None` for an `Option`, and is an error otherwise."
        };
        let doc_get = format!(
            "Reads `{name}` from session key `\"{key}\"`. {missing} A value of another type is \
             an error that names the key; it stays in the session."
        );
        let doc_set =
            format!("Stores `{name}` under session key `\"{key}\"` and marks the session changed.");
        let doc_mut = format!(
            "A guard over `{name}` (session key `\"{key}\"`) that writes it back and marks the \
             session changed when dropped, if it was borrowed mutably. {missing}"
        );
        let doc_take = format!(
            "Removes `{name}` (session key `\"{key}\"`) and returns it. {missing} A value of \
             another type is an error and stays in the session."
        );
        let doc_remove = format!(
            "Removes session key `\"{key}\"` (`{name}`), whatever it holds; returns whether it \
             was there."
        );
        // The trait spells its types out in full, for the user's docs; the impl, inside the
        // anonymous const, uses short local aliases of the same types.
        let methods = [
            (
                doc_get,
                quote!(fn #get(&self) -> #result<#ty, #error>),
                quote!(fn #get(&self) -> __Result<#ty>),
                quote!(#field_const.read(self)),
            ),
            (
                doc_set,
                quote!(fn #set(&mut self, value: #ty) -> #result<(), #error>),
                quote!(fn #set(&mut self, value: #ty) -> __Result<()>),
                quote!(#field_const.write(self, &value)),
            ),
            (
                doc_mut,
                quote!(fn #get_mut(&mut self) -> #result<#private::FieldMut<'_, #ty>, #error>),
                quote!(fn #get_mut(&mut self) -> __Result<__FieldMut<'_, #ty>>),
                quote!(#field_const.guard(self)),
            ),
            (
                doc_take,
                quote!(fn #take(&mut self) -> #result<#ty, #error>),
                quote!(fn #take(&mut self) -> __Result<#ty>),
                quote!(#field_const.take(self)),
            ),
            (
                doc_remove,
                quote!(fn #remove(&mut self) -> bool),
                quote!(fn #remove(&mut self) -> bool),
                quote!(#field_const.remove(self)),
            ),
        ];
        for (doc, declaration, signature, body) in methods {
            decls.push(quote!(#[doc = #doc] #declaration;));
            impls.push(quote!(#signature { #body }));
        }
    }

    let consts = &consts;
    let field_idents: Vec<_> = schema.fields.iter().map(|field| field.ident).collect();
    let field_consts: Vec<_> = (0..schema.fields.len())
        .map(|i| format_ident!("__FIELD_{}", i))
        .collect();
    let keys = schema.fields.iter().map(|field| &field.key);
    let key_asserts = (!key_asserts.is_empty()).then(|| {
        quote! {
            const _: fn() = || {
                #(#key_asserts)*
            };
        }
    });
    let trait_doc = format!(
        "Typed accessors for the session keys of [`{ident}`], generated by \
         `#[derive(SessionSchema)]` and implemented for `session::Session`: bring the trait into \
         scope and call them on a session, or on anything that derefs to one."
    );

    quote! {
        #[doc = #trait_doc]
        #vis trait #ext {
            #(#decls)*
        }

        #[allow(non_upper_case_globals)]
        const _: () = {
            type __Result<T> = #result<T, #error>;
            type __FieldMut<'a, T> = #private::FieldMut<'a, T>;
            type __Session = #private::Session;

            #(#consts)*
            #key_asserts

            #[automatically_derived]
            impl #ext for __Session {
                #(#impls)*
            }

            #[automatically_derived]
            impl #private::SessionSchema for #ident {
                const KEYS: &'static [&'static str] = &[#(#keys),*];

                fn load(session: &__Session) -> __Result<Self> {
                    #result::Ok(Self {
                        #(#field_idents: #field_consts.read(session)?,)*
                    })
                }

                fn store(&self, session: &mut __Session) -> __Result<()> {
                    #private::store(session, [#(#field_consts.encode(&self.#field_idents)),*])
                }
            }
        };
    }
}

/// `#[flash_queue]`: the enum without our attributes, and its `Flash` and `FlashQueue`
/// impls; on error, the enum and stub impls beside the errors.
pub(crate) fn flash_queue(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let item: ItemEnum = match syn::parse2(item.clone()) {
        Ok(item) => item,
        Err(_) => return Err(not_an_enum(item)),
    };
    let cx = Ctxt::new();
    let attrs = attr::flash_queue_args(&cx, args);
    let flash = FlashEnum::from_syn(&cx, attrs, &item);
    valid::check_flash_queue(&cx, &flash);
    let stripped = fallback::strip_flash_attrs(&item);
    match cx.check() {
        Ok(()) => Ok(expand_flash_queue(&stripped, &flash)),
        Err(err) => Ok(fallback::flash_queue(&stripped, &flash.attrs, err)),
    }
}

/// The error for an item that is not an enum, on its keyword when it has one.
fn not_an_enum(item: TokenStream) -> syn::Error {
    let message = "`#[flash_queue]` goes on an enum whose variants are flash queues: \
                   `enum Notice { Success(String), Error(String) }`";
    match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Struct(item)) => syn::Error::new_spanned(item.struct_token, message),
        Ok(syn::Item::Union(item)) => syn::Error::new_spanned(item.union_token, message),
        Ok(syn::Item::Fn(item)) => syn::Error::new_spanned(item.sig.fn_token, message),
        Ok(syn::Item::Trait(item)) => syn::Error::new_spanned(item.trait_token, message),
        Ok(syn::Item::Type(item)) => syn::Error::new_spanned(item.type_token, message),
        _ => syn::Error::new_spanned(item, message),
    }
}

fn expand_flash_queue(item: &ItemEnum, flash: &FlashEnum) -> TokenStream {
    let ident = flash.ident;
    let private = private(&ast::krate(&flash.attrs));
    let result = quote!(::core::result::Result);
    let error = quote!(#private::SessionError);

    let mut consts = Vec::new();
    let mut queue_arms = Vec::new();
    let mut message_arms = Vec::new();
    let mut decode_arms = Vec::new();
    for (v, variant) in flash.variants.iter().enumerate() {
        let name = variant.ident;
        let queue = &variant.queue;
        let expected = format!("{ident}::{name}");
        queue_arms.push(quote!(Self::#name { .. } => #queue,));
        let mut codec = |m: usize, ty: &syn::Type| {
            let codec_const = format_ident!("__PAYLOAD_{}_{}", v, m);
            let init = quote_spanned!(ty.span()=> #private::codec::<#ty>());
            consts.push(quote!(const #codec_const: #private::Codec<#ty> = #init;));
            codec_const
        };
        match &variant.shape {
            Shape::Newtype(ty) => {
                let codec_const = codec(0, ty);
                message_arms.push(quote! {
                    Self::#name(__value) => #codec_const.message(#queue, &__value),
                });
                decode_arms.push(quote! {
                    #queue => #private::decode(queue, #expected, #codec_const.decode(message).map(Self::#name)),
                });
            }
            Shape::Struct(members) => {
                let idents: Vec<_> = members.iter().map(|member| member.ident).collect();
                let names: Vec<_> = members.iter().map(ast::Member::name).collect();
                let bindings: Vec<_> = (0..members.len())
                    .map(|m| format_ident!("__value{}", m))
                    .collect();
                let codecs: Vec<_> = members
                    .iter()
                    .enumerate()
                    .map(|(m, member)| codec(m, member.ty))
                    .collect();
                message_arms.push(quote! {
                    Self::#name { #(#idents: #bindings),* } => #private::object_message(#queue, |__object| {
                        #(#codecs.member(__object, #names, &#bindings)?;)*
                        #result::Ok(())
                    }),
                });
                decode_arms.push(quote! {
                    #queue => #private::decode_object(queue, #expected, message, |__object| {
                        #result::Ok(Self::#name {
                            #(#idents: #codecs.take_member(__object, #names)?,)*
                        })
                    }),
                });
            }
            Shape::Empty | Shape::Tuple => unreachable!("rejected in valid.rs"),
        }
    }
    let queues = flash.variants.iter().map(|variant| &variant.queue);
    let enum_name = ident.to_string();

    quote! {
        #item

        #[allow(non_upper_case_globals)]
        const _: () = {
            #(#consts)*

            #[automatically_derived]
            impl #private::Flash for #ident {
                fn queue(&self) -> &str {
                    match self {
                        #(#queue_arms)*
                    }
                }

                fn into_message(self) -> #result<#private::Value, #error> {
                    match self {
                        #(#message_arms)*
                    }
                }
            }

            #[automatically_derived]
            impl #private::FlashQueue for #ident {
                const QUEUES: &'static [&'static str] = &[#(#queues),*];

                fn from_message(queue: &str, message: #private::Value) -> #result<Self, #error> {
                    match queue {
                        #(#decode_arms)*
                        _ => #result::Err(#private::unknown_queue(queue, #enum_name)),
                    }
                }
            }
        };
    }
}

/// `path::__private`, where generated code finds the runtime.
pub(crate) fn private(krate: &syn::Path) -> TokenStream {
    quote!(#krate::__private)
}

/// The extension trait of a schema: `Shop` -> `ShopExt`.
pub(crate) fn ext_trait(ident: &syn::Ident) -> syn::Ident {
    format_ident!("{}Ext", ident)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::process::{Command, Stdio};

    use quote::{format_ident, quote};

    /// The expansion of a schema with `n` fields of assorted types, formatted by rustfmt when
    /// it is installed (as it is with every rustup toolchain), else counted in statements.
    /// With `DUMP_EXPANSION=/tmp/x`, the formatted text goes to `/tmp/x.<n>.rs` to read.
    fn expansion_lines(n: usize) -> usize {
        let fields = (0..n).map(|i| {
            let name = format_ident!("field_{}", i);
            let key = format!("key_{i}");
            match i % 3 {
                0 => quote!(#[session(default)] #name: Vec<Item>),
                1 => quote!(#name: Option<u64>),
                _ => quote!(#[session(rename = #key)] #name: String),
            }
        });
        let input: syn::DeriveInput = syn::parse_quote!(pub struct Shop { #(#fields,)* });
        let tokens = super::schema(&input).expect("a valid schema").to_string();
        let formatted = Command::new("rustfmt")
            .args(["--edition", "2024", "--emit", "stdout"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()
            .and_then(|mut child| {
                child.stdin.take()?.write_all(tokens.as_bytes()).ok()?;
                let output = child.wait_with_output().ok()?;
                output.status.success().then_some(output.stdout)
            });
        if let (Some(text), Ok(path)) = (&formatted, std::env::var("DUMP_EXPANSION")) {
            std::fs::write(format!("{path}.{n}.rs"), text).unwrap();
        }
        match formatted {
            Some(text) => String::from_utf8(text).unwrap().lines().count(),
            None => tokens.matches(';').count() + tokens.matches('}').count(),
        }
    }

    /// A field costs its five signatures, their docs, five one-line bodies, one `const` and
    /// one line each in `load` and `store`; never a copy of the accessor logic. Run with
    /// `--nocapture` to see the numbers.
    #[test]
    fn a_field_costs_a_fixed_handful_of_lines() {
        let one = expansion_lines(1);
        let twenty = expansion_lines(20);
        let per_field = (twenty - one) as f64 / 19.0;
        println!(
            "expansion: 1 field {one} lines, 20 fields {twenty} lines, {per_field:.1} per field"
        );
        assert!(per_field <= 45.0, "{per_field} lines per field");
    }
}
