# Audit sinks are imported by id, or by name as `name:<name>`. Secrets are never readable: an
# imported sink has none in state. A webhook secret then set in the configuration is sent by the
# next apply, which rotates it; leave it out to keep the current one.
terraform import statuspulse_audit_sink.siem snk_01J8Z3K4M5N6P7Q8R9S0T1V2W3
terraform import statuspulse_audit_sink.cloudwatch name:cloudwatch-audit
