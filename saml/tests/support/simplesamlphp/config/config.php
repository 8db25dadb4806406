<?php
/*
 * SimpleSAMLphp (Debian package) as the test SAML identity provider of statuspulse-saml.
 * Started by saml/tests/support/idp.rs with `php -S 127.0.0.1:<port>` and these variables:
 *   SIMPLESAMLPHP_CONFIG_DIR   this directory
 *   SAMLIDP_BASE_URL           http://127.0.0.1:<port>   (no trailing slash)
 *   SAMLIDP_STATE_DIR          a throwaway directory for sessions, logs and temporary files
 *   SAMLIDP_SP_ENTITY_ID, SAMLIDP_SP_ACS_URL   the one service provider under test
 * Test-only: the secrets below protect nothing.
 */
$stateDir = getenv('SAMLIDP_STATE_DIR') ?: sys_get_temp_dir();

$config = [
    'baseurlpath' => getenv('SAMLIDP_BASE_URL') . '/',
    'certdir' => dirname(__DIR__) . '/cert/',
    'metadatadir' => dirname(__DIR__) . '/metadata/',
    'loggingdir' => $stateDir . '/',
    'datadir' => $stateDir . '/',
    'tempdir' => $stateDir . '/',
    'attributenamemapdir' => '/etc/simplesamlphp/attributemap/',
    'secretsalt' => 'statuspulse-saml-test-only-salt',
    'auth.adminpassword' => 'statuspulse-saml-test-only-admin',
    'technicalcontact_name' => 'StatusPulse tests',
    'technicalcontact_email' => 'tests@example.com',
    'timezone' => 'UTC',
    'admin.checkforupdates' => false,
    'showerrors' => true,
    'errorreporting' => false,
    // php -S writes error_log() to its stderr, which the test driver captures.
    'logging.handler' => 'errorlog',
    'logging.level' => SimpleSAML\Logger::WARNING,
    'enable.saml20-idp' => true,
    'module.enable' => ['exampleauth' => true, 'core' => true, 'saml' => true],
    'store.type' => 'phpsession',
    'session.phpsession.savepath' => $stateDir,
    // Plain HTTP on loopback: a Secure cookie would never come back.
    'session.cookie.secure' => false,
    'session.cookie.samesite' => null,
    'language.available' => ['en'],
    'language.default' => 'en',
];
