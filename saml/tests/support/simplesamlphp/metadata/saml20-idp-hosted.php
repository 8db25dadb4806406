<?php
/* The IdP itself: its entity ID is derived from the base URL the test driver chose. */
$metadata[getenv('SAMLIDP_BASE_URL') . '/saml2/idp/metadata.php'] = [
    'host' => '__DEFAULT__',
    'privatekey' => 'idp.key',
    'certificate' => 'idp.crt',
    'auth' => 'users',
    'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    'authproc' => [
        // Per-user AuthnContextClassRef (see config/authsources.php).
        10 => [
            'class' => 'core:PHP',
            'code' => '
                if (isset($attributes["authnContextClassRef"][0])) {
                    $state["saml:AuthnContextClassRef"] = $attributes["authnContextClassRef"][0];
                }
                unset($attributes["authnContextClassRef"]);
            ',
        ],
        // NameID in the email format the SP asks for.
        20 => [
            'class' => 'saml:AttributeNameID',
            'attribute' => 'email',
            'Format' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
        ],
    ],
];
