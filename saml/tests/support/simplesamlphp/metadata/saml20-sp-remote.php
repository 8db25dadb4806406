<?php
/* The one service provider under test, as the test driver describes it. */
$metadata[getenv('SAMLIDP_SP_ENTITY_ID')] = [
    'AssertionConsumerService' => getenv('SAMLIDP_SP_ACS_URL'),
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
    'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
    'saml20.sign.response' => true,
    'saml20.sign.assertion' => true,
];
