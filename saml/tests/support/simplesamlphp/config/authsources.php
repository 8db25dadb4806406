<?php
/*
 * Test users of the SimpleSAMLphp IdP. `authnContextClassRef` is not released as an attribute:
 * the IdP's authproc (metadata/saml20-idp-hosted.php) moves it into the assertion's
 * AuthnContextClassRef, so one user can sign in "with MFA" and the others with a password.
 */
$config = [
    'admin' => ['core:AdminPassword'],
    'users' => [
        'exampleauth:UserPass',
        'alice:alice-password' => [
            'uid' => ['alice'],
            'email' => ['alice@example.com'],
            'displayName' => ['Alice Example'],
            'groups' => ['engineering', 'statuspulse-admins'],
        ],
        'bob:bob-password' => [
            'uid' => ['bob'],
            'email' => ['bob@example.com'],
            'displayName' => ['Bob Example'],
            'groups' => ['support'],
            'authnContextClassRef' => ['urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract'],
        ],
    ],
];
