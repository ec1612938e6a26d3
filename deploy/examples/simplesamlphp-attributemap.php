<?php

/**
 * Munjigi's attributes for a SimpleSAMLphp SP: copy this file to
 * simplesamlphp/attributemap/munjigi2name.php and map with it in the SP's
 * authsources.php entry (or config.php's authproc.sp):
 *
 *     'authproc' => [
 *         50 => ['class' => 'core:AttributeMap', 'munjigi2name'],
 *     ],
 *
 * It covers every attribute the gateway releases under each of its
 * attribute profiles (`attribute_profile` in the gateway's [sites.X.saml]):
 * "munjigi" (the default), "oid" and "basic", so the application sees the
 * same short names whichever the site uses. The values keep their profile's
 * syntax (dateOfBirth: YYYY-MM-DD; schacDateOfBirth: YYYYMMDD; gender:
 * male/female; schacGender: 1 male, 2 female). Attributes not listed pass
 * through unchanged.
 */
$attributemap = [
    // Every profile: the SAML V2.0 Subject Identifier Attributes Profile.
    'urn:oasis:names:tc:SAML:attribute:pairwise-id' => 'pairwise-id',

    // Profiles "munjigi" and "oid".
    'urn:munjigi:attribute:sub' => 'munjigi-sub',
    'urn:oid:2.16.840.1.113730.3.1.241' => 'displayName',
    'urn:munjigi:attribute:ci' => 'munjigi-ci',
    'urn:munjigi:attribute:provider' => 'munjigi-provider',
    'urn:munjigi:attribute:amr' => 'munjigi-amr',

    // Profile "munjigi" (the default).
    'urn:oid:1.3.6.1.5.5.7.9.1' => 'dateOfBirth',
    'urn:oid:1.3.6.1.5.5.7.9.3' => 'gender',
    'urn:oid:2.5.4.20' => 'telephoneNumber',

    // Profile "oid".
    'urn:oid:1.3.6.1.4.1.25178.1.2.3' => 'schacDateOfBirth',
    'urn:oid:1.3.6.1.4.1.25178.1.2.2' => 'schacGender',
    'urn:oid:0.9.2342.19200300.100.1.41' => 'mobile',

    // Profile "basic": the names are short already; these four are
    // renamed to match the other profiles.
    'sub' => 'munjigi-sub',
    'ci' => 'munjigi-ci',
    'provider' => 'munjigi-provider',
    'amr' => 'munjigi-amr',
];
