//! The generated code. Every body is a one-line call into `typed_sessions::__private`, where the
//! logic lives once; what grows with the number of fields is signatures and docs.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, ItemEnum};

use crate::accessor::{Accessor, Paths};
use crate::ast::{self, ConflictPolicy, FlashEnum, Schema, Shape};
use crate::attr::OnWrongType;
use crate::ctxt::Ctxt;
use crate::valid::{self, MapKey};
use crate::{attr, fallback};

/// `#[derive(SessionSchema)]`: the extension trait and the impls, or, when the input has
/// errors, the errors beside stubs.
pub(crate) fn derive_schema(input: &DeriveInput) -> TokenStream {
    try_derive_schema(input).unwrap_or_else(|err| fallback::schema(input, err))
}

fn try_derive_schema(input: &DeriveInput) -> syn::Result<TokenStream> {
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
    let (full, aliased) = (Paths::full(&private), Paths::aliased());

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
        if !field.attrs.aliases.is_empty() {
            let aliases = &field.attrs.aliases;
            init = quote!(#init.aliases(&[#(#aliases),*]));
        }
        if let Some(path) = &field.attrs.migrate {
            // A named function, so that a `migrate` of the wrong signature is an error on
            // the user's path.
            let migrate = format_ident!("__migrate_{}", i);
            consts.push(quote_spanned!(path.span()=>
                fn #migrate(value: #private::Value) -> #result<#ty, #private::String> {
                    #private::migrated(#path(value))
                }
            ));
            init = quote!(#init.migrate(#migrate));
        }
        let on_wrong_type = field.on_wrong_type(&schema.attrs);
        if on_wrong_type == OnWrongType::Error {
            init = quote!(#init.on_wrong_type(#private::OnWrongType::Error));
        }
        let conflict = field.conflict_policy(&schema.attrs);
        match conflict {
            ConflictPolicy::Overwrite => {}
            ConflictPolicy::Reject => init = quote!(#init.reject_conflicts()),
            ConflictPolicy::Merge(path) => {
                // A named function, as for `migrate`, spanned on the user's path: the
                // coercion to `fn(T, T, T) -> T` puts a wrong signature's error there.
                let merge = format_ident!("__merge_{}", i);
                let text = quote!(::core::option::Option<&str>);
                consts.push(quote_spanned!(path.span()=>
                    fn #merge(__base: #text, __ours: #text, __theirs: #text)
                        -> #result<::core::option::Option<#private::String>, #error> {
                        type __Merge = fn(#ty, #ty, #ty) -> #ty;
                        let __merge: __Merge = #path;
                        #private::merge(&#field_const, __merge, __base, __ours, __theirs)
                    }
                ));
                init = quote!(#init.merge_conflicts(#merge));
            }
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
        let rules = reading_rules(field, on_wrong_type);
        let conflict = conflict_rule(&conflict);
        for accessor in Accessor::ALL {
            let doc = accessor.doc(&name, key, &rules, &conflict);
            let declaration = accessor.signature(field.ident, ty, &full);
            let signature = accessor.signature(field.ident, ty, &aliased);
            let body = accessor.body(&field_const);
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
    let aliases: Vec<_> = schema
        .fields
        .iter()
        .flat_map(|field| &field.attrs.aliases)
        .collect();
    let aliases_const = (!aliases.is_empty())
        .then(|| quote!(const ALIASES: &'static [&'static str] = &[#(#aliases),*];));
    let schema_name = ident.to_string();
    let key_asserts = (!key_asserts.is_empty()).then(|| {
        quote! {
            const _: fn() = || {
                #(#key_asserts)*
            };
        }
    });
    let trait_doc = format!(
        "Typed accessors for the session keys of [`{ident}`], generated by \
         `#[derive(SessionSchema)]` and implemented for `typed_sessions::Session`: bring the trait into \
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
                #aliases_const

                fn load(session: &__Session) -> __Result<Self> {
                    #result::Ok(Self {
                        #(#field_idents: #field_consts.read(session)?,)*
                    })
                }

                fn store(&self, session: &mut __Session) -> __Result<()> {
                    #private::store(session, [#(#field_consts.encode(&self.#field_idents)),*])
                }

                fn check(session: &__Session) -> #private::SchemaReport {
                    #private::report(#schema_name, [#(#field_consts.check(session)),*])
                }
            }
        };
    }
}

/// The accessors' docs on what a missing key and a value of another type read as.
fn reading_rules(field: &ast::Field, on_wrong_type: OnWrongType) -> String {
    let missing = if field.attrs.default.is_some() {
        "A missing key reads as `Default::default()`."
    } else {
        "A missing key reads as `None` for an `Option`, and is an error otherwise."
    };
    let aliases: Vec<String> = field
        .attrs
        .aliases
        .iter()
        .map(|lit| format!("`\"{}\"`", lit.value()))
        .collect();
    let older = if aliases.is_empty() {
        String::new()
    } else {
        format!(
            " When it is absent, the older keys {} are read.",
            aliases.join(", ")
        )
    };
    let migrate = match &field.attrs.migrate {
        Some(path) => format!(
            " A value of another type is first read by `{}`.",
            quote!(#path).to_string().replace(' ', "")
        ),
        None => String::new(),
    };
    let wrong = match on_wrong_type {
        OnWrongType::Error => {
            " A value that does not decode is an error naming the key; it stays in the session."
        }
        OnWrongType::Ignore => {
            " A value that does not decode reads as missing, with a warning naming the key; it \
             stays in the session until the field is written."
        }
    };
    format!("{missing}{older}{migrate}{wrong}")
}

/// The writing accessors' docs on what a server-side save does when another request changed
/// the key meanwhile; empty when the last save wins, as for any key.
fn conflict_rule(policy: &ConflictPolicy) -> String {
    match policy {
        ConflictPolicy::Overwrite => String::new(),
        ConflictPolicy::Reject => " If another request changed the key since this one loaded \
             the session, a server-side save fails with `409 Conflict` and writes nothing."
            .to_owned(),
        ConflictPolicy::Merge(path) => format!(
            " If another request changed the key since this one loaded the session, a \
             server-side save writes `{}(loaded, this request's, stored now)`.",
            quote!(#path).to_string().replace(' ', "")
        ),
    }
}

/// `#[flash_queue]`: the enum without our attributes, and its `Flash` and `FlashQueue`
/// impls; with errors, the errors beside the enum and stub impls.
pub(crate) fn flash_queue(args: TokenStream, item: TokenStream) -> TokenStream {
    let Ok(item) = syn::parse2::<ItemEnum>(item.clone()) else {
        let error = not_an_enum(&item);
        return fallback::original(item, error);
    };
    let cx = Ctxt::new();
    let attrs = attr::flash_queue_args(&cx, args);
    let flash = FlashEnum::from_syn(&cx, attrs, &item);
    valid::check_flash_queue(&cx, &flash);
    let stripped = fallback::strip_flash_attrs(&item);
    match cx.check() {
        Ok(()) => expand_flash_queue(&stripped, &flash),
        Err(err) => fallback::flash_queue(&stripped, &flash.attrs, err),
    }
}

/// The error for an item that is not an enum, on its keyword when it has one.
fn not_an_enum(item: &TokenStream) -> syn::Error {
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
            let init = quote_spanned!(ty.span()=> #private::json_fns::<#ty>());
            consts.push(quote!(const #codec_const: #private::JsonFns<#ty> = #init;));
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
    let on_wrong_type = (flash.attrs.on_wrong_type == Some(OnWrongType::Error)).then(
        || quote!(const ON_WRONG_TYPE: #private::OnWrongType = #private::OnWrongType::Error;),
    );
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
                #on_wrong_type

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
    use quote::{format_ident, quote};

    /// Lines of expansion per field, as the README quotes it: the bound of
    /// [`a_field_costs_a_fixed_handful_of_lines`].
    const LINES_PER_FIELD: f64 = 45.0;

    /// The expansion of a schema with `n` fields of assorted types, in lines as prettyplease
    /// formats it (the same on every machine, unlike an installed rustfmt). With
    /// `DUMP_EXPANSION=/tmp/x`, the formatted text goes to `/tmp/x.<n>.rs` to read.
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
        let tokens = super::try_derive_schema(&input).expect("a valid schema");
        let file: syn::File = syn::parse2(tokens).expect("the expansion parses as items");
        let text = prettyplease::unparse(&file);
        if let Ok(path) = std::env::var("DUMP_EXPANSION") {
            std::fs::write(format!("{path}.{n}.rs"), &text).unwrap();
        }
        text.lines().count()
    }

    /// The expansion of `input`, as prettyplease formats it.
    fn expand(input: syn::DeriveInput) -> String {
        let tokens = super::try_derive_schema(&input).expect("a valid schema");
        prettyplease::unparse(&syn::parse2(tokens).expect("the expansion parses as items"))
    }

    /// Each field gets its own policy, or the struct's: a merge through a named wrapper of
    /// the user's function, `reject` chained on the field's const, `overwrite` nothing; and
    /// the writing accessors' docs say which.
    #[test]
    fn conflict_policies_reach_the_field_consts_and_the_docs() {
        let text = expand(syn::parse_quote! {
            #[session(on_conflict = "reject")]
            struct Shop {
                #[session(default, merge = merges::cart)]
                cart: Vec<u32>,
                user: Option<String>,
                #[session(on_conflict = "overwrite")]
                theme: Option<String>,
            }
        });
        let field = |n: usize| {
            let start = text.find(&format!("const __FIELD_{n}")).unwrap();
            &text[start..start + text[start..].find(';').unwrap()]
        };
        assert!(
            field(0).contains(".merge_conflicts(__merge_0)"),
            "{}",
            field(0)
        );
        assert!(text.contains("merges::cart"), "the user's path is called");
        assert!(field(1).contains(".reject_conflicts()"), "{}", field(1));
        assert!(!field(2).contains("conflicts"), "{}", field(2));
        assert!(text.contains("a server-side save writes `merges::cart(loaded"));
        let rejects = "a server-side save fails with `409 Conflict`";
        // `user`'s set, mut, take and remove docs.
        assert_eq!(text.matches(rejects).count(), 4, "{text}");
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
        assert!(
            per_field <= LINES_PER_FIELD,
            "{per_field} lines per field, more than {LINES_PER_FIELD}"
        );
    }
}
