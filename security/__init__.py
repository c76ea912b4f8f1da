"""The security gate: checkov over the synthesis and every workspace's plan (`make scan`)."""
