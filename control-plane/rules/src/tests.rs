// The messages are asserted in full: the API returns them and the server's
// own tests compare them byte for byte.

use super::*;

#[test]
fn store_name_accepts_rfc1035_labels_within_bounds() {
    let longest = "a".repeat(NAME_MAX_LEN);
    for ok in ["abc", "my-shop", "shop-2", "a1b", "a--b", "z9z", &longest] {
        assert_eq!(store_name(ok), Ok(()), "{ok:?}");
    }
}

#[test]
fn store_name_rejects_everything_else_with_the_api_wording() {
    let too_long = "a".repeat(NAME_MAX_LEN + 1);
    let cases = [
        ("", "is required"),
        ("ab", "must be 3 to 40 characters long (got 2)"),
        (&too_long, "must be 3 to 40 characters long (got 41)"),
        (
            "My-Shop",
            "may contain only lowercase letters, digits and '-' (found 'M')",
        ),
        (
            "shop_1",
            "may contain only lowercase letters, digits and '-' (found '_')",
        ),
        (
            "shop.eu",
            "may contain only lowercase letters, digits and '-' (found '.')",
        ),
        (
            "my shop",
            "may contain only lowercase letters, digits and '-' (found ' ')",
        ),
        (
            "shöp",
            "may contain only lowercase letters, digits and '-' (found 'ö')",
        ),
        // Debug formatting escapes the quote, as the server always did.
        (
            "it's",
            "may contain only lowercase letters, digits and '-' (found '\\'')",
        ),
        ("1shop", "must start with a lowercase letter"),
        ("-shop", "must start with a lowercase letter"),
        ("shop-", "must end with a letter or digit"),
    ];
    for (name, why) in cases {
        let err = store_name(name).expect_err(name);
        assert_eq!(err.to_string(), why, "{name:?}");
    }
}

#[test]
fn store_name_counts_characters_not_bytes() {
    // 'ö' is two bytes: "öö" is two characters, too short, before its
    // characters are looked at; forty of them fit the length.
    assert_eq!(store_name("öö"), Err(NameError::Length { chars: 2 }));
    let forty = "ö".repeat(NAME_MAX_LEN);
    assert_eq!(store_name(&forty), Err(NameError::Character('ö')));
}

#[test]
fn store_name_reports_the_first_broken_rule() {
    // Length before characters, characters before the first letter, the
    // first letter before the last.
    assert_eq!(store_name("A"), Err(NameError::Length { chars: 1 }));
    assert_eq!(store_name("1A-"), Err(NameError::Character('A')));
    assert_eq!(store_name("1a-"), Err(NameError::Start));
    assert_eq!(store_name("---"), Err(NameError::Start));
}

#[test]
fn tenant_id_accepts_resource_names_and_bare_ids() {
    assert_eq!(tenant_id("tenants/acme"), Ok("acme"));
    assert_eq!(tenant_id("acme"), Ok("acme"));
    assert_eq!(tenant_id("tenants/"), Err(NameError::Empty));
    assert_eq!(tenant_id("Acme Corp"), Err(NameError::Character('A')));
    // One prefix only, and only in lower case.
    assert_eq!(
        tenant_id("tenants/tenants/acme"),
        Err(NameError::Character('/'))
    );
    assert_eq!(tenant_id("Tenants/acme"), Err(NameError::Character('T')));
    assert_eq!(
        tenant_id("tenants/ab").unwrap_err().to_string(),
        "must be 3 to 40 characters long (got 2)"
    );
}

#[test]
fn request_id_takes_printable_ascii_up_to_the_limit() {
    let longest = "x".repeat(REQUEST_ID_MAX_LEN);
    for ok in [
        "",
        "8d9b7c1e-4a52-4c3e-9f1a-2b7d6e5f4a3c",
        "a/b:c~!",
        &longest,
    ] {
        assert_eq!(request_id(ok), Ok(()), "{ok:?}");
    }
}

#[test]
fn request_id_rejects_spaces_controls_non_ascii_and_overlong_keys() {
    for bad in ["has space", "tab\there", "line\n", "ünï"] {
        let err = request_id(bad).expect_err(bad);
        assert_eq!(
            err.to_string(),
            "may contain only printable ASCII characters without spaces",
            "{bad:?}"
        );
    }
    let err = request_id(&"x".repeat(REQUEST_ID_MAX_LEN + 1)).expect_err("129");
    assert_eq!(
        err.to_string(),
        "must be at most 128 characters long (got 129)"
    );
    // Bytes, not characters: 65 'ü' are 130 bytes.
    assert_eq!(
        request_id(&"ü".repeat(65)),
        Err(RequestIdError::TooLong { len: 130 })
    );
}

#[test]
fn custom_domains_are_full_lowercase_host_names_outside_the_platform_domain() {
    let platform = "stores.example.com";
    for good in [
        "shop.my-brand.com",
        "a.b",
        "xn--bcher-kva.example",
        "stores.example.com.evil.org",
        "myexample.com",
    ] {
        assert_eq!(custom_domain(good, platform), Ok(()), "{good}");
    }
    let cases = [
        ("", DomainError::Empty),
        ("localhost", DomainError::NoDot),
        ("Shop.example.com", DomainError::Character { found: 'S' }),
        ("*.example.com", DomainError::Character { found: '*' }),
        ("shop..example.com", DomainError::Label),
        ("shop.example.com.", DomainError::Label),
        ("-shop.example.com", DomainError::Hyphen),
        ("shop.example-.com", DomainError::Hyphen),
        ("10.0.0.1", DomainError::Numeric),
        ("stores.example.com", DomainError::Platform),
        ("other.stores.example.com", DomainError::Platform),
        ("a.b.stores.example.com", DomainError::Platform),
    ];
    for (bad, why) in cases {
        assert_eq!(custom_domain(bad, platform), Err(why), "{bad}");
    }
    let long = format!("{}.com", "a.".repeat(130));
    assert!(matches!(
        custom_domain(&long, platform),
        Err(DomainError::TooLong { .. })
    ));
    assert_eq!(
        custom_domain(&format!("{}.com", "a".repeat(64)), platform),
        Err(DomainError::Label)
    );
    // Without a platform domain only the shape is checked.
    assert_eq!(custom_domain("other.stores.example.com", ""), Ok(()));
    assert_eq!(
        DomainError::Platform.to_string(),
        "is under the platform's own domain, whose names belong to its stores"
    );
}

#[test]
fn a_list_of_domains_is_checked_entry_by_entry_and_by_length() {
    let list = ["a.example", "Bad", "a.example"];
    assert_eq!(listed_custom_domain(&list, 0, ""), Ok(()));
    assert_eq!(
        listed_custom_domain(&list, 1, ""),
        Err(ListedDomainError::Domain(DomainError::Character {
            found: 'B'
        }))
    );
    assert_eq!(
        listed_custom_domain(&list, 2, ""),
        Err(ListedDomainError::Duplicate)
    );
    assert_eq!(ListedDomainError::Duplicate.to_string(), "is listed twice");
    assert_eq!(custom_domain_count(MAX_CUSTOM_DOMAINS), Ok(()));
    assert_eq!(
        custom_domain_count(MAX_CUSTOM_DOMAINS + 1)
            .unwrap_err()
            .to_string(),
        "at most 10 custom domains per store (got 11)"
    );
}
